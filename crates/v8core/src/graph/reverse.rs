//! The object graph: who references whom, and under which name.
//!
//! Built once per run from the index: for every reachable object, the objects that point at it
//! (its retainers), as a compressed reverse adjacency list (4 bytes per reference plus 4 per
//! object). References held in weak slots (weakly tagged words, ephemeron tables, WeakRef and
//! WeakCell targets) are kept with a flag: they show in `findrefs` and never retain.
//!
//! Two kinds of reference are left out, as they retain nothing an analysis can act on and
//! would swamp the index: the map word of every object, and references to read-only space
//! (undefined, null, true, false, the empty arrays: immortal).
//!
//! Edges are stored unnamed. A name is given when one is shown ([`Graph::edges`]): the holder's
//! slots that hold the target are found again and named as a JavaScript developer reads them:
//! a property (`.session`, from in-object fields, the PropertyArray, a dictionary or a global
//! PropertyCell, all credited to the object that owns the store), an element (`[17]`, from the
//! elements store), a closure variable (`socket`, by its ScopeInfo name), or an internal field
//! (`map`, `context`, `+0x18`).

use crate::heap::index::{HeapIndex, Marking, Progress, RootLoc};
use crate::heap::loaded::Heap;
use crate::meta::kinds::Kind;
use crate::objects::reader::Reader;
use crate::process::Process;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Flag bit of a weak reference in [`Graph::retainers`].
const WEAK: u32 = 1 << 31;

/// Reverse adjacency of the reachable heap.
pub struct Graph {
    /// `offsets[i]..offsets[i + 1]` is object `i`'s share of `retainers`.
    offsets: Vec<u64>,
    /// Retainer object indices, [`WEAK`] set for weak references.
    retainers: Vec<u32>,
    /// Strong references.
    pub strong_edges: u64,
    /// Weak references.
    pub weak_edges: u64,
}

/// Which instance types hold weak references in otherwise strong-looking slots.
struct WeakSlots {
    ephemeron: Option<u16>,
    weak_cell: Option<u16>,
    weak_ref: Option<u16>,
    weak_ref_target: u64,
}

impl WeakSlots {
    fn new(p: &Process) -> WeakSlots {
        WeakSlots {
            ephemeron: p.types.value("EPHEMERON_HASH_TABLE_TYPE"),
            weak_cell: p.types.value("WEAK_CELL_TYPE"),
            weak_ref: p.types.value("JS_WEAK_REF_TYPE"),
            weak_ref_target: p.fields.weak_ref_target,
        }
    }

    /// Whether the word `w` at byte offset `off` of an object of type `t` is a weak reference.
    fn is_weak(&self, t: u16, off: u64, w: u64) -> bool {
        if w & 3 == 3 {
            return true;
        }
        if off == 0 {
            return false;
        }
        Some(t) == self.ephemeron
            || Some(t) == self.weak_cell
            || (Some(t) == self.weak_ref && off == self.weak_ref_target)
    }
}

