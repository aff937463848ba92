//! A heap snapshot as a graph in compact arrays: per node its type, name, id, self size and
//! first edge (25 bytes); per edge its type, name and target (9 bytes); the reverse edges and
//! the edges' sources when a question needs who holds whom (8 bytes an edge more).
//!
//! Node and edge types are read by name from `snapshot.meta` and mapped onto one numbering
//! (the export's, `crate::graph::snapshot::NODE_TYPES`), so a file whose types are listed in
//! another order reads the same.

use super::parse::Parsed;
use crate::graph::dominators::DomGraph;
use crate::graph::snapshot as ex;
use std::borrow::Cow;
use std::sync::OnceLock;

/// A node type this reader does not know (`wasm object`, a future one): shown by its name.
pub(crate) const T_UNKNOWN: u8 = 255;

/// Edge types.
pub(crate) const E_CONTEXT: u8 = 0;
pub(crate) const E_ELEMENT: u8 = 1;
pub(crate) const E_PROPERTY: u8 = 2;
pub(crate) const E_INTERNAL: u8 = 3;
pub(crate) const E_HIDDEN: u8 = 4;
pub(crate) const E_SHORTCUT: u8 = 5;
pub(crate) const E_WEAK: u8 = 6;
pub(crate) const E_UNKNOWN: u8 = 255;
const EDGE_TYPES: [&str; 7] = [
    "context", "element", "property", "internal", "hidden", "shortcut", "weak",
];

/// Who holds whom: the reverse of the edges.
pub(crate) struct Reverse {
    /// `first[v]..first[v+1]` index `edges` for node v's incoming edges.
    first: Vec<u32>,
    /// Edge indexes, grouped by target.
    edges: Vec<u32>,
    /// The source node of each edge.
    pub src: Vec<u32>,
}

/// The snapshot's graph.
pub struct SnapGraph {
    pub(crate) file: Parsed,
    /// Node type (export numbering, or [`T_UNKNOWN`]).
    pub(crate) ty: Vec<u8>,
    /// The file's own type number of each node type, for `T_UNKNOWN` names.
    raw_types: Vec<String>,
    raw_ty: Vec<u8>,
    /// Edge types (the `E_` numbering).
    pub(crate) ety: Vec<u8>,
    /// `first[v]..first[v+1]` are v's edges.
    first: Vec<u32>,
    by_id: OnceLock<Vec<u32>>,
    reverse: OnceLock<Reverse>,
    /// Node index to its row in `locations`.
    locations: OnceLock<rustc_hash::FxHashMap<u32, u32>>,
}

impl SnapGraph {
    pub(crate) fn new(file: Parsed) -> crate::Result<SnapGraph> {
        let code = |name: &str| -> u8 {
            ex::NODE_TYPES
                .iter()
                .position(|t| *t == name)
                .map_or(T_UNKNOWN, |i| i as u8)
        };
        let node_map: Vec<u8> = file.meta.node_types.iter().map(|t| code(t)).collect();
        let edge_map: Vec<u8> = file
            .meta
            .edge_types
            .iter()
            .map(|t| {
                EDGE_TYPES
                    .iter()
                    .position(|e| e == t)
                    .map_or(E_UNKNOWN, |i| i as u8)
            })
            .collect();
        let ty = file
            .nodes
            .ty
            .iter()
            .map(|&t| node_map.get(t as usize).copied().unwrap_or(T_UNKNOWN))
            .collect();
        let ety = file
            .edges
            .ty
            .iter()
            .map(|&t| edge_map.get(t as usize).copied().unwrap_or(E_UNKNOWN))
            .collect();
        let mut first = Vec::with_capacity(file.nodes.edge_count.len() + 1);
        let mut at = 0u64;
        first.push(0);
        for &c in &file.nodes.edge_count {
            at += c as u64;
            first.push(u32::try_from(at).map_err(|_| crate::Error::SnapshotFormat {
                path: std::path::PathBuf::new(),
                offset: 0,
                what: "more than 4 billion edges".into(),
            })?);
        }
        let raw_ty = file.nodes.ty.clone();
        Ok(SnapGraph {
            raw_types: file.meta.node_types.clone(),
            raw_ty,
            ty,
            ety,
            first,
            file,
            by_id: OnceLock::new(),
            reverse: OnceLock::new(),
            locations: OnceLock::new(),
        })
    }

