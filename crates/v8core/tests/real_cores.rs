//! The V8 layer on real cores of Node 18 to 26, checked against what each process
//! said about itself (heap statistics, process.versions) just before it aborted.

use v8core::process::ExeMatch;
use v8core::{OpenOptions, Process};
use v8dump_testkit::{fixture, MAJORS};

const PAGE: u64 = 1 << 18;
const ABORT_SCENARIOS: [&str; 4] = ["basic", "objects", "listener_leak", "names"];

fn open(core: &std::path::Path) -> Process {
    Process::open(core, &OpenOptions::default())
        .unwrap_or_else(|e| panic!("open {}: {e}", core.display()))
}

#[test]
fn pages_per_space_equal_v8_heap_statistics() {
    for major in MAJORS {
        for scenario in ABORT_SCENARIOS {
            let f = fixture(scenario, major);
            let p = open(&f.core);
            let ours = p.pages.per_space();
            let spaces = f.stats["heapSpaceStatistics"]
                .as_array()
                .expect("heapSpaceStatistics");
            let mut compared = 0;
            for s in spaces {
                let name = s["space_name"].as_str().unwrap();
                let size = s["space_size"].as_u64().unwrap();
                if name == "read_only_space" {
                    continue; // shared and not counted per isolate by V8
                }
                let mut got = ours.get(name).cloned().unwrap_or_default();
                // Reading the statistics frees the main thread's allocation buffers; the next
                // allocation (the statistics' own JSON text) may open a fresh page (seen on
                // Node 25: an old-space page whose high-water mark is still its area start).
                // Such pages hold no object yet and may postdate the statistics.
                let fresh: Vec<_> = p
                    .pages
                    .pages
                    .iter()
                    .filter(|pg| {
                        pg.space == name && pg.high_water_mark == pg.area_start.0 - pg.base.0
                    })
                    .collect();
                if got.committed > size {
                    let extra: u64 = fresh.iter().map(|pg| pg.size).sum();
                    assert_eq!(
                        got.committed - size,
                        extra.min(got.committed - size),
                        "node{major} {scenario}: {name} has more than its fresh pages beyond V8's statistics"
                    );
                    got.pages -= (got.committed - size) / PAGE;
                    got.committed = size;
                }
                assert_eq!(
                    got.committed, size,
                    "node{major} {scenario}: committed bytes of {name}"
                );
                if !name.contains("large_object") {
                    assert_eq!(
                        got.pages,
                        size.div_ceil(PAGE),
                        "node{major} {scenario}: pages of {name}"
                    );
                }
                compared += (size > 0) as u32;
            }
            assert!(
                compared >= 4,
                "node{major} {scenario}: only {compared} non-empty spaces compared"
            );
            for name in ours.keys() {
                assert!(
                    name == "read_only_space"
                        || spaces.iter().any(|s| s["space_name"] == name.as_str()),
                    "node{major} {scenario}: space {name} unknown to V8's statistics"
                );
            }
            // One read-only page, seven in V8 14.6 (each of its twelve holes owns a 64 KiB
            // unmapped payload).
            let ro_pages = if major >= 26 { 7 } else { 1 };
            assert_eq!(
                ours.get("read_only_space").map(|s| s.pages),
                Some(ro_pages),
                "node{major} {scenario}: read-only pages"
            );
            assert!(
                p.pages.unwalkable_lists.is_empty(),
                "node{major} {scenario}: page lists walk"
            );
        }
    }
}

#[test]
fn versions_executable_and_roots_are_right_on_every_version() {
    // MAP_TYPE as decoded from each binary's InstanceType enum (shared/docs/v8-heap, section 1.5).
    // Node 25 and 26: decoded from the binaries (meta::enum_decode), and independently by the
    // V8 14 layout survey (MAP_TYPE 276 and 278).
    let map_types = [
        (18, 250u16),
        (20, 255),
        (22, 264),
        (24, 272),
        (25, 276),
        (26, 278),
    ];
    for major in MAJORS {
        let f = fixture("basic", major);
        let p = open(&f.core);
        let node = f.stats["versions"]["node"].as_str().unwrap();
        let v8 = f.stats["versions"]["v8"].as_str().unwrap();
        assert_eq!(p.versions.node.as_deref(), Some(node), "node{major}");
        assert!(
            v8.starts_with(&p.versions.v8.to_string()),
            "node{major}: V8 {} vs process.versions.v8 {v8}",
            p.versions.v8
        );
        assert_eq!(p.table.node_major, major);
        assert_eq!(
            p.exe_check.status,
            ExeMatch::Verified,
            "node{major}: {:?}",
            p.exe_check
        );
        assert_eq!(
            p.layout.map_type,
            map_types.iter().find(|(m, _)| *m == major).unwrap().1
        );
        let iso = p
            .isolate
            .as_ref()
            .unwrap_or_else(|| panic!("node{major}: isolate not located: {:?}", p.checks));
        assert!(p.checks.iter().all(|c| c.ok), "node{major}: {:?}", p.checks);
        // The meta map lives on the read-only page; so does undefined.
        for a in [iso.meta_map, iso.undefined] {
            assert_eq!(
                p.pages
                    .page_of(elfcore::Address(a.0))
                    .map(|pg| pg.space.as_str()),
                Some("read_only_space"),
                "node{major}"
            );
        }
        let pid = f.stats["pid"].as_u64().unwrap() as u32;
        assert_eq!(
            p.dump().process().map(|pi| pi.pid),
            Some(pid),
            "node{major}: pid"
        );
        assert_eq!(p.dump().signal(), Some(6), "node{major}: SIGABRT");
    }
}

#[test]
fn oom_cores_open_with_a_full_old_space() {
    for major in MAJORS {
        let f = fixture("oom", major);
        let out = std::fs::read_to_string(f.dir.join("output.txt")).unwrap_or_default();
        assert!(
            out.contains("heap out of memory"),
            "node{major}: the fixture really ran out of memory"
        );
        let p = open(&f.core);
        assert_eq!(
            p.versions.node.as_deref(),
            f.stats["versions"]["node"].as_str(),
            "node{major}"
        );
        assert_eq!(p.dump().signal(), Some(6));
        let spaces = p.pages.per_space();
        // --max-old-space-size=32: the old generation (everything but new space and the shared
        // read-only page) had reached the 32 MiB limit when V8 gave up.
        let old_gen: u64 = spaces
            .iter()
            .filter(|(n, _)| !n.starts_with("new") && *n != "read_only_space")
            .map(|(_, s)| s.committed)
            .sum();
        assert!(
            old_gen >= 28 << 20,
            "node{major}: old generation committed only {old_gen} bytes"
        );
    }
}
