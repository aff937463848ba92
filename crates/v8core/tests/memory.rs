//! `memory` on real cores, checked against Node's own `process.memoryUsage()` (taken last,
//! just before the abort, by the fixtures' harness), and the heap's limits against the
//! `--max-old-space-size` the scenario ran with.

use v8core::{OpenOptions, Session};
use v8dump_testkit::{fixture, MAJORS};

fn usage(f: &v8dump_testkit::Fixture, key: &str) -> u64 {
    f.stats["memoryUsage"][key]
        .as_f64()
        .unwrap_or_else(|| panic!("{}: stats.json has no memoryUsage.{key}", f.dir.display()))
        as u64
}

fn within(what: &str, ours: u64, node: u64, pct: f64) {
    let off = (ours as f64 - node as f64).abs() * 100.0 / node.max(1) as f64;
    assert!(
        off <= pct,
        "{what}: v8dump {ours}, node {node}: {off:.1}% apart (at most {pct}%)"
    );
}

#[test]
fn totals_match_process_memory_usage_on_every_version() {
    for scenario in ["memory_buffers", "memory_strings", "memory_native"] {
        for major in MAJORS {
            let f = fixture(scenario, major);
            let s = Session::open(&f.core, &OpenOptions::default()).unwrap();
            let m = s.memory().body;
            let u = &m.usage;
            let at = |k: &str| format!("{scenario} node{major} {k}");
            within(&at("rss"), u.rss, usage(&f, "rss"), 10.0);
            // Committed memory outside new space is exact; new space's own committed size
            // (whether V8 still counts a shrunk from-space) is not checked here.
            let young_v8 = f.stats["heapSpaceStatistics"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|x| x["space_name"] == "new_space")
                .map(|x| x["space_size"].as_u64().unwrap())
                .sum::<u64>();
            let young: u64 = m
                .spaces
                .iter()
                .filter(|x| x.space == "new_space")
                .map(|x| x.committed)
                .sum();
            // One page (256 KiB) may differ: V8's sweeper adds a page promoted from new space
            // to old space when it finishes, which can be after the statistics (seen on a
            // fresh Node 24 core).
            let (ours, v8) = (u.heap_total - young, usage(&f, "heapTotal") - young_v8);
            if ours.abs_diff(v8) > 256 << 10 {
                within(&at("heap_total outside new space"), ours, v8, 1.0);
            }
            // V8 11.3 (Node 20) counts its open old-space allocation area as used in some
            // cores and not in others (the area the IsolateData holds may already be closed):
            // up to 8.3% of a 3 MiB heap apart there. See the closing note.
            let tolerance = if major == 20 { 10.0 } else { 5.0 };
            within(
                &at("heap_used"),
                u.heap_used,
                usage(&f, "heapUsed"),
                tolerance,
            );
            within(
                &at("array_buffers"),
                u.array_buffers,
                usage(&f, "arrayBuffers"),
                2.0,
            );
            within(&at("external"), u.external, usage(&f, "external"), 2.0);
            // Summed from the objects: the live and not yet collected ArrayBuffers' stores and
            // the external strings. Garbage Buffers a scavenge left behind (memory_strings drops
            // 80 of 2 MiB) are owned by no object in the core until V8 frees them; node's
            // allocator still counts them, and `unowned_array_buffer_bytes` says how much.
            let e = &m.external;
            within(
                &at("external from objects"),
                e.array_buffer_bytes + e.unowned_array_buffer_bytes + e.external_string_bytes,
                usage(&f, "external"),
                2.0,
            );
            // Every mapping is accounted once: the regions add up to the rss.
            assert_eq!(u.rss, m.regions.iter().map(|r| r.resident).sum::<u64>());
        }
    }
}