    /// Nodes.
    pub fn len(&self) -> usize {
        self.ty.len()
    }

    /// Whether the snapshot has no nodes (never: opening refuses it).
    pub fn is_empty(&self) -> bool {
        self.ty.is_empty()
    }

    /// Edges.
    pub fn edge_count(&self) -> usize {
        self.ety.len()
    }

    /// Strings in the table.
    pub fn string_count(&self) -> usize {
        self.file.strings.len()
    }

    /// A string of the table.
    pub fn string(&self, i: u32) -> Cow<'_, str> {
        self.file.string(i as u64)
    }

    /// Node v's name string index.
    pub fn name_id(&self, v: usize) -> u32 {
        self.file.nodes.name[v]
    }

    /// Node v's name as the snapshot gives it.
    pub fn name(&self, v: usize) -> Cow<'_, str> {
        self.string(self.name_id(v))
    }

    /// Node v's id.
    pub fn id(&self, v: usize) -> u64 {
        self.file.nodes.id[v]
    }

    /// Node v's self size.
    pub fn self_size(&self, v: usize) -> u64 {
        self.file.nodes.size[v]
    }

    /// The type's name as the file spells it.
    pub fn type_name(&self, v: usize) -> &str {
        self.raw_types
            .get(self.raw_ty[v] as usize)
            .map_or("?", |s| s.as_str())
    }

    /// Edge indexes of node v.
    pub fn edges(&self, v: usize) -> std::ops::Range<usize> {
        self.first[v] as usize..self.first[v + 1] as usize
    }

    /// Edge e's target node.
    pub fn to(&self, e: usize) -> usize {
        self.file.edges.to[e] as usize
    }

    /// Edge e's name: a property or variable name, or an element's index.
    pub fn edge_name(&self, e: usize) -> Cow<'_, str> {
        let n = self.file.edges.name[e];
        match self.ety[e] {
            E_ELEMENT | E_HIDDEN => n.to_string().into(),
            _ => self.string(n),
        }
    }

    /// Edge e's name as `retainers` shows it: `.name`, `[3]`, a variable name, an internal
    /// field.
    pub fn edge_label(&self, e: usize) -> String {
        let name = self.edge_name(e);
        match self.ety[e] {
            E_PROPERTY => format!(".{name}"),
            E_ELEMENT => format!("[{name}]"),
            E_HIDDEN => format!("(hidden {name})"),
            E_SHORTCUT => name.into_owned(),
            _ => name.into_owned(),
        }
    }

    /// The node with id `id`.
    pub fn node_of_id(&self, id: u64) -> Option<usize> {
        let by = self.by_id.get_or_init(|| {
            let mut v: Vec<u32> = (0..self.len() as u32).collect();
            v.sort_unstable_by_key(|&i| self.id(i as usize));
            v
        });
        by.binary_search_by_key(&id, |&i| self.id(i as usize))
            .ok()
            .map(|k| by[k] as usize)
    }

    /// The reverse edges (built on first use).
    pub(crate) fn reverse(&self) -> &Reverse {
        self.reverse.get_or_init(|| {
            let n = self.len();
            let mut first = vec![0u32; n + 2];
            for &t in &self.file.edges.to {
                first[t as usize + 2] += 1;
            }
            for k in 2..first.len() {
                first[k] += first[k - 1];
            }
            let mut edges = vec![0u32; self.edge_count()];
            let mut src = vec![0u32; self.edge_count()];
            for v in 0..n {
                for e in self.edges(v) {
                    src[e] = v as u32;
                    let t = self.file.edges.to[e] as usize;
                    let slot = &mut first[t + 1];
                    edges[*slot as usize] = e as u32;
                    *slot += 1;
                }
            }
            first.pop();
            Reverse { first, edges, src }
        })
    }

    /// The edges that point at node v.
    pub fn retaining_edges(&self, v: usize) -> impl Iterator<Item = usize> + '_ {
        let r = self.reverse();
        let (a, b) = (r.first[v] as usize, r.first[v + 1] as usize);
        r.edges[a..b].iter().map(|&e| e as usize)
    }

    /// The node edge e comes from.
    pub fn source(&self, e: usize) -> usize {
        self.reverse().src[e] as usize
    }

    /// `(script_id, line, column)` of a closure, 0-based as the file has them.
    pub fn location(&self, v: usize) -> Option<(u64, u64, u64)> {
        let f = &self.file.meta.location_fields;
        let k = f.len();
        if k == 0 {
            return None;
        }
        let col = |n: &str| f.iter().position(|x| x == n);
        let (oi, si, li, ci) = (
            col("object_index")?,
            col("script_id")?,
            col("line")?,
            col("column")?,
        );
        let nf = self.file.meta.node_fields.len() as u64;
        let map = self.locations.get_or_init(|| {
            let l = &self.file.locations;
            (0..l.len() / k)
                .map(|r| ((l[r * k + oi] / nf) as u32, r as u32))
                .collect()
        });
        let r = *map.get(&(v as u32))? as usize;
        let l = &self.file.locations;
        Some((l[r * k + si], l[r * k + li], l[r * k + ci]))
    }

    /// Whether node v is a string of some representation.
    pub fn is_string(&self, v: usize) -> bool {
        matches!(self.ty[v], ex::T_STRING | ex::T_CONS | ex::T_SLICED)
    }
}

