//! Per-constructor census of the heap (`findjsobjects`): the objects V8's heap snapshot lists
//! as type "object" (JS objects except functions and regexps, plus non-native contexts), named
//! as the snapshot names them, counted with their self size.

use crate::heap::index::{HeapIndex, PerObject, Values};
use crate::heap::marking::Marking;
use crate::heap::walk::HeapObject;
use crate::meta::kinds::Kind;
use crate::objects::naming::Namer;
use crate::objects::reader::Reader;
use crate::process::Process;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One row of the census.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct CensusRow {
    /// Constructor name (snapshot naming).
    pub name: String,
    /// Number of objects.
    pub count: u64,
    /// Total self size in bytes.
    pub size: u64,
    /// With `--all`: how many of `count` are unreachable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreachable: Option<u64>,
    /// With `--retained`: the size of everything the objects of this name keep alive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retained: Option<u64>,
    /// With grouping by properties: the property names of this group's objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub properties: Option<Vec<String>>,
}

/// Which objects to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Only objects reachable from the roots (what V8's snapshot holds).
    Reachable,
    /// Every object the walk found, dead or alive.
    All,
}

/// The snapshot name of every indexed object, interned: 2 bytes per object (4 when a heap
/// has 65,535 distinct names or more).
pub struct Names {
    /// Each object's name id, `NO_NAME` for none.
    ids: Values,
    table: Vec<Arc<str>>,
}

/// No name: the object is not of snapshot type "object".
const NO_NAME: u32 = u32::MAX;

impl Names {
    /// The name of object `i`, if it is of snapshot type "object".
    pub fn get(&self, i: usize) -> Option<&Arc<str>> {
        let id = self.ids.get(i)?;
        self.table.get(id as usize)
    }

    /// The id of object `i`'s name (`None` for objects that are not "object"s).
    pub fn id(&self, i: usize) -> Option<u32> {
        self.ids.get(i).filter(|&id| id != NO_NAME)
    }

    /// Every distinct name, indexed by id.
    pub fn table(&self) -> &[Arc<str>] {
        &self.table
    }

    /// The id of `name`, if some object has it.
    pub fn lookup(&self, name: &str) -> Option<u32> {
        self.table
            .iter()
            .position(|n| &**n == name)
            .map(|i| i as u32)
    }
}

#[derive(Default)]
struct Interner {
    table: Vec<Arc<str>>,
    by_name: HashMap<Arc<str>, u32>,
}

impl Interner {
    fn intern(&mut self, n: &Arc<str>) -> u32 {
        if let Some(&id) = self.by_name.get(n) {
            return id;
        }
        let id = self.table.len() as u32;
        self.table.push(n.clone());
        self.by_name.insert(n.clone(), id);
        id
    }
}

/// The snapshot name of every indexed object (none for objects that are not of snapshot type
/// "object"), made by the heap walk as it goes ([`HeapIndex::build_with`]): the object's page
/// is then at hand, where a pass of its own would read the whole core again. Each walking
/// thread has its own namer; it turns the names its namer hands out (one shared `Arc` per
/// map) into ids through a cache keyed by the `Arc`'s address, so the shared interner is
/// locked only once per distinct name and thread, and objects whose name is their map's are
/// named from a small cache keyed by the map.
pub struct Naming<'p> {
    r: Reader<'p>,
    interner: Mutex<Interner>,
}

/// One walking thread's part of [`Naming`].
pub struct NamingState<'p> {
    namer: Namer<'p>,
    /// Ids by the address of the name's `Arc` (keeping the `Arc` keeps its address from being
    /// reused).
    seen: FxHashMap<usize, (Arc<str>, u32)>,
    /// Ids by map, for maps whose objects are all named alike.
    by_map: [(u64, u32); MAP_CACHE],
}

/// Entries of [`NamingState::by_map`].
const MAP_CACHE: usize = 64;

impl<'p> Naming<'p> {
    /// Naming for the objects of `p`.
    pub fn new(p: &'p Process) -> Naming<'p> {
        Naming {
            r: Reader::new(p),
            interner: Mutex::new(Interner::default()),
        }
    }

    /// The names, given the id of each object as the walk made them.
    pub fn into_names(self, ids: Values) -> Names {
        let table = self
            .interner
            .into_inner()
            .map(|t| t.table)
            .unwrap_or_default();
        Names { ids, table }
    }
}

impl<'p> PerObject for Naming<'p> {
    type State = NamingState<'p>;