impl Graph {
    /// Build the reverse adjacency of every reachable object (in parallel, two passes).
    pub fn build(p: &Process, idx: &HeapIndex, marking: &Marking, progress: Progress) -> Graph {
        let n = idx.len();
        let weak = WeakSlots::new(p);
        let counts: Vec<AtomicU32> = (0..n).map(|_| AtomicU32::new(0)).collect();
        let edge_target = Self::edge_filter(p, idx);
        // Releases the core pages of objects lo..hi once a pass has read them.
        let release = |lo: usize, hi: usize| {
            if let (Some(&a), Some(&z), Some(&zs)) = (
                idx.addrs.get(lo),
                idx.addrs.get(hi - 1),
                idx.sizes.get(hi - 1),
            ) {
                p.dump().release(elfcore::Address(a), z + zs as u64 - a);
            }
        };
        let total = n as u64;
        let done = AtomicU64::new(0);
        let chunk = 1 << 14;
        // Pass 1: how many references each object receives.
        (0..n.div_ceil(chunk)).into_par_iter().for_each(|c| {
            let (lo, hi) = (c * chunk, ((c + 1) * chunk).min(n));
            for i in lo..hi {
                if !marking.is_marked(i) {
                    continue;
                }
                let start = idx.addrs[i];
                idx.for_each_slot(p, i, |a, w| {
                    if let Some(t) = edge_target(a - start, w) {
                        counts[t].fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            release(lo, hi);
            let d = done.fetch_add(chunk as u64, Ordering::Relaxed);
            progress("indexing references", d.min(total), 2 * total);
        });
        let mut offsets = Vec::with_capacity(n + 1);
        let mut sum = 0u64;
        offsets.push(0);
        for c in &counts {
            sum += c.load(Ordering::Relaxed) as u64;
            offsets.push(sum);
        }
        // Pass 2: fill; `counts` becomes each object's fill cursor.
        for c in &counts {
            c.store(0, Ordering::Relaxed);
        }
        let slots: Vec<AtomicU32> = (0..sum).map(|_| AtomicU32::new(0)).collect();
        let (strong, weak_n) = (AtomicU64::new(0), AtomicU64::new(0));
        (0..n.div_ceil(chunk)).into_par_iter().for_each(|c| {
            let (mut s, mut wk) = (0u64, 0u64);
            let (lo, hi) = (c * chunk, ((c + 1) * chunk).min(n));
            for i in lo..hi {
                if !marking.is_marked(i) {
                    continue;
                }
                let start = idx.addrs[i];
                let t_i = idx.types[i];
                idx.for_each_slot(p, i, |a, w| {
                    if let Some(t) = edge_target(a - start, w) {
                        let k = counts[t].fetch_add(1, Ordering::Relaxed) as u64;
                        let at = offsets[t] + k;
                        if at < offsets[t + 1] {
                            let is_weak = weak.is_weak(t_i, a - start, w);
                            let v = i as u32 | if is_weak { WEAK } else { 0 };
                            slots[at as usize].store(v, Ordering::Relaxed);
                            if is_weak {
                                wk += 1;
                            } else {
                                s += 1;
                            }
                        }
                    }
                });
            }
            release(lo, hi);
            strong.fetch_add(s, Ordering::Relaxed);
            weak_n.fetch_add(wk, Ordering::Relaxed);
            let d = done.fetch_add(chunk as u64, Ordering::Relaxed);
            progress("indexing references", d.min(2 * total), 2 * total);
        });
        // Same layout: the collect reuses the allocation.
        let retainers: Vec<u32> = slots.into_iter().map(AtomicU32::into_inner).collect();
        progress("indexing references", 2 * total, 2 * total);
        Graph {
            offsets,
            retainers,
            strong_edges: strong.into_inner(),
            weak_edges: weak_n.into_inner(),
        }
    }

    /// What is an edge of the graph: `f(offset, word)` gives the indexed object the word at
    /// byte offset `offset` of a body points at, unless it is the map word or the target is in
    /// read-only space.
    pub fn edge_filter<'a>(
        p: &'a Process,
        idx: &'a HeapIndex,
    ) -> impl Fn(u64, u64) -> Option<usize> + Sync + 'a {
        let read_only: Vec<bool> = (0..idx.ranges.len())
            .map(|ri| idx.range_is_read_only(p, ri))
            .collect();
        move |off: u64, w: u64| -> Option<usize> {
            if off == 0 {
                return None;
            }
            let (t, ri) = idx.target_in(w)?;
            (!read_only.get(ri).copied().unwrap_or(false)).then_some(t)
        }
    }

    /// What is a strong edge of the graph: `f(type, offset, word)` gives the indexed object the
    /// word at byte `offset` of an object of instance type `type` points at, if that is an edge
    /// ([`Graph::edge_filter`]) and not a weak reference (the edges dominators follow).
    pub fn strong_edge_filter<'a>(
        p: &'a Process,
        idx: &'a HeapIndex,
    ) -> impl Fn(u16, u64, u64) -> Option<usize> + Sync + 'a {
        let edge = Self::edge_filter(p, idx);
        let weak = WeakSlots::new(p);
        move |t: u16, off: u64, w: u64| -> Option<usize> {
            let target = edge(off, w)?;
            (!weak.is_weak(t, off, w)).then_some(target)
        }
    }

