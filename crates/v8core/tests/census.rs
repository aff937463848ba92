//! `findjsobjects` against V8's own heap snapshot, taken in the same process just before the
//! abort: for every name the snapshot lists at least 10 times as type "object", the count and
//! total self size must be equal. The one allowance: objects the snapshot says were held only
//! by the stack or a handle scope (temporaries of the code running the snapshot) may be gone
//! from the core, whose stack slots were reused before the abort.

use v8core::heap::index::no_progress;
use v8core::objects::census::Scope;
use v8core::{Heap, OpenOptions, Process};
use v8dump_testkit::{compare_with_snapshot, fixture, snapshot_counts, MAJORS};

fn compare(scenario: &str, major: u32) -> Vec<String> {
    let f = fixture(scenario, major);
    let oracle = snapshot_counts(&f.snapshot());
    let p = Process::open(&f.core, &OpenOptions::default()).unwrap();
    let heap = Heap::load(p, &no_progress);
    let ours: std::collections::HashMap<String, (u64, u64)> = heap
        .census(Scope::Reachable, false)
        .into_iter()
        .map(|r| (r.name, (r.count, r.size)))
        .collect();
    let (bad, checked) = compare_with_snapshot(&format!("node{major} {scenario}"), &oracle, &ours);
    assert!(
        checked >= 10,
        "node{major} {scenario}: only {checked} names to check"
    );
    bad
}

#[test]
fn findjsobjects_equals_the_heap_snapshot_for_every_name_with_ten_or_more_objects() {
    let mut bad = Vec::new();
    for major in MAJORS {
        // Cores whose snapshot was taken last, right before the abort (see fixtures/README).
        for scenario in ["exact_objects", "exact_listener_leak"] {
            bad.extend(compare(scenario, major));
        }
    }
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
