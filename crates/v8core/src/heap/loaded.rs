//! A loaded heap: the process, its object index, liveness and snapshot names, built once and
//! shared by every question asked of the core (CLI commands, the Python API).

use crate::heap::index::{HeapIndex, Progress};
use crate::heap::marking::Marking;
pub use crate::heap::marking::StoreRole;
use crate::objects::census::{self, CensusRow, Names, Scope};
use crate::objects::reader::Reader;
use crate::process::Process;
use std::sync::Arc;

/// Process + index + marking + names.
pub struct Heap {
    /// The process (shared with the [`Session`](crate::session::Session) that loaded it).
    pub p: Arc<Process>,
    /// Every object.
    pub index: HeapIndex,
    /// Liveness from the conservative roots.
    pub marking: Marking,
    /// Snapshot name of each object (none if not of snapshot type "object").
    pub names: Names,
}

impl Heap {
    /// Walk, mark and name the heap of `p`.
    pub fn load(p: impl Into<Arc<Process>>, progress: Progress) -> Heap {
        let p = p.into();
        // Objects are named as the walk finds them, while their page is at hand.
        let naming = census::Naming::new(&p);
        let (index, ids) = HeapIndex::build_with(&p, progress, &naming, true);
        let names = naming.into_names(ids);
        let marking = index.mark(&p, progress);
        // What the command does with the loaded heap is the next stage (for the timings).
        progress("answering", 1, 1);
        Heap {
            p,
            index,
            marking,
            names,
        }
    }

    /// Whether object `i` is some reachable JS object's elements or properties store.
    pub fn store_role(&self, i: usize) -> Option<StoreRole> {
        self.marking.store_role(i)
    }

    /// A reader over the process.
    pub fn reader(&self) -> Reader<'_> {
        Reader::new(&self.p)
    }

    /// Per-constructor census.
    pub fn census(&self, scope: Scope, group_by_properties: bool) -> Vec<CensusRow> {
        census::census(
            &self.p,
            &self.index,
            &self.names,
            &self.marking,
            scope,
            group_by_properties,
        )
    }

    /// Indices of the objects named `name`, in address order.
    pub fn instances(&self, name: &str, scope: Scope) -> Vec<usize> {
        let Some(id) = self.names.lookup(name) else {
            return Vec::new();
        };
        (0..self.index.len())
            .filter(|&i| {
                self.names.id(i) == Some(id) && (scope == Scope::All || self.marking.is_marked(i))
            })
            .collect()
    }
}