    /// The objects referencing object `i` (sorted, each once), and whether all of that
    /// object's references to `i` are weak.
    pub fn retainers_of(&self, i: usize) -> Vec<(usize, bool)> {
        let (Some(&lo), Some(&hi)) = (self.offsets.get(i), self.offsets.get(i + 1)) else {
            return Vec::new();
        };
        let mut v: Vec<(usize, bool)> = self.retainers[lo as usize..hi as usize]
            .iter()
            .map(|&r| ((r & !WEAK) as usize, r & WEAK != 0))
            .collect();
        // Strong before weak for the same holder, then keep the first of each holder.
        v.sort_unstable();
        v.dedup_by_key(|x| x.0);
        v
    }

    /// Holders of strong references to `i`.
    pub fn strong_retainers(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        let lo = self.offsets.get(i).copied().unwrap_or(0) as usize;
        let hi = self.offsets.get(i + 1).copied().unwrap_or(0) as usize;
        self.retainers[lo..hi]
            .iter()
            .filter(|&&r| r & WEAK == 0)
            .map(|&r| r as usize)
    }
}

/// How an edge is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// A named property.
    Property,
    /// An array element.
    Element,
    /// A closure (context) variable.
    Context,
    /// A field of the engine's own.
    Internal,
    /// A weak reference.
    Weak,
}

/// One named reference from a holder to a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edge {
    /// Index of the holder as shown (the owner of a property or elements store).
    pub holder: usize,
    /// How the reference reads.
    pub kind: EdgeKind,
    /// `.name`, `[17]`, a variable name, or a field name.
    pub name: String,
    /// Intermediate objects the edge passes through (a PropertyArray, an elements store, a
    /// dictionary, a PropertyCell), outermost last.
    pub via: Vec<usize>,
}

/// One step of a retainer path: `target` is held by `edge.holder` under `edge.name`.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// The object held.
    pub target: usize,
    /// The edge that holds it.
    pub edge: Edge,
}

/// A retainer path from a root to the object asked about.
#[derive(Debug, Clone, Serialize)]
pub struct RetainerPath {
    /// Steps from the object outwards: `steps[0].target` is the object itself.
    pub steps: Vec<Step>,
    /// The object at the root end (the last holder, or the object itself).
    pub root: usize,
    /// Why the root end is a root.
    pub root_kind: RootKind,
}

/// Why a path ends where it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
}

/// Holder kinds whose slots are named through the object that owns them.
fn is_store(k: Kind) -> bool {
    matches!(
        k,
        Kind::FixedArray
            | Kind::FixedDoubleArray
            | Kind::PropertyArray
            | Kind::NameDictionary
            | Kind::NumberDictionary
            | Kind::GlobalDictionary
            | Kind::PropertyCell
            | Kind::ContextCell
    )
}

/// Names references. Holds per-holder caches of nothing: every call reads the heap again, and
/// callers ask for the few edges they show.
pub struct Edges<'h> {
    h: &'h Heap,
    g: &'h Graph,
    r: Reader<'h>,
}