    fn state(&self) -> NamingState<'p> {
        NamingState {
            namer: Namer::new(self.r),
            seen: FxHashMap::default(),
            by_map: [(0, NO_NAME); MAP_CACHE],
        }
    }

    #[inline]
    fn visit(&self, st: &mut NamingState<'p>, o: &HeapObject) -> u32 {
        let kind = self.r.p.kinds.kind(o.instance_type);
        if kind != Kind::Context && !kind.is_snapshot_object() {
            return NO_NAME;
        }
        let slot = (o.map >> 3) as usize % MAP_CACHE;
        if st.by_map[slot].0 == o.map && o.map != 0 {
            return st.by_map[slot].1;
        }
        let Some(name) = st.namer.snapshot_name(o.addr.0 | 1, kind, o.map) else {
            return NO_NAME;
        };
        let key = Arc::as_ptr(&name) as *const u8 as usize;
        let id = match st.seen.get(&key) {
            Some((_, id)) => *id,
            None => {
                let id = self
                    .interner
                    .lock()
                    .map(|mut t| t.intern(&name))
                    .unwrap_or(NO_NAME);
                st.seen.insert(key, (name, id));
                id
            }
        };
        if kind == Kind::Context || st.namer.named_by_map(o.map) {
            st.by_map[slot] = (o.map, id);
        }
        id
    }
}

/// Count per name. `group_by_properties` splits each name by its own property names (llnode's
/// `-d`).
pub fn census(
    p: &Process,
    idx: &HeapIndex,
    names: &Names,
    marking: &Marking,
    scope: Scope,
    group_by_properties: bool,
) -> Vec<CensusRow> {
    let r = Reader::new(p);
    type GroupKey = (u32, Option<Vec<String>>);
    let mut rows: HashMap<GroupKey, (u64, u64, u64)> = HashMap::new();
    let counted = |i: usize| -> Option<(u32, bool)> {
        let id = names.ids.get(i)?;
        let live = marking.is_marked(i);
        (id != NO_NAME && (scope == Scope::All || live)).then_some((id, live))
    };
    if group_by_properties {
        for i in 0..names.ids.len() {
            let Some((id, live)) = counted(i) else {
                continue;
            };
            let props = r
                .own_properties(idx.tagged(i), 64)
                .unwrap_or_default()
                .into_iter()
                .map(|p| p.key.to_string())
                .collect::<Vec<_>>();
            let e = rows.entry((id, Some(props))).or_default();
            e.0 += 1;
            e.1 += idx.size(i) as u64;
            e.2 += (!live) as u64;
        }
    } else {
        // Per name id: (count, size, unreachable), summed over chunks in parallel.
        let width = names.table.len();
        let per_id = (0..names.ids.len())
            .into_par_iter()
            .fold(
                || vec![(0u64, 0u64, 0u64); width],
                |mut acc, i| {
                    if let Some((id, live)) = counted(i) {
                        if let Some(e) = acc.get_mut(id as usize) {
                            e.0 += 1;
                            e.1 += idx.size(i) as u64;
                            e.2 += (!live) as u64;
                        }
                    }
                    acc
                },
            )
            .reduce(
                || vec![(0u64, 0u64, 0u64); width],
                |mut a, b| {
                    for (x, y) in a.iter_mut().zip(b) {
                        x.0 += y.0;
                        x.1 += y.1;
                        x.2 += y.2;
                    }
                    a
                },
            );
        for (id, e) in per_id.into_iter().enumerate() {
            if e.0 > 0 {
                rows.insert((id as u32, None), e);
            }
        }
    }
    let mut out: Vec<CensusRow> = rows
        .into_iter()
        .map(|((id, properties), (count, size, dead))| CensusRow {
            name: names
                .table
                .get(id as usize)
                .map(|n| n.to_string())
                .unwrap_or_default(),
            count,
            size,
            unreachable: (scope == Scope::All).then_some(dead),
            retained: None,
            properties,
        })
        .collect();
    out.sort_by(|a, b| {
        b.size
            .cmp(&a.size)
            .then(b.count.cmp(&a.count))
            .then(a.name.cmp(&b.name))
            .then(a.properties.cmp(&b.properties))
    });
    out
}
