//! A real out-of-memory death (fixtures/scenarios/oom.js pushes LeakyThing objects into
//! globalThis.leaked until V8 gives up): the leaking array's length, read through the global
//! object, equals the LeakyThing instances findjsobjects counts, and every element is one of them.

use std::collections::HashSet;
use v8core::heap::index::no_progress;
use v8core::inspect::{Inspector, Limits};
use v8core::meta::kinds::Kind;
use v8core::objects::census::Scope;
use v8core::objects::reader::{Elements, Key};
use v8core::{Heap, OpenOptions, Process};
use v8dump_testkit::{fixture, MAJORS};

#[test]
fn leaking_array_length_equals_the_leaked_instances() {
    for major in MAJORS {
        let f = fixture("oom", major);
        let p = Process::open(&f.core, &OpenOptions::default()).unwrap();
        let heap = Heap::load(p, &no_progress);
        let r = heap.reader();
        let leaked = (0..heap.index.len())
            .filter(|&i| heap.index.kind(&heap.p, i) == Kind::JSGlobalObject)
            .find_map(|i| {
                r.own_properties(heap.index.tagged(i), 100_000)?
                    .into_iter()
                    .find(|p| p.key == Key::Name("leaked".into()))
                    .map(|p| p.value)
            })
            .unwrap_or_else(|| panic!("node{major}: no global object with a `leaked` property"));
        let v = Inspector::new(&heap, Limits::default()).value(leaked);
        assert_eq!(v.kind.as_str(), "array", "node{major}");
        let length = v.length.expect("array length");
        let census = heap.census(Scope::Reachable, false);
        let row = census
            .iter()
            .find(|r| r.name == "LeakyThing")
            .unwrap_or_else(|| panic!("node{major}: no LeakyThing in the census"));
        let instances: HashSet<u64> = heap
            .instances("LeakyThing", Scope::Reachable)
            .into_iter()
            .map(|i| heap.index.tagged(i))
            .collect();
        assert_eq!(instances.len() as u64, row.count);
        let Some(Elements::Tagged { values, .. }) = r.elements(leaked, length as usize) else {
            panic!("node{major}: elements of the leaked array unreadable");
        };
        let missing = values[..length as usize]
            .iter()
            .filter(|w| !instances.contains(w))
            .count();
        assert_eq!(
            missing, 0,
            "node{major}: array elements that findjsobjects did not count"
        );
        // The array holds `length` of them; at most one more was constructed and not yet pushed
        // when the allocation failed (held only by the stack or a register).
        assert!(
            row.count == length || row.count == length + 1,
            "node{major}: leaked array length {length}, LeakyThing instances {}",
            row.count
        );
        assert!(
            length > 100_000,
            "node{major}: the heap should have filled up"
        );
    }
}
