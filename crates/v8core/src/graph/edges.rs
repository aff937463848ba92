//! Edges named as a JavaScript developer reads them: a property (`.session`, from in-object
//! fields, the PropertyArray, a dictionary or a global PropertyCell, all credited to the object
//! that owns the store), an element (`[17]`), a closure variable (`socket`, by its ScopeInfo
//! name) or an internal field (`map`, `context`, `+0x18`). Edges are stored unnamed in the
//! [`Graph`]; a name is found when one is shown, by reading the holder's slots again.

use crate::graph::reverse::Graph;
use crate::heap::loaded::Heap;
use crate::meta::kinds::Kind;
use crate::objects::reader::Reader;
use serde::Serialize;

/// How an edge is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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
    pub(crate) h: &'h Heap,
    pub(crate) g: &'h Graph,
    pub(crate) r: Reader<'h>,
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
        let start = idx.addr(holder);
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
}