/// Which edges the dominator tree follows, as DevTools' `HeapSnapshot` decides: no weak
/// edges; shortcut edges only from the root (they mark the global objects, the "user
/// roots"); and no edge from an object outside the user roots' reach into one inside it
/// (so that what the debugger or V8's caches also hold is still dominated by the program's
/// own objects).
pub(crate) struct DevtoolsDom<'a> {
    pub g: &'a SnapGraph,
    /// Nodes reached from the user roots.
    page: Vec<bool>,
}

impl<'a> DevtoolsDom<'a> {
    pub fn new(g: &'a SnapGraph) -> DevtoolsDom<'a> {
        let mut page = vec![false; g.len()];
        let mut todo: Vec<usize> = g
            .edges(0)
            .filter(|&e| g.ety[e] == E_SHORTCUT)
            .map(|e| g.to(e))
            .collect();
        for &t in &todo {
            page[t] = true;
        }
        while let Some(v) = todo.pop() {
            for e in g.edges(v) {
                let t = g.to(e);
                if g.ety[e] != E_WEAK && !page[t] {
                    page[t] = true;
                    todo.push(t);
                }
            }
        }
        DevtoolsDom { g, page }
    }

    fn follows(&self, from: usize, e: usize) -> bool {
        let t = self.g.ety[e];
        if t == E_WEAK || (t == E_SHORTCUT && from != 0) {
            return false;
        }
        from == 0 || !self.page[self.g.to(e)] || self.page[from]
    }
}

impl DomGraph for DevtoolsDom<'_> {
    fn node_count(&self) -> usize {
        self.g.len()
    }

    fn roots(&self) -> Vec<usize> {
        vec![0]
    }

    fn next_successor(
        &self,
        v: usize,
        cursor: &mut u64,
        want: &dyn Fn(usize) -> bool,
    ) -> Option<usize> {
        let r = self.g.edges(v);
        let mut e = r.start + *cursor as usize;
        while e < r.end {
            let t = self.g.to(e);
            e += 1;
            if self.follows(v, e - 1) && want(t) {
                *cursor = (e - r.start) as u64;
                return Some(t);
            }
        }
        *cursor = (r.end - r.start) as u64;
        None
    }

    fn for_each_predecessor(&self, v: usize, f: &mut dyn FnMut(usize)) {
        for e in self.g.retaining_edges(v) {
            let s = self.g.source(e);
            if self.follows(s, e) {
                f(s);
            }
        }
    }

    fn size(&self, v: usize) -> u64 {
        self.g.self_size(v)
    }
}
