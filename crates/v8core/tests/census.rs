//! `findjsobjects` against V8's own heap snapshot, taken in the same process just before the
//! abort: for every name the snapshot lists at least 10 times as type "object", the count and
//! total self size must be equal. The one allowance: objects the snapshot says were held only
//! by the stack or a handle scope (temporaries of the code running the snapshot) may be gone
//! from the core, whose stack slots were reused before the abort.

use v8core::heap::index::no_progress;
use v8core::objects::census::Scope;
use v8core::{Heap, OpenOptions, Process};
use v8dump_testkit::{
    compare_with_snapshot, fixture, fixture_arm64, snapshot_counts, Fixture, ARM64_MAJORS, MAJORS,
};

fn compare(scenario: &str, major: u32) -> Vec<String> {
    compare_fixture(
        &fixture(scenario, major),
        &format!("node{major} {scenario}"),
    )
}

fn compare_fixture(f: &Fixture, what: &str) -> Vec<String> {
    let oracle = snapshot_counts(&f.snapshot());
    let opts = OpenOptions {
        executable: Some(f.node.clone()),
        ..Default::default()
    };
    let p = Process::open(&f.core, &opts).unwrap();
    let heap = Heap::load(p, &no_progress);
    let ours: std::collections::HashMap<String, (u64, u64)> = heap
        .census(Scope::Reachable, false)
        .into_iter()
        .map(|r| (r.name, (r.count, r.size)))
        .collect();
    let (bad, checked) = compare_with_snapshot(what, &oracle, &ours);
    assert!(checked >= 10, "{what}: only {checked} names to check");
    bad
}

/// The same on the linux-arm64 builds' cores, made under qemu-user (no NT_FILE: the
/// executable is given, as an SRE would give it).
#[test]
fn findjsobjects_equals_the_heap_snapshot_on_arm64_cores() {
    let mut bad = Vec::new();
    for major in ARM64_MAJORS {
        for scenario in ["exact_objects", "exact_listener_leak"] {
            let f = fixture_arm64(scenario, major);
            bad.extend(compare_fixture(
                &f,
                &format!("arm64 node{major} {scenario}"),
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
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

/// Markings at once on a shared pool (a batch's workers, or Python threads, each loading a
/// heap): each must finish with the same census as one alone. A marking used to wait for all
/// the workers it spawned to start, which never happens when the pool's threads are all
/// marking other heaps: it hung.
#[test]
fn heaps_loaded_at_once_on_a_shared_pool_finish_with_the_same_census() {
    let f = fixture("exact_objects", 24);
    let census = |h: &Heap| {
        let mut v: Vec<(String, u64, u64)> = h
            .census(Scope::Reachable, false)
            .into_iter()
            .map(|r| (r.name, r.count, r.size))
            .collect();
        v.sort();
        v
    };
    let alone = census(&Heap::load(
        Process::open(&f.core, &OpenOptions::default()).unwrap(),
        &no_progress,
    ));
    let pool = std::sync::Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap(),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    for _ in 0..4 {
        let (pool, tx, core) = (pool.clone(), tx.clone(), f.core.clone());
        std::thread::spawn(move || {
            let h = pool.install(|| {
                Heap::load(
                    Process::open(&core, &OpenOptions::default()).unwrap(),
                    &no_progress,
                )
            });
            let _ = tx.send(census(&h));
        });
    }
    for k in 0..4 {
        let got = rx
            .recv_timeout(std::time::Duration::from_secs(300))
            .unwrap_or_else(|_| panic!("marking {k} of 4 did not finish in 300 s (deadlock)"));
        assert_eq!(got, alone, "marking {k}");
    }
}