impl<'h> Edges<'h> {
    /// A namer of edges over `h` and its graph `g`.
    pub fn new(h: &'h Heap, g: &'h Graph) -> Edges<'h> {
        Edges {
            h,
            g,
            r: h.reader(),
        }
    }

    /// Byte offsets of the slots of object `holder` that point at object `target`.
    pub fn slots_to(&self, holder: usize, target: usize) -> Vec<u64> {
        let idx = &self.h.index;
        let start = idx.addrs[holder];
        let mut out = Vec::new();
        idx.for_each_slot(&self.h.p, holder, |a, w| {
            if idx.target(w) == Some(target) {
                out.push(a - start);
            }
        });
        out
    }

    /// Every named reference to `target`: one per slot of each retainer, with stores
    /// (property arrays, dictionaries, elements, property cells) credited to their owner.
    pub fn edges_to(&self, target: usize) -> Vec<Edge> {
        let mut out = Vec::new();
        for (holder, weak) in self.g.retainers_of(target) {
            for off in self.slots_to(holder, target) {
                let mut e = self.name_slot(holder, off, 0);
                if weak {
                    e.kind = EdgeKind::Weak;
                }
                out.push(e);
            }
        }
        out.sort_by(|a, b| {
            (a.holder, &a.name)
                .cmp(&(b.holder, &b.name))
                .then(a.via.cmp(&b.via))
        });
        out.dedup();
        out
    }

    /// Name the slot at byte offset `off` of object `holder`. Slots of stores are named by
    /// their owner (found among the store's retainers), up to three levels out.
    pub fn name_slot(&self, holder: usize, off: u64, depth: usize) -> Edge {
        let h = self.h;
        let r = &self.r;
        let f = &h.p.fields;
        let obj = h.index.tagged(holder);
        let kind = h.index.kind(&h.p, holder);
        let internal = |name: String| Edge {
            holder,
            kind: EdgeKind::Internal,
            name,
            via: Vec::new(),
        };
        if off == 0 {
            return internal("map".into());
        }
        if depth < 3 && is_store(kind) {
            if let Some(e) = self.name_via_owner(holder, kind, off) {
                return e;
            }
        }
        if kind.is_receiver() {
            if off == f.receiver_properties {
                return internal("properties".into());
            }
            if off == f.object_elements && kind != Kind::JSFunction {
                return internal("elements".into());
            }
            if kind == Kind::JSFunction {
                if off == f.function_context {
                    return internal("context".into());
                }
                if off == f.function_shared {
                    return internal("shared".into());
                }
            }
            if let Some(name) = self.in_object_property(obj, off) {
                return Edge {
                    holder,
                    kind: EdgeKind::Property,
                    name,
                    via: Vec::new(),
                };
            }
        }
        if matches!(kind, Kind::Context | Kind::NativeContext) {
            let slot = off.saturating_sub(f.fixed_array_data) / 8;
            if slot == f.context_scope_info {
                return internal("scope_info".into());
            }
            if slot == f.context_previous {
                return internal("previous".into());
            }
            if kind == Kind::Context && slot >= f.context_min_slots {
                let names = r
                    .array_get(obj, f.context_scope_info)
                    .map(|si| r.scope_local_names(si))
                    .unwrap_or_default();
                let name = names
                    .get((slot - f.context_min_slots) as usize)
                    .cloned()
                    .unwrap_or_else(|| format!("<slot {slot}>"));
                return Edge {
                    holder,
                    kind: EdgeKind::Context,
                    name,
                    via: Vec::new(),
                };
            }
        }
        if is_store(kind)
            && off >= f.fixed_array_data
            && !matches!(kind, Kind::PropertyCell | Kind::ContextCell)
        {
            return Edge {
                holder,
                kind: EdgeKind::Element,
                name: format!("[{}]", (off - f.fixed_array_data) / 8),
                via: Vec::new(),
            };
        }
        internal(format!("+{off:#x}"))
    }

    /// The name of a store's slot as its owner reads it: an element of the owner's elements,
    /// or a property of its property array, dictionary or global cell.
    fn name_via_owner(&self, store: usize, kind: Kind, off: u64) -> Option<Edge> {
        let h = self.h;
        let r = &self.r;
        let f = &h.p.fields;
        let st = h.index.tagged(store);
        let data = f.fixed_array_data;
        if kind == Kind::ContextCell {
            // V8 14: a context slot holds the cell, the cell the variable's value (at +8).
            if off != 8 {
                return None;
            }
            let (ctx, slot) = self
                .g
                .retainers_of(store)
                .into_iter()
                .map(|x| x.0)
                .filter(|&c| h.index.kind(&h.p, c) == Kind::Context)
                .find_map(|c| Some((c, *self.slots_to(c, store).first()?)))?;
            let mut e = self.name_slot(ctx, slot, 3);
            e.via.insert(0, store);
            return Some(e);
        }
        if kind == Kind::PropertyCell {
            if off != f.property_cell_value {
                return None;
            }
            let key = r.key(r.slot(st, f.property_cell_name)?);
            // The cell sits in a GlobalDictionary owned by a global object.
            let dict = self
                .g
                .retainers_of(store)
                .into_iter()
                .map(|x| x.0)
                .find(|&d| h.index.kind(&h.p, d) == Kind::GlobalDictionary)?;
            let owner = self.owner_of(dict, f.receiver_properties)?;
            return Some(Edge {
                holder: owner,
                kind: EdgeKind::Property,
                name: format!(".{key}"),
                via: vec![store, dict],
            });
        }
        let (field, what) = match kind {
            Kind::PropertyArray | Kind::NameDictionary => (f.receiver_properties, "properties"),
            Kind::GlobalDictionary => return None,
            _ => (f.object_elements, "elements"),
        };
        let owner = self.owner_of(store, field)?;
        let a = off.checked_sub(data)? / 8;
        let edge = |kind, name| {
            Some(Edge {
                holder: owner,
                kind,
                name,
                via: vec![store],
            })
        };
        match (kind, what) {
            (Kind::PropertyArray, _) => {
                let name = self.out_of_object_property(h.index.tagged(owner), a)?;
                edge(EdgeKind::Property, name)
            }
            (Kind::NameDictionary, _) => {
                let first = f.name_dictionary_first;
                let es = f.name_dictionary_entry;
                match a.checked_sub(first).map(|e| e % es) {
                    // The key itself: held by the dictionary for the property.
                    Some(0) => edge(
                        EdgeKind::Internal,
                        format!("key of .{}", r.key(r.array_get(st, a)?)),
                    ),
                    Some(1) => edge(
                        EdgeKind::Property,
                        format!(".{}", r.key(r.array_get(st, a - 1)?)),
                    ),
                    _ => None,
                }
            }
            (Kind::NumberDictionary, _) => {
                let first = f.number_dictionary_first;
                let es = f.number_dictionary_entry;
                if a < first || (a - first) % es != 1 {
                    return None;
                }
                let k = r.smi(r.array_get(st, a - 1)?)?;
                edge(EdgeKind::Element, format!("[{k}]"))
            }
            _ => edge(EdgeKind::Element, format!("[{a}]")),
        }
    }

    /// The reachable object whose field at `field` holds `store`.
    fn owner_of(&self, store: usize, field: u64) -> Option<usize> {
        let h = self.h;
        let want = h.index.tagged(store);
        self.g
            .retainers_of(store)
            .into_iter()
            .map(|x| x.0)
            .find(|&o| {
                h.index.kind(&h.p, o).is_receiver()
                    && self.r.slot(h.index.tagged(o), field) == Some(want)
            })
    }

    /// The property stored in the in-object field at byte offset `off` of `obj`.
    fn in_object_property(&self, obj: u64, off: u64) -> Option<String> {
        self.fast_property(obj, |start, inobject, idx| {
            idx < inobject && (start + idx) * 8 == off
        })
    }

    /// The property stored at index `a` of `obj`'s PropertyArray.
    fn out_of_object_property(&self, obj: u64, a: u64) -> Option<String> {
        self.fast_property(obj, |_, inobject, idx| {
            idx >= inobject && idx - inobject == a
        })
    }

    /// The key of the first field descriptor of `obj`'s map whose field index satisfies
    /// `pick(inobject_start, inobject_count, index)`.
    fn fast_property(&self, obj: u64, pick: impl Fn(u64, u64, u64) -> bool) -> Option<String> {
        let r = &self.r;
        let p = &self.h.p;
        let fl = &p.fields;
        let d = &fl.details;
        let map = r.map(obj)?;
        if r.is_dictionary_map(map) {
            return None;
        }
        let bf3 = r.bit_field3(map)? as u64;
        let n = (bf3 & fl.bf3_own_descriptors_mask) >> fl.bf3_own_descriptors_shift;
        let da = r.slot(map, p.layout.map_instance_descriptors as u64)?;
        let words = r.u8_at(map, p.layout.map_instance_size_in_words as u64)? as u64;
        let start = r.u8_at(map, fl.map_inobject_start)? as u64;
        let inobject = words.saturating_sub(start);
        for i in 0..n.min(1 << 12) {
            let base = fl.descriptors_header + 24 * i;
            let v = r.smi(r.slot(da, base + 8)?)? as u64;
            if v & d.location_mask != 0 {
                continue;
            }
            let idx = (v & d.index_mask) >> d.index_shift;
            if pick(start, inobject, idx) {
                return Some(format!(".{}", r.key(r.slot(da, base)?)));
            }
        }
        None
    }

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
                reg: elfcore::core::Regs::NAMES
                    .get(*reg)
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
    }
}

