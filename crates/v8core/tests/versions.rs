//! The next release, for real: what a V8 version without a table of its own gets. The Node 25
//! and 26 cores are opened with their own tables hidden (`OpenOptions::hide_tables`, the CLI's
//! hidden `--hide-table`), exactly as a core of a future V8 minor would be: the nearest older
//! table, its enum replaced by the one decoded from the binary, its isolate, roots, page-list
//! and source-position facts measured in the core.
//!
//! What this proves: for V8 14.1 read with 13.6's table (V8 14 reordered the roots, moved the
//! page list link and the roots table, and re-encoded source positions) and for 14.6 read with
//! 14.1's (the code kinds and page list moved again), the calibrated tables pass every sanity
//! check and give the census of V8's own snapshot, and every answer is marked as coming from
//! an unverified table. And a table that does not fit is refused with the check that failed,
//! never used.

use v8core::answer::CaveatKind;
use v8core::calibrate::TableChoice;
use v8core::heap::index::no_progress;
use v8core::objects::census::Scope;
use v8core::session::Session;
use v8core::{Error, Heap, OpenOptions, Process};
use v8dump_testkit::{compare_with_snapshot, fixture, snapshot_counts};

fn hidden(table: (u32, u32)) -> OpenOptions {
    OpenOptions {
        hide_tables: vec![table],
        ..Default::default()
    }
}

#[test]
fn a_version_without_a_table_is_read_with_the_nearest_one_calibrated() {
    for (major, own, nearest) in [(25, (14, 1), "13.6"), (26, (14, 6), "14.1")] {
        for scenario in ["exact_objects", "exact_listener_leak"] {
            let f = fixture(scenario, major);
            let p = Process::open(&f.core, &hidden(own))
                .unwrap_or_else(|e| panic!("node{major} {scenario}: {e}"));
            assert_eq!(
                p.table_choice,
                TableChoice::Nearest {
                    table: nearest.into()
                },
                "node{major}"
            );
            let failed: Vec<_> = p.checks.iter().filter(|c| !c.ok).collect();
            assert!(failed.is_empty(), "node{major} {scenario}: {failed:?}");
            assert!(
                !p.calibrated.is_empty(),
                "node{major}: nothing was measured in the core"
            );
            // What calibration measured is what the version's own table says (V8's
            // sources): the hole size (14.6's holes have a payload the core holds no bytes
            // of) among them.
            let own_table = Process::open(&f.core, &OpenOptions::default())
                .unwrap()
                .table;
            assert_eq!(p.table.sizes.hole, own_table.sizes.hole, "node{major}");
            assert_eq!(p.table.roots, own_table.roots, "node{major}");
            assert_eq!(
                p.table.isolate_roots_offset, own_table.isolate_roots_offset,
                "node{major}"
            );
            let heap = Heap::load(p, &no_progress);
            let ours: std::collections::HashMap<String, (u64, u64)> = heap
                .census(Scope::Reachable, false)
                .into_iter()
                .map(|r| (r.name, (r.count, r.size)))
                .collect();
            let oracle = snapshot_counts(&f.snapshot());
            let what = format!("node{major} {scenario} with {nearest}'s table");
            let (bad, checked) = compare_with_snapshot(&what, &oracle, &ours);
            assert!(checked >= 10, "{what}: only {checked} names to check");
            assert!(bad.is_empty(), "{what}:\n{}", bad.join("\n"));
        }
        // Every answer says so, in JSON and in text; and the table does not make the heap
        // look damaged: the other marks are those of the version's own table.
        let core = fixture("basic", major).core;
        let s = Session::open(&core, &hidden(own)).unwrap();
        let a = s.top(3);
        let reasons = &a.partial.as_ref().expect("marked").reasons;
        assert_eq!(reasons[0].kind, CaveatKind::UnverifiedTable, "{reasons:?}");
        let with_own = Session::open(&core, &OpenOptions::default())
            .unwrap()
            .top(3);
        let kinds = |r: &[v8core::answer::Caveat]| -> Vec<CaveatKind> {
            r.iter()
                .map(|c| c.kind)
                .filter(|k| *k != CaveatKind::UnverifiedTable)
                .collect()
        };
        let own_reasons = with_own.partial.map(|p| p.reasons).unwrap_or_default();
        assert_eq!(
            kinds(reasons),
            kinds(&own_reasons),
            "node{major}: {reasons:?}"
        );
        let v = format!(
            "V8 {}.{} has no verified table; using {nearest}'s",
            own.0, own.1
        );
        assert!(
            a.text().starts_with(&format!("warning: {v}")),
            "{}",
            a.text()
        );
        assert!(
            reasons[0].message.contains("8 of 8 checks passed"),
            "{reasons:?}"
        );
    }
}

#[test]
fn a_table_that_does_not_fit_is_refused_naming_the_check() {
    // Node 18 (V8 10.2) read with 11.3's table: the same page header family, but other space
    // ids, so the space lists do not chain the pages.
    let f = fixture("basic", 18);
    let forced = OpenOptions {
        layout: Some((11, 3)),
        ..Default::default()
    };
    match Process::open(&f.core, &forced) {
        Err(e @ Error::UnverifiedTableFailed { check, .. }) => {
            assert_eq!(check, "page lists", "{e}");
            let msg = e.to_string();
            assert!(
                msg.contains("V8 10.2") && msg.contains("11.3") && !msg.contains('\n'),
                "{msg}"
            );
        }
        other => panic!("node18 with 11.3's table: {other:?}"),
    }
    // Node 22 (V8 12.4) read with 13.6's table: V8 13 moved the page metadata out of the page.
    let f = fixture("basic", 22);
    let forced = OpenOptions {
        layout: Some((13, 6)),
        ..Default::default()
    };
    match Process::open(&f.core, &forced) {
        Err(Error::UnverifiedTableFailed { check, .. }) => assert_eq!(check, "page headers"),
        other => panic!("node22 with 13.6's table: {other:?}"),
    }
}
