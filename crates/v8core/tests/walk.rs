//! The heap walk on real cores, checked against V8's own per-space statistics
//! (`space_used_size`, which V8 counts as the bytes of objects plus open allocation buffers).

use v8core::heap::walk::{GapKind, HeapWalk, Walker};
use v8core::{OpenOptions, Process};
use v8dump_testkit::{fixture, MAJORS};

/// A walk of every page, and (start, end, space) of each page.
type Pages = Vec<(u64, u64, String)>;

fn walk(scenario: &str, major: u32) -> (v8dump_testkit::Fixture, HeapWalk, Pages) {
    let f = fixture(scenario, major);
    let p = Process::open(&f.core, &OpenOptions::default()).unwrap();
    let mut objects = 0u64;
    let walk = Walker::new(&p).walk_all(|_, _| objects += 1);
    let t = walk.total();
    assert!(objects > t.objects, "the callback sees free space too");
    let pages = p
        .pages
        .pages
        .iter()
        .map(|pg| (pg.base.0, pg.base.0 + pg.size, pg.space.clone()))
        .collect();
    (f, walk, pages)
}

#[test]
fn walked_bytes_equal_v8_used_size_in_every_space_without_allocation_after_the_stats() {
    for major in MAJORS {
        for scenario in ["basic", "objects", "listener_leak", "names"] {
            let (f, walk, pages) = walk(scenario, major);
            let used = |name: &str| {
                f.stats["heapSpaceStatistics"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|s| s["space_name"] == name)
                    .map(|s| s["space_used_size"].as_u64().unwrap())
            };
            for (name, t) in &walk.per_space {
                let accounted = t.object_bytes + t.free_bytes + t.gap_bytes;
                assert_eq!(accounted, t.area_bytes, "node{major} {scenario} {name}: every byte of the area is an object, free or a gap");
                match name.as_str() {
                    // Code and bytecode can still be produced by the few calls between the
                    // statistics and the abort (Sparkplug batch compilation, lazy compilation of
                    // the stats writer): seen on a CI machine as 3 KiB more code on Node 24. And
                    // the code space's allocation buffer, which V8 counts as used, can be closed
                    // (turned into free space) before the abort: seen on a CI machine on Node
                    // 20, with 200 KiB of the page free in the core that V8 had counted as used.
                    // So: at most a little more code than V8 counted, never more.
                    "code_space" | "trusted_space" => {
                        let v8 = used(name).unwrap();
                        assert!(
                            t.object_bytes <= v8 + (16 << 10),
                            "node{major} {scenario} {name}: walked {}, V8 used {v8}: {t:?}",
                            t.object_bytes
                        );
                        assert_small_code_gaps(major, scenario, name, &walk, &pages);
                    }
                    // Nothing allocates in these between the statistics and the abort: exact.
                    "large_object_space" | "map_space" => {
                        assert_eq!(
                            t.object_bytes + t.gap_bytes,
                            used(name).unwrap(),
                            "node{major} {scenario} {name}: {t:?}"
                        );
                    }
                    "read_only_space" => assert_eq!(
                        t.gaps, 0,
                        "node{major} {scenario}: read-only space walks cleanly"
                    ),
                    // The event loop turns a few times after the statistics are taken, so allow the
                    // little it allocates; V8 11 counts the open allocation buffer (our gap) as
                    // used, V8 12+ does not.
                    "old_space" => {
                        let v8 = used(name).unwrap();
                        let off = t
                            .object_bytes
                            .abs_diff(v8)
                            .min((t.object_bytes + t.gap_bytes).abs_diff(v8));
                        assert!(
                            off <= 64 << 10,
                            "node{major} {scenario} old_space: walked {t:?}, V8 used {v8}"
                        );
                    }
                    _ => {}
                }
            }
        }
    }
}

#[test]
fn oom_cores_walk_every_old_generation_page_to_its_end() {
    for major in MAJORS {
        let (_, walk, pages) = walk("oom", major);
        for (name, t) in &walk.per_space {
            if name == "new_space" {
                continue; // semispace pages of Node 18 are not iterable after a scavenge
            }
            if name == "code_space" {
                assert_small_code_gaps(major, "oom", name, &walk, &pages);
                continue;
            }
            assert_eq!(
                t.gaps,
                0,
                "node{major} {name}: {:?}",
                walk.gaps.iter().take(3).collect::<Vec<_>>()
            );
        }
        let old = &walk.per_space["old_space"];
        assert!(
            old.objects > 500_000 && old.object_bytes > 24 << 20,
            "node{major}: the leak fills old space: {old:?}"
        );
    }
}

/// V8 11 keeps an InstructionStream's size in its Code object; a dead InstructionStream on a
/// page not yet swept can point to a Code object that was freed and reused, and cannot be
/// sized. The walk records such a stretch as a gap and resumes at the next map word (seen on a
/// CI machine: 3-6 stretches of 0.4-1.3 KiB in Node 20's code space). Allowed in code space
/// only, and only a little of it; the open allocation buffer (a gap of zero words) is not
/// counted.
fn assert_small_code_gaps(major: u32, scenario: &str, name: &str, walk: &HeapWalk, pages: &Pages) {
    let in_space = |a: u64| {
        pages
            .iter()
            .any(|(lo, hi, s)| s == name && *lo <= a && a < *hi)
    };
    let unsized_code: u64 = walk
        .gaps
        .iter()
        .filter(|g| in_space(g.start.0) && g.why != GapKind::Zero)
        .map(|g| g.len)
        .sum();
    assert!(
        unsized_code <= 16 << 10,
        "node{major} {scenario} {name}: {unsized_code} bytes of code could not be walked: {:?}",
        walk.gaps
            .iter()
            .filter(|g| in_space(g.start.0))
            .collect::<Vec<_>>()
    );
}
