//! Per-constructor census of the heap (`findjsobjects`): the objects V8's heap snapshot lists
//! as type "object" (JS objects except functions and regexps, plus non-native contexts), named
//! as the snapshot names them, counted with their self size.

use crate::heapindex::{HeapIndex, Marking};
use crate::kinds::Kind;
use crate::naming::Namer;
use crate::objects::Reader;
use crate::process::Process;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// One row of the census.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
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

/// The snapshot name of every indexed object (`None` for objects that are not of snapshot type
/// "object"). Computed in parallel, one namer per thread.
pub fn name_all(p: &Process, idx: &HeapIndex) -> Vec<Option<Arc<str>>> {
    let r = Reader::new(p);
    (0..idx.len())
        .into_par_iter()
        .map_init(
            || Namer::new(r),
            |namer, i| {
                let kind = idx.kind(p, i);
                if kind != Kind::Context && !kind.is_snapshot_object() {
                    return None;
                }
                namer.snapshot_name(idx.tagged(i), kind, idx.maps[i])
            },
        )
        .collect()
}

/// Count per name. `group_by_properties` splits each name by its own property names (llnode's
/// `-d`).
pub fn census(
    p: &Process,
    idx: &HeapIndex,
    names: &[Option<Arc<str>>],
    marking: &Marking,
    scope: Scope,
    group_by_properties: bool,
) -> Vec<CensusRow> {
    let r = Reader::new(p);
    type GroupKey = (Arc<str>, Option<Vec<String>>);
    let mut rows: HashMap<GroupKey, (u64, u64, u64)> = HashMap::new();
    for (i, name) in names.iter().enumerate() {
        let Some(name) = name else { continue };
        let live = marking.is_marked(i);
        if scope == Scope::Reachable && !live {
            continue;
        }
        let props = group_by_properties.then(|| {
            r.own_properties(idx.tagged(i), 64)
                .unwrap_or_default()
                .into_iter()
                .map(|p| p.key.to_string())
                .collect::<Vec<_>>()
        });
        let e = rows.entry((name.clone(), props)).or_default();
        e.0 += 1;
        e.1 += idx.sizes[i] as u64;
        e.2 += (!live) as u64;
    }
    let mut out: Vec<CensusRow> = rows
        .into_iter()
        .map(|((name, properties), (count, size, dead))| CensusRow {
            name: name.to_string(),
            count,
            size,
            unreachable: (scope == Scope::All).then_some(dead),
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