/// What the memory at `a` is: a thread's stack, a mapped file, or anonymous memory.
pub fn describe_region(p: &Process, a: u64) -> String {
    let core = p.dump();
    let seg = core
        .segments()
        .iter()
        .find(|s| s.vaddr.0 <= a && a < s.end().0);
    let Some(seg) = seg else {
        return "unknown memory".into();
    };
    for (k, t) in core.threads().iter().enumerate() {
        let sp = t.regs.rsp();
        if seg.vaddr.0 <= sp && sp < seg.end().0 {
            return if k == 0 {
                "stack of the crashing thread".into()
            } else {
                format!("stack of thread {}", k + 1)
            };
        }
    }
    if let Some(f) = core.mapped_file_at(elfcore::Address(a)) {
        let name = f.path.rsplit('/').next().unwrap_or(&f.path).to_string();
        return format!("{name} data");
    }
    "anonymous memory (C++ heap, handles)".into()
}

/// How an object is called in a path or a list of references: its snapshot name for JS
/// objects and contexts, `Function name` for functions, otherwise its kind (`FixedArray`,
/// `PropertyCell`) or instance type.
pub fn display_name(h: &Heap, i: usize) -> String {
    let kind = h.index.kind(&h.p, i);
    if kind == Kind::JSGlobalObject {
        return "global".into();
    }
    if let Some(n) = h.names.get(i) {
        return n.to_string();
    }
    let r = h.reader();
    match kind {
        Kind::JSFunction => {
            let n = r.function_name(h.index.tagged(i));
            if n.is_empty() {
                "Function (anonymous)".into()
            } else {
                format!("Function {n}")
            }
        }
        Kind::String => "string".into(),
        Kind::Other => {
            h.p.types
                .name(h.index.types[i])
                .map(|t| t.trim_end_matches("_TYPE").to_string())
                .unwrap_or_else(|| "object".into())
        }
        k => format!("{k:?}"),
    }
}