#[test]
fn external_memory_is_named_by_its_holder() {
    for major in MAJORS {
        let f = fixture("memory_buffers", major);
        let s = Session::open(&f.core, &OpenOptions::default()).unwrap();
        let m = s.memory().body;
        let uploads = f.stats["extra"]["uploads"].as_u64().unwrap();
        let each = f.stats["extra"]["bytes_each"].as_u64().unwrap();
        let g = &m.external.holders[0];
        assert_eq!(g.holder, "Upload.data", "node{major}: {g:?}");
        assert_eq!(g.owner, "Buffer", "node{major}: {g:?}");
        assert_eq!(g.count, uploads, "node{major}: {g:?}");
        assert_eq!(g.bytes, uploads * each, "node{major}: {g:?}");
        let path = g.path.as_deref().unwrap_or("");
        assert!(path.contains(".uploadRegistry"), "node{major}: {path}");
        let d = m.dominant.as_deref().unwrap_or("");
        assert!(
            d.contains("ArrayBuffer backing stores") && d.contains("Upload.data"),
            "node{major}: {d}"
        );

        let f = fixture("memory_strings", major);
        let s = Session::open(&f.core, &OpenOptions::default()).unwrap();
        let m = s.memory().body;
        let docs = f.stats["extra"]["documents"].as_u64().unwrap();
        let each = f.stats["extra"]["bytes_each"].as_u64().unwrap();
        let g = &m.external.holders[0];
        assert_eq!(g.holder, "Document.text", "node{major}: {g:?}");
        assert_eq!(g.owner, "(external string)", "node{major}: {g:?}");
        assert_eq!(
            (g.count, g.bytes),
            (docs, docs * each),
            "node{major}: {g:?}"
        );
        assert!(
            m.dominant
                .as_deref()
                .is_some_and(|d| d.contains("external strings")),
            "node{major}: {:?}",
            m.dominant
        );

        // zlib's state is in malloc, held by no ArrayBuffer: native memory dominates.
        let f = fixture("memory_native", major);
        let s = Session::open(&f.core, &OpenOptions::default()).unwrap();
        let m = s.memory().body;
        assert!(
            m.dominant
                .as_deref()
                .is_some_and(|d| d.contains("native memory in malloc")),
            "node{major}: {:?}",
            m.dominant
        );
        // The streams' state (about 400 KiB each) is there beyond the backing stores.
        let streams = f.stats["extra"]["streams"].as_u64().unwrap();
        assert!(
            m.native.other_in_use > streams * (256 << 10)
                && m.native.other_resident * 3 > m.usage.rss,
            "node{major}: {:?}",
            m.native
        );
    }
}

#[test]
fn a_heap_that_fills_no_more_than_its_share_raises_no_alarm() {
    for major in MAJORS {
        let f = fixture("basic", major);
        let s = Session::open(&f.core, &OpenOptions::default()).unwrap();
        let m = s.memory().body;
        assert_eq!(m.dominant, None, "node{major}");
    }
}

#[test]
fn the_heap_limit_is_the_max_old_space_size_given() {
    for major in MAJORS {
        for (scenario, flag) in [("memory_buffers", 1234u64), ("oom", 32)] {
            let f = fixture(scenario, major);
            let s = Session::open(&f.core, &OpenOptions::default()).unwrap();
            let m = s.memory().body;
            assert_eq!(
                m.limits.max_old_generation,
                Some(flag << 20),
                "{scenario} node{major}"
            );
        }
        // The out-of-memory core's last GCs are V8's own "Last few GCs" lines, which node
        // printed to stderr as it died.
        let f = fixture("oom", major);
        let s = Session::open(&f.core, &OpenOptions::default()).unwrap();
        let m = s.memory().body;
        let printed = std::fs::read_to_string(f.dir.join("output.txt")).unwrap();
        let last = m
            .gcs
            .last()
            .unwrap_or_else(|| panic!("node{major}: no GC lines"));
        assert!(
            last.contains("Mark-Compact") || last.contains("Mark-sweep"),
            "node{major}: {last}"
        );
        assert!(
            printed.contains(last.as_str()),
            "node{major}: {last:?} not in\n{printed}"
        );
        // V8's reason, as node printed it: `FATAL ERROR: <reason> Allocation failed - ...`.
        let cause = s.report().body.cause;
        let reason = cause
            .oom_reason
            .clone()
            .unwrap_or_else(|| panic!("node{major}: no reason in {cause:?}"));
        assert!(
            printed.contains(&format!("FATAL ERROR: {reason} Allocation failed")),
            "node{major}: {reason:?}"
        );
    }
}
