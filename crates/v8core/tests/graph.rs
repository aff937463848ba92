//! The reference graph on the listener leak (fixtures/scenarios/listener_leak.js), on every Node
//! version. The scenario's source is the oracle: session `id` was the `id`-th listener
//! registered, its closure names it `session`, the listeners are the `_events['data-update']`
//! array of the RealtimeService stored in `globalThis.realtimeService`.

use v8core::graph::describe::display_name;
use v8core::graph::edges::EdgeKind;
use v8core::graph::edges::Edges;
use v8core::graph::reverse::Graph;
use v8core::graph::search::objects_with_property;
use v8core::graph::search::strings_equal;
use v8core::heap::index::no_progress;
use v8core::meta::kinds::Kind;
use v8core::objects::census::Scope;
use v8core::objects::reader::Key;
use v8core::{Heap, OpenOptions, Process};
use v8dump_testkit::{fixture, MAJORS};

fn load(scenario: &str, major: u32) -> Heap {
    let f = fixture(scenario, major);
    let p = Process::open(&f.core, &OpenOptions::default()).unwrap();
    Heap::load(p, &no_progress)
}

/// The value of own property `name` of object `i`, as a Smi.
fn smi_property(heap: &Heap, i: usize, name: &str) -> Option<i64> {
    let r = heap.reader();
    let v = r
        .own_properties(heap.index.tagged(i), 100)?
        .into_iter()
        .find(|p| p.key == Key::Name(name.into()))?
        .value;
    r.smi(v)
}

#[test]
fn leaked_session_is_retained_through_closure_listeners_and_emitter() {
    for major in MAJORS {
        let heap = load("listener_leak", major);
        let g = Graph::build(&heap.p, &heap.index, &heap.marking, &no_progress);
        let edges = Edges::new(&heap, &g);
        let sessions = heap.instances("UserSession", Scope::Reachable);
        assert_eq!(sessions.len(), 2000, "node{major}: UserSession instances");
        // A few sessions spread over the heap.
        for &s in sessions.iter().step_by(397) {
            let id = smi_property(&heap, s, "id").expect("session.id");

            // findrefs: the closure context holds it as `session`.
            let refs = edges.edges_to(s);
            let ctx = refs
                .iter()
                .find(|e| e.kind == EdgeKind::Context && e.name == "session")
                .unwrap_or_else(|| {
                    panic!("node{major}: no context variable `session` in {refs:?}")
                });
            assert_eq!(heap.index.kind(&heap.p, ctx.holder), Kind::Context);

            // retainers: the whole chain up to the global object.
            let paths = edges.retainer_paths(s, 1, 64);
            let path = paths
                .first()
                .unwrap_or_else(|| panic!("node{major}: no retainer path for session {id}"));
            let chain: Vec<(EdgeKind, String, Kind)> = path
                .steps
                .iter()
                .map(|st| {
                    (
                        st.edge.kind,
                        st.edge.name.clone(),
                        heap.index.kind(&heap.p, st.edge.holder),
                    )
                })
                .collect();
            let want = vec![
                (EdgeKind::Context, "session".to_string(), Kind::Context),
                (EdgeKind::Internal, "context".to_string(), Kind::JSFunction),
                (EdgeKind::Element, format!("[{id}]"), Kind::JSArray),
                (
                    EdgeKind::Property,
                    ".data-update".to_string(),
                    Kind::JSObject,
                ),
                (EdgeKind::Property, "._events".to_string(), Kind::JSObject),
                (
                    EdgeKind::Property,
                    ".realtimeService".to_string(),
                    Kind::JSGlobalObject,
                ),
            ];
            assert_eq!(chain, want, "node{major}: session {id}");
            assert_eq!(
                display_name(&heap, path.steps[4].edge.holder),
                "RealtimeService",
                "node{major}"
            );
            assert_eq!(path.root_kind, v8core::graph::paths::RootKind::Global);
        }
    }
}