/// Reachable JS objects with an own property named `name`, with the property's value (for
/// accessors, the AccessorPair). Objects with fast properties are decided once per map.
pub fn objects_with_property(h: &Heap, name: &str) -> Vec<(usize, u64)> {
    let r = h.reader();
    let n = h.index.len();
    let chunk = 1 << 14;
    let mut out: Vec<(usize, u64)> = (0..n.div_ceil(chunk))
        .into_par_iter()
        .flat_map_iter(|c| {
            // Per map: does its own descriptor list have the key?
            let mut by_map: FxHashMap<u64, bool> = FxHashMap::default();
            let mut found = Vec::new();
            for i in c * chunk..((c + 1) * chunk).min(n) {
                if h.names.id(i).is_none()
                    || !h.marking.is_marked(i)
                    || !h.index.kind(&h.p, i).is_receiver()
                {
                    continue;
                }
                let obj = h.index.tagged(i);
                let map = h.index.map(&h.p, i);
                let fast = !r.is_dictionary_map(map);
                if fast {
                    if let Some(false) = by_map.get(&map) {
                        continue;
                    }
                }
                let mut hit = None;
                r.for_each_own_property(obj, |prop| {
                    if prop.key_word != 0 && r.string_eq(prop.key_word, name) {
                        hit = Some(prop.value);
                        return false;
                    }
                    true
                });
                if fast {
                    by_map.insert(map, hit.is_some());
                }
                if let Some(v) = hit {
                    found.push((i, v));
                }
            }
            found
        })
        .collect();
    out.sort_unstable();
    out
}

/// Reachable strings equal to `text` (every representation: the comparison reads through
/// cons, sliced, thin and external strings).
pub fn strings_equal(h: &Heap, text: &str) -> Vec<usize> {
    let r = h.reader();
    let n = h.index.len();
    let chunk = 1 << 14;
    let want_len = text.encode_utf16().count() as u64;
    let len_off = h.p.layout.string_length as u64;
    let mut out: Vec<usize> = (0..n.div_ceil(chunk))
        .into_par_iter()
        .flat_map_iter(|c| {
            let mut found = Vec::new();
            for i in c * chunk..((c + 1) * chunk).min(n) {
                if h.index.kind(&h.p, i) != Kind::String || !h.marking.is_marked(i) {
                    continue;
                }
                let s = h.index.tagged(i);
                if r.u32_at(s, len_off).map(u64::from) != Some(want_len) {
                    continue;
                }
                if r.string_eq(s, text) {
                    found.push(i);
                }
            }
            found
        })
        .collect();
    out.sort_unstable();
    out
}
