//! Retainer paths: the shortest chains of strong references from a root to an object, each
//! step named, ending at a global object when one is reachable.

use crate::graph::describe::{describe_region, display_name};
use crate::graph::edges::{Edge, EdgeKind, Edges};
use crate::heap::loaded::Heap;
use crate::heap::marking::RootLoc;
use crate::meta::kinds::Kind;
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::collections::VecDeque;

/// One step of a retainer path: `target` is held by `edge.holder` under `edge.name`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Step {
    /// The object held.
    pub target: usize,
    /// The edge that holds it.
    pub edge: Edge,
}

/// A retainer path from a root to the object asked about.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RetainerPath {
    /// Steps from the object outwards: `steps[0].target` is the object itself.
    pub steps: Vec<Step>,
    /// The object at the root end (the last holder, or the object itself).
    pub root: usize,
    /// Why the root end is a root.
    pub root_kind: RootKind,
}

/// Why a path ends where it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RootKind {
    /// A global object (`globalThis` of a context).
    Global,
    /// Pointed at from outside the V8 heap, at this address (stack, C++ heap, handles,
    /// the executable's data).
    Memory {
        /// Address of the pointer.
        addr: u64,
        /// What that memory is, where known.
        region: String,
    },
    /// Pointed at from a register of a thread.
    Register {
        /// Thread number (0 is the thread that crashed).
        thread: usize,
        /// Register name.
        reg: String,
    },
    /// One of V8's root groups in a heap snapshot (`(Global handles)`, `(Stack roots)`...).
    Snapshot {
        /// The group's name.
        group: String,
    },
}

impl<'h> Edges<'h> {
    /// Up to `max` shortest retainer paths from a root to object `target`, strong references
    /// only, looking at most `max_depth` steps out.
    ///
    /// Paths to a global object come first: that is the root a JavaScript developer knows.
    /// Objects pointed at from outside the heap (stack slots, handles, the C++ heap) are roots
    /// too, but a conservative scan also finds stale pointers there, so such a path is given
    /// only when fewer than `max` paths reach a global object. The search walks on through
    /// them.
    pub fn retainer_paths(&self, target: usize, max: usize, max_depth: usize) -> Vec<RetainerPath> {
        let h = self.h;
        let mut globals = Vec::new();
        let mut others = Vec::new();
        if let Some(k) = self.root_kind(target) {
            let path = RetainerPath {
                steps: Vec::new(),
                root: target,
                root_kind: k.clone(),
            };
            if k == RootKind::Global {
                return vec![path];
            }
            others.push(path);
        }
        // Breadth-first from the target over retainers; `toward[x]` is the next object from x
        // toward the target.
        let mut toward: FxHashMap<usize, (usize, u32)> = FxHashMap::default();
        toward.insert(target, (target, 0));
        let mut queue = VecDeque::from([target]);
        'search: while let Some(x) = queue.pop_front() {
            let dx = toward.get(&x).map_or(0, |t| t.1);
            if dx as usize >= max_depth {
                continue;
            }
            let mut holders: Vec<usize> = self.g.strong_retainers(x).collect();
            holders.sort_unstable();
            holders.dedup();
            for r in holders {
                if !h.marking.is_marked(r) || toward.contains_key(&r) {
                    continue;
                }
                toward.insert(r, (x, dx + 1));
                match self.root_kind(r) {
                    Some(RootKind::Global) => {
                        globals.push(self.path_from(r, target, &toward, RootKind::Global));
                        if globals.len() >= max {
                            break 'search;
                        }
                        // Paths through a global object end there.
                        continue;
                    }
                    Some(k) if others.len() < max => {
                        others.push(self.path_from(r, target, &toward, k));
                    }
                    Some(_) => {}
                    None => {}
                }
                queue.push_back(r);
            }
        }
        globals.extend(others);
        globals.truncate(max);
        globals
    }

    /// Why object `i` ends a retainer path, if it does.
    fn root_kind(&self, i: usize) -> Option<RootKind> {
        let h = self.h;
        if h.index.kind(&h.p, i) == Kind::JSGlobalObject {
            return Some(RootKind::Global);
        }
        match h.marking.root_at.get(&(i as u32))? {
            RootLoc::Memory(a) => Some(RootKind::Memory {
                addr: *a,
                region: describe_region(&h.p, *a),
            }),
            RootLoc::Register { thread, reg } => Some(RootKind::Register {
                thread: *thread,
                reg: h
                    .p
                    .dump()
                    .threads()
                    .get(*thread)
                    .and_then(|t| t.regs.names().get(*reg))
                    .unwrap_or(&"?")
                    .to_string(),
            }),
        }
    }

    /// The path from `root` down to `target` through `toward`, as named steps.
    fn path_from(
        &self,
        root: usize,
        target: usize,
        toward: &FxHashMap<usize, (usize, u32)>,
        root_kind: RootKind,
    ) -> RetainerPath {
        // Objects from the root to the target.
        let mut chain = vec![root];
        let mut x = root;
        while x != target {
            match toward.get(&x) {
                Some(&(next, _)) if next != x => {
                    chain.push(next);
                    x = next;
                }
                _ => break,
            }
        }
        chain.reverse(); // target first
        let mut steps = Vec::new();
        let mut k = 0;
        while k + 1 < chain.len() {
            let (t, holder) = (chain[k], chain[k + 1]);
            let off = self
                .slots_to(holder, t)
                .first()
                .copied()
                .unwrap_or(u64::MAX);
            let edge = self.name_slot(holder, off, 0);
            // A store's slot named through its owner: skip the store (and a dictionary
            // between a cell and its global) when the path goes through that owner.
            let mut next = k + 1;
            if edge.holder != holder {
                if let Some(pos) = chain[k + 1..].iter().position(|&c| c == edge.holder) {
                    next = k + 1 + pos;
                } else {
                    // The owner is not on this path: show the raw slot instead.
                    steps.push(Step {
                        target: t,
                        edge: Edge {
                            holder,
                            kind: EdgeKind::Element,
                            name: self.raw_slot_name(off),
                            via: Vec::new(),
                        },
                    });
                    k += 1;
                    continue;
                }
            }
            steps.push(Step { target: t, edge });
            k = next;
        }
        RetainerPath {
            steps,
            root,
            root_kind,
        }
    }

    fn raw_slot_name(&self, off: u64) -> String {
        let data = self.h.p.fields.fixed_array_data;
        if off >= data && off != u64::MAX {
            format!("[{}]", (off - data) / 8)
        } else {
            format!("+{off:#x}")
        }
    }
}

/// A retainer path on one line, from the object outwards:
/// `UserSession <- session system / Context <- context Function ... <- .realtimeService global`.
pub fn chain_text(h: &Heap, target: usize, p: &RetainerPath) -> String {
    let mut s = display_name(h, target);
    for st in &p.steps {
        s.push_str(&format!(
            " <- {} {}",
            st.edge.name,
            display_name(h, st.edge.holder)
        ));
    }
    s
}

/// Why a path's end is a root, in words: `a global object`, `root: pointed at from the stack
/// of thread 2, 0x7ffc...`.
pub fn root_words(k: &RootKind) -> String {
    match k {
        RootKind::Global => "a global object".into(),
        RootKind::Memory { addr, region } => format!("root: pointed at from {region}, {addr:#x}"),
        RootKind::Register { thread, reg } => {
            format!("root: register {reg} of thread {}", thread + 1)
        }
        RootKind::Snapshot { group } => format!("root: {group}"),
    }
}