#[test]
fn findrefs_by_property_name_and_by_string() {
    for major in MAJORS {
        let heap = load("listener_leak", major);
        // -n remotePort: exactly the 2000 FakeSockets, each with 40000 + its fd - 100.
        let with = objects_with_property(&heap, "remotePort");
        assert_eq!(with.len(), 2000, "node{major}");
        let r = heap.reader();
        for &(i, v) in with.iter().step_by(211) {
            assert_eq!(display_name(&heap, i), "FakeSocket");
            let fd = smi_property(&heap, i, "fd").expect("fd");
            assert_eq!(r.smi(v), Some(40000 + fd - 100), "node{major}");
        }
        // -s user-17: the string is the userId of session 17 (and of nothing else reachable).
        let g = Graph::build(&heap.p, &heap.index, &heap.marking, &no_progress);
        let edges = Edges::new(&heap, &g);
        let strings = strings_equal(&heap, "user-17");
        assert!(!strings.is_empty(), "node{major}: no string user-17");
        let holders: Vec<_> = strings
            .iter()
            .flat_map(|&s| edges.edges_to(s))
            .filter(|e| e.kind == EdgeKind::Property)
            .collect();
        assert_eq!(holders.len(), 1, "node{major}: {holders:?}");
        assert_eq!(holders[0].name, ".userId");
        assert_eq!(smi_property(&heap, holders[0].holder, "id"), Some(17));
    }
}

#[test]
fn the_emitter_dominates_every_leaked_session_and_socket() {
    use v8core::graph::dominators::Dominators;
    for major in MAJORS {
        let heap = load("listener_leak", major);
        let g = Graph::build(&heap.p, &heap.index, &heap.marking, &no_progress);
        let d = Dominators::build(&heap, &g, &no_progress);
        let emitter = heap.instances("RealtimeService", Scope::Reachable);
        assert_eq!(emitter.len(), 1, "node{major}");
        let emitter = emitter[0];
        let dominated_by_emitter = |mut i: usize| {
            let mut steps = 0;
            while let Some(x) = d.idom(i) {
                if x == emitter {
                    return true;
                }
                i = x;
                steps += 1;
                assert!(steps < 10_000, "node{major}: dominator chain too long");
            }
            false
        };
        let mut leaked_bytes = 0u64;
        for class in ["UserSession", "FakeSocket"] {
            let all = heap.instances(class, Scope::Reachable);
            assert_eq!(all.len(), 2000, "node{major} {class}");
            for &i in &all {
                assert!(
                    dominated_by_emitter(i),
                    "node{major}: {class} {:#x} is not dominated by the emitter",
                    heap.index.tagged(i)
                );
                leaked_bytes += heap.index.size(i) as u64;
            }
        }
        assert!(
            d.retained(emitter) > leaked_bytes,
            "node{major}: emitter retains {} < {leaked_bytes}",
            d.retained(emitter)
        );
        // `top` finds it among the largest retainers.
        let top: Vec<usize> = d.top(10);
        assert!(top.contains(&emitter), "node{major}: emitter not in top 10");
        // Per constructor: sessions retain at least their own size and their sockets'.
        let by_name = d.retained_by_name(&heap);
        let id = heap.names.lookup("UserSession").unwrap() as usize;
        let own: u64 = heap
            .instances("UserSession", Scope::Reachable)
            .iter()
            .chain(heap.instances("FakeSocket", Scope::Reachable).iter())
            .map(|&i| heap.index.size(i) as u64)
            .sum();
        assert!(by_name[id] >= own, "node{major}: {} < {own}", by_name[id]);
    }
}

/// The dominator tree of a real heap equals the one the textbook iterative algorithm computes
/// over the same graph (as golang/debug's gocore checks its own).
#[test]
fn dominators_equal_the_simple_algorithm_on_real_heaps() {
    use v8core::graph::dominators::{heap_graph, Dominators};
    for major in [20, 26] {
        let heap = load("listener_leak", major);
        let g = Graph::build(&heap.p, &heap.index, &heap.marking, &no_progress);
        let d = Dominators::build(&heap, &g, &no_progress);
        let simple = Dominators::simple(&heap_graph(&heap, &g));
        let differ: Vec<usize> = (0..heap.index.len())
            .filter(|&i| d.idom(i) != simple[i])
            .collect();
        assert!(
            d.reached > 50_000,
            "node{major}: only {} objects reached",
            d.reached
        );
        assert!(
            differ.is_empty(),
            "node{major}: {} of {} objects have another immediate dominator, e.g. {:#x}",
            differ.len(),
            heap.index.len(),
            heap.index.tagged(differ[0])
        );
    }
}
