//! glibc's heaps in real cores (elfcore::malloc) checked with what V8 knows: the 64 KiB
//! backing stores of buffer_registry's Buffers (`Upload.data`) are live native memory, so none lies in a chunk
//! the walk calls free; and since freed malloc memory is left out of the root scan, what the
//! scenario holds in one array is dominated by that array alone (duplicate_strings: a freed
//! collector worklist held pointers to some of its objects).

use elfcore::malloc::{HeapKind, Malloc};
use v8core::objects::census::Scope;
use v8core::{OpenOptions, Session};
use v8dump_testkit::{fixture, MAJORS};

#[test]
fn live_backing_stores_are_never_in_free_chunks() {
    for major in MAJORS {
        let f = fixture("buffer_registry", major);
        let s = Session::open(&f.core, &OpenOptions::default()).unwrap();
        let m = Malloc::scan(s.process().dump());
        assert!(
            m.heaps.iter().any(|h| h.kind == HeapKind::Main),
            "node{major}: no main arena heap among {:?}",
            m.heaps
        );
        assert!(m.free_bytes() > 0, "node{major}");
        let h = s.heap();
        let r = h.reader();
        let fl = &h.p.fields;
        let each = f.stats["extra"]["bytes_each"].as_u64().unwrap();
        // Upload.data is the Buffer; its ArrayBuffer holds the store.
        let stores: Vec<u64> = h
            .instances("Upload", Scope::Reachable)
            .into_iter()
            .filter_map(|i| r.own_data_property(h.index.tagged(i), |k| r.string_eq(k, "data")))
            .filter_map(|view| r.slot(view, fl.view_buffer))
            .filter(|&b| r.slot(b, fl.array_buffer_byte_length) == Some(each))
            .filter_map(|b| r.slot(b, fl.array_buffer_backing_store))
            .collect();
        assert_eq!(
            stores.len() as u64,
            f.stats["extra"]["uploads"].as_u64().unwrap(),
            "node{major}: one 64 KiB store per upload"
        );
        for st in stores {
            assert!(!m.is_free(st), "node{major}: store {st:#x} in a free chunk");
            assert!(
                !m.is_free(st + each - 1),
                "node{major}: end of {st:#x} in a free chunk"
            );
        }
    }
}

#[test]
fn stale_pointers_in_freed_memory_do_not_steal_domination() {
    for major in MAJORS {
        let f = fixture("duplicate_strings", major);
        let s = Session::open(&f.core, &OpenOptions::default()).unwrap();
        let h = s.heap();
        let d = s.dominators();
        let requests = f.stats["extra"]["requests"].as_u64().unwrap();
        // The log's objects: every "Object" whose idom is the log's elements store.
        let objs = h.instances("Object", Scope::Reachable);
        let mut by_idom: std::collections::HashMap<usize, u64> = Default::default();
        for &o in &objs {
            if let Some(p) = d.idom(o) {
                *by_idom.entry(p).or_default() += 1;
            }
        }
        let most = by_idom.values().copied().max().unwrap_or(0);
        assert_eq!(
            most, requests,
            "node{major}: one holder dominates all logged objects"
        );
        assert!(h.marking.stale_skipped > 0, "node{major}");
    }
}
