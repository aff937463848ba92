//! Leak suspects: what retains a large share of the memory, described as a JavaScript
//! developer reads it.
//!
//! The method is Eclipse MAT's. Every object's retained size (what would be freed with it,
//! from the dominator tree) includes, here, the memory outside the V8 heap that it keeps alive
//! (ArrayBuffer backing stores, external strings). Starting at the roots, the tree is followed
//! down while one child holds most of its parent's size; where the size fans out into many
//! children, or splits between several large ones, there is an *accumulation point*. Each
//! accumulation point that retains at least the threshold (10% by default) of the memory is a
//! suspect. A chain of objects of the same few kinds (a linked list, closures whose contexts
//! hold the previous closure) is an accumulation too: its head is the point.
//!
//! A suspect is then described by what holds it: the JavaScript object that owns the engine's
//! store (an Array for its elements, a Map for its table, an object for its dictionary), how
//! the program reaches it (the retainer path: `.realtimeService` of the global object,
//! `._events['data-update']`, a module's closure variable), what its children are (grouped by
//! constructor, functions with their `script:line:column`), and what they retain. Node-specific
//! shapes get their own wording: the listeners of one event of an EventEmitter, the entries of
//! a Map or Set, timers, closure chains, `require.cache`, Buffers.

use crate::graph::describe::display_name;
use crate::graph::dominators::Dominators;
use crate::graph::edges::{EdgeKind, Edges};
use crate::graph::paths::{RootKind, Step};
use crate::graph::reverse::Graph;
use crate::heap::loaded::Heap;
use crate::meta::kinds::Kind;
use crate::objects::position::{function_location, FunctionLocation};
use crate::render::bytes;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::Serialize;

/// What `leaks` looks for.
#[derive(Debug, Clone, Copy)]
pub struct LeakOptions {
    /// Share of the memory (heap and the external memory its objects keep) a suspect retains
    /// at least.
    pub threshold: f64,
    /// Bytes a suspect retains at least, whatever the share (so that the engine's and Node's
    /// own tables are no suspects in a small heap).
    pub min_bytes: u64,
    /// Suspects reported at most.
    pub top: usize,
}

impl Default for LeakOptions {
    fn default() -> Self {
        LeakOptions {
            threshold: 0.10,
            min_bytes: 1 << 20,
            top: 5,
        }
    }
}

/// The shape of a suspect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SuspectKind {
    /// The listeners of one event of an EventEmitter.
    EventListeners,
    /// The entries of a Map.
    MapEntries,
    /// The entries of a Set.
    SetEntries,
    /// The elements of an Array.
    ArrayElements,
    /// The properties of an object used as a dictionary.
    ObjectProperties,
    /// Timers (Timeout objects) and what their callbacks retain.
    Timers,
    /// A chain of objects that hold one another (linked lists, closure chains).
    Chain,
    /// Modules in `require.cache`.
    Modules,
    /// One large object (a string, an ArrayBuffer) with nothing below it.
    LargeObject,
    /// Many copies of one string, held by no single suspect.
    DuplicateStrings,
    /// Something else that retains much.
    Object,
}

impl SuspectKind {
    /// What the children of such a holder are called.
    pub fn children_word(self) -> &'static str {
        match self {
            SuspectKind::EventListeners => "listeners",
            SuspectKind::MapEntries | SuspectKind::SetEntries => "entries",
            SuspectKind::ArrayElements => "elements",
            SuspectKind::ObjectProperties => "properties",
            SuspectKind::Timers => "timers",
            SuspectKind::Chain => "links",
            SuspectKind::Modules => "modules",
            SuspectKind::DuplicateStrings => "copies",
            SuspectKind::LargeObject | SuspectKind::Object => "children",
        }
    }
}

/// A function in a suspect's story.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CodeRef {
    /// What the function does here (`listener`, `timer callback`, `closure`).
    pub role: String,
    /// Where it is.
    pub function: FunctionLocation,
    /// How many such functions (the same code) there are.
    pub count: u64,
}

/// Objects of one name among a suspect's children or in what it retains.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct NameCount {
    /// The name (constructor, `name @ file:line` for functions).
    pub name: String,
    /// How many.
    pub count: u64,
    /// Their total size (self size for retained objects; retained for children).
    pub bytes: u64,
}

/// One leak suspect.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Suspect {
    /// Its shape.
    pub kind: SuspectKind,
    /// The suspect in one sentence.
    pub sentence: String,
    /// The JavaScript object that holds the accumulation (tagged address).
    pub holder: String,
    /// Its name.
    pub holder_name: String,
    /// How the program names it, from the nearest variable or global:
    /// `realtimeService._events['data-update']`, `responseCache`, `timerListMap[30000]`.
    pub reached_as: String,
    /// When that name starts at a closure variable: the functions that close over its scope
    /// (the code that can touch it).
    pub scope_closures: Vec<FunctionLocation>,
    /// The retainer path from the holder out to a root, as `retainers` prints it.
    pub path: Option<String>,
    /// Bytes of V8 heap retained.
    pub retained: u64,
    /// Bytes outside the V8 heap retained (ArrayBuffer backing stores, external strings).
    pub retained_external: u64,
    /// Share of all the memory (heap and external) retained.
    pub share: f64,
    /// Number of children at the accumulation (elements, entries, listeners, chain links).
    pub children: u64,
    /// The children by name, most numerous first.
    pub child_names: Vec<NameCount>,
    /// What the accumulation retains, by constructor, largest first.
    pub retains: Vec<NameCount>,
    /// The functions in the story.
    pub code: Vec<CodeRef>,
    /// The most repeated text among the strings it retains, when its copies take a quarter of
    /// what it retains or more.
    pub duplicate: Option<DuplicateString>,
}

/// A string repeated many times.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DuplicateString {
    /// The text (its first 80 characters).
    pub text: String,
    /// Its length in UTF-16 code units, as `String.prototype.length` counts.
    pub length: u64,
    /// Copies.
    pub count: u64,
    /// Bytes of one copy.
    pub size: u64,
    /// Bytes the copies beyond the first take.
    pub wasted: u64,
}

/// `leaks`: the suspects, and the duplicate strings.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Leaks {
    /// Bytes of the reachable V8 heap (the dominator tree's).
    pub heap_bytes: u64,
    /// Bytes outside the heap that its objects keep alive.
    pub external_bytes: u64,
    /// The threshold used, as a share.
    pub threshold: f64,
    /// The floor used, in bytes.
    pub min_bytes: u64,
    /// Suspects, largest first.
    pub suspects: Vec<Suspect>,
    /// When there is no suspect: says so (`no suspect above 10% of the memory`).
    pub verdict: String,
    /// Bytes taken by copies of strings beyond the first.
    pub duplicate_string_bytes: u64,
    /// The most wasteful repeated strings.
    pub duplicate_strings: Vec<DuplicateString>,
}

const NONE: u32 = u32::MAX;

/// The dominator tree as children lists, with external bytes added up per subtree.
pub(crate) struct Tree<'a> {
    d: &'a Dominators,
    /// `first[v]..first[v+1]` are v's children in `kids`; index `n` is the virtual root.
    first: Vec<u32>,
    kids: Vec<u32>,
    /// External bytes retained by each object's subtree.
    ext: Ext,
}

/// External bytes per subtree: only on the owners' dominator chains (few objects, kept in a
/// map) or, when those chains are long or many, for every object.
enum Ext {
    Sparse(rustc_hash::FxHashMap<u32, u64>),
    Dense(Vec<u64>),
}

impl<'a> Tree<'a> {
    /// `own_ext`: the objects that own external bytes, with how many.
    /// The tree of `n` objects' dominators.
    pub(crate) fn build(n: usize, d: &'a Dominators, own_ext: &[(u32, u64)]) -> Tree<'a> {
        let parent = |i: usize| -> usize {
            match d.idom(i) {
                Some(p) => p,
                None if d.retained(i) > 0 => n,
                None => usize::MAX,
            }
        };
        let mut first = vec![0u32; n + 2];
        for i in 0..n {
            let p = parent(i);
            if p != usize::MAX {
                first[p + 1] += 1;
            }
        }
        for k in 1..first.len() {
            first[k] += first[k - 1];
        }
        let mut kids = vec![NONE; *first.last().unwrap_or(&0) as usize];
        // Each child at its parent's next free place (`first[p]` moves on to `first[p + 1]`),
        // then the starts moved back by one: no second array of starts.
        for i in 0..n {
            let p = parent(i);
            if p != usize::MAX {
                kids[first[p] as usize] = i as u32;
                first[p] += 1;
            }
        }
        for k in (1..first.len()).rev() {
            first[k] = first[k - 1];
        }
        first[0] = 0;
        // External bytes up the tree: each owner's bytes added to it and to every dominator
        // above it. Few owners sit shallow, and climbing from each is cheapest (the sums kept
        // in a map); when the climbs pass a budget of steps (a deep chain of owners) or touch
        // more than a sixteenth of the objects, every object's bytes are instead added to its
        // dominator's, children before parents (a reverse preorder of the tree): one pass
        // however deep, in an array of every object.
        let mut sparse = rustc_hash::FxHashMap::<u32, u64>::default();
        let mut budget = 2 * n as u64 + (1 << 20);
        let cap = (n / 16).max(1 << 16);
        let mut dense = false;
        'climb: for &(o, b) in own_ext {
            let mut v = o as usize;
            while v < n {
                if budget == 0 || sparse.len() > cap {
                    dense = true;
                    break 'climb;
                }
                budget -= 1;
                *sparse.entry(v as u32).or_insert(0) += b;
                match d.idom(v) {
                    Some(p) => v = p,
                    None => break,
                }
            }
        }
        let ext = if dense {
            drop(sparse);
            let mut ext = vec![0u64; n];
            for &(o, b) in own_ext {
                if let Some(e) = ext.get_mut(o as usize) {
                    *e += b;
                }
            }
            let mut order: Vec<u32> = Vec::new();
            let mut stack = vec![n];
            while let Some(v) = stack.pop() {
                if v < n {
                    order.push(v as u32);
                }
                let (a, b) = (first[v] as usize, first[v + 1] as usize);
                stack.extend(kids[a..b].iter().map(|&c| c as usize));
            }
            for &v in order.iter().rev() {
                if let Some(p) = d.idom(v as usize) {
                    ext[p] += ext[v as usize];
                }
            }
            Ext::Dense(ext)
        } else {
            Ext::Sparse(sparse)
        };
        Tree {
            d,
            first,
            kids,
            ext,
        }
    }

    pub(crate) fn children(&self, v: usize) -> &[u32] {
        let (a, b) = (self.first[v] as usize, self.first[v + 1] as usize);
        &self.kids[a..b]
    }

    /// External bytes retained by `v`.
    pub(crate) fn ext(&self, v: usize) -> u64 {
        match &self.ext {
            Ext::Sparse(m) => u32::try_from(v)
                .ok()
                .and_then(|v| m.get(&v))
                .copied()
                .unwrap_or(0),
            Ext::Dense(e) => e.get(v).copied().unwrap_or(0),
        }
    }

    /// Heap and external bytes retained by `v`.
    pub(crate) fn size(&self, v: usize) -> u64 {
        self.d.retained(v) + self.ext(v)
    }
}

/// External bytes each reachable object itself owns: an ArrayBuffer's backing store (off-heap,
/// each store once), an external string's characters (`crate::memory::external_owners`).
fn own_external(h: &Heap) -> Vec<(u32, u64)> {
    crate::memory::external_owners(h, None)
        .into_iter()
        .filter(|o| o.reachable)
        .map(|o| (o.object as u32, o.bytes))
        .collect()
}

/// Where the memory fans out: see the module docs. `limit` is the threshold in bytes.
/// Returns the accumulation points, each with the chain that starts there, if any.
pub(crate) fn accumulation_points(
    t: &Tree,
    names: &dyn TreeNames,
    n: usize,
    limit: u64,
) -> Vec<(usize, Option<Chain>)> {
    let mut out = Vec::new();
    let mut todo = vec![n];
    while let Some(x) = todo.pop() {
        let size = if x == n { u64::MAX } else { t.size(x) };
        let big: Vec<usize> = t
            .children(x)
            .iter()
            .map(|&c| c as usize)
            .filter(|&c| t.size(c) >= limit)
            .collect();
        if x != n && big.is_empty() {
            out.push((x, None));
            continue;
        }
        if x != n && big.len() == 1 && t.size(big[0]) * 10 >= size * 8 {
            // One child holds most: follow it, unless a chain of similar objects starts here.
            if let Some(chain) = find_chain(t, names, x) {
                out.push((chain.head, Some(chain)));
                continue;
            }
            todo.push(big[0]);
            continue;
        }
        if x != n {
            let in_big: u64 = big.iter().map(|&c| t.size(c)).sum();
            if size.saturating_sub(in_big) >= limit {
                out.push((x, None));
            }
        }
        todo.extend(big);
    }
    out
}

/// A chain of objects each holding the next (a linked list, closures whose contexts hold the
/// previous closure's object).
#[derive(Debug, Clone)]
pub(crate) struct Chain {
    /// The first object of the chain with the counted name.
    pub head: usize,
    /// Objects with that name along the chain.
    pub links: u64,
    /// The names of one link, starting with the counted one.
    pub pattern: Vec<String>,
    /// The edges of one link, from one counted object to the next.
    pub link_edges: Vec<String>,
}

/// The child of `v` that retains the most.
pub(crate) fn largest_child(t: &Tree, v: usize) -> Option<usize> {
    t.children(v)
        .iter()
        .max_by_key(|&&c| t.size(c as usize))
        .map(|&c| c as usize)
}

/// If the dominator tree below `x` repeats a pattern of up to four names at least 10 times
/// (each step the child retaining the most, holding most of the rest), the chain.
fn find_chain(t: &Tree, names: &dyn TreeNames, x: usize) -> Option<Chain> {
    let mut nodes: Vec<usize> = Vec::new();
    let mut v = x;
    for _ in 0..256 {
        nodes.push(v);
        let Some(c) = largest_child(t, v) else { break };
        if t.size(c) * 10 < t.size(v) * 8 {
            break;
        }
        v = c;
    }
    let namer = names;
    let names: Vec<String> = nodes.iter().map(|&v| namer.name(v)).collect();
    let p = (1..=4usize).find(|&p| {
        names.len() >= 10 * p
            && (p..names.len())
                .take_while(|&k| names[k] == names[k - p])
                .count()
                + p
                >= 10 * p
    })?;
    // Count the link by its JavaScript object (not a context or a closure), where there is one.
    let is_plain = |n: &str| !n.starts_with("system / ") && !n.contains(" @ ") && n != "(closure)";
    let start = (0..p).find(|&k| is_plain(&names[k])).unwrap_or(0);
    let counted = names[start].clone();
    let pattern: Vec<String> = (0..p).map(|k| names[start + k].clone()).collect();
    let edges_of_link: Vec<String> = (0..p)
        .map(|k| namer.edge_between(nodes[start + k], nodes[start + k + 1]))
        .collect();
    // Walk the whole chain (past the 256 looked at), counting its objects of the counted name;
    // it ends where a name outside the pattern comes.
    let head = nodes[start];
    let mut links = 0u64;
    let mut v = head;
    for _ in 0..100_000_000u64 {
        let name = namer.name(v);
        if !pattern.contains(&name) {
            break;
        }
        if name == counted {
            links += 1;
        }
        let Some(c) = largest_child(t, v) else { break };
        v = c;
    }
    Some(Chain {
        head,
        links,
        pattern,
        link_edges: edges_of_link,
    })
}

/// How the tree's objects and edges are called, for the accumulation points and chains: the
/// heap's objects (a core) or a snapshot's nodes.
pub(crate) trait TreeNames {
    /// How object `v` is called (`display_name`).
    fn name(&self, v: usize) -> String;
    /// The name of the (first) edge from `holder` to `target`, `...` when there is none.
    fn edge_between(&self, holder: usize, target: usize) -> String;
}

struct HeapNames<'a> {
    h: &'a Heap,
    edges: &'a Edges<'a>,
}

impl TreeNames for HeapNames<'_> {
    fn name(&self, v: usize) -> String {
        display_name(self.h, v)
    }
    fn edge_between(&self, holder: usize, target: usize) -> String {
        edge_name_between(self.edges, holder, target)
    }
}

/// The name of the (first) edge from `holder` to `target`, as `retainers` shows it; `...`
/// when the dominator child is not a direct reference (a store sits between).
fn edge_name_between(edges: &Edges, holder: usize, target: usize) -> String {
    match edges.slots_to(holder, target).first() {
        Some(&off) => edges.name_slot(holder, off, 0).name,
        None => "...".into(),
    }
}

/// The JavaScript object that owns an engine store (the Array of an elements store, the Map
/// of a hash table, the object of a property dictionary), or the object itself. Found among
/// the store's retainers, not from the dominator tree: a stale pointer to the store (left in
/// freed native memory) can keep it from being dominated by its owner.
fn owner(h: &Heap, g: &Graph, x: usize) -> usize {
    let kind = h.index.kind(&h.p, x);
    let store = matches!(
        kind,
        Kind::FixedArray
            | Kind::FixedDoubleArray
            | Kind::NumberDictionary
            | Kind::NameDictionary
            | Kind::PropertyArray
            | Kind::OrderedHashMap
            | Kind::OrderedHashSet
            | Kind::GlobalDictionary
    );
    if !store {
        return x;
    }
    let r = h.reader();
    let f = &h.p.fields;
    let want = h.index.tagged(x);
    let slots = [f.object_elements, f.receiver_properties, f.collection_table];
    g.retainers_of(x)
        .into_iter()
        .filter(|&(o, weak)| !weak && h.index.kind(&h.p, o).is_receiver())
        .find(|&(o, _)| {
            let obj = h.index.tagged(o);
            slots.iter().any(|&off| r.slot(obj, off) == Some(want))
        })
        .map(|(o, _)| o)
        .unwrap_or(x)
}

fn group(h: &Heap, items: impl Iterator<Item = (usize, u64)>, top: usize) -> Vec<NameCount> {
    let mut by: FxHashMap<String, (u64, u64)> = FxHashMap::default();
    for (i, b) in items {
        let e = by.entry(display_name(h, i)).or_default();
        e.0 += 1;
        e.1 += b;
    }
    top_name_counts(by, top)
}

/// Per-name (count, bytes) as rows, the most bytes first (then count, then name), cut to `top`.
pub(crate) fn top_name_counts(by: FxHashMap<String, (u64, u64)>, top: usize) -> Vec<NameCount> {
    let mut v: Vec<NameCount> = by
        .into_iter()
        .map(|(name, (count, bytes))| NameCount { name, count, bytes })
        .collect();
    v.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then(b.count.cmp(&a.count))
            .then(a.name.cmp(&b.name))
    });
    v.truncate(top);
    v
}

/// `, which retain 2000 Buffer, 2000 ArrayBuffer, ...` (the first three), or nothing.
pub(crate) fn retain_words(retains: &[NameCount]) -> String {
    let top: Vec<String> = retains
        .iter()
        .take(3)
        .map(|n| format!("{} {}", n.count, n.name))
        .collect();
    if top.is_empty() {
        String::new()
    } else {
        format!(", which retain {}", top.join(", "))
    }
}

/// What `x`'s dominator subtree holds: JS objects (snapshot "object" type) by name, largest
/// first, and how many copies it holds of each text repeated in the heap (by group of
/// `repeats`).
fn retained_names(
    t: &Tree,
    h: &Heap,
    x: usize,
    top: usize,
    repeats: &Repeats,
) -> (Vec<NameCount>, FxHashMap<u32, u64>) {
    let mut by: FxHashMap<u32, (u64, u64)> = FxHashMap::default();
    // Copies found of each text repeated in the heap (group of `repeats`), among the first
    // 20 M strings.
    let mut copies: FxHashMap<u32, u64> = FxHashMap::default();
    let mut strings = 0u32;
    let mut seen = 0u64;
    // Counts `v`; false once 50 M objects are seen.
    let mut visit = |v: usize| -> bool {
        seen += 1;
        if seen > 50_000_000 {
            return false;
        }
        if v != x {
            if let Some(id) = h.names.id(v) {
                let e = by.entry(id).or_default();
                e.0 += 1;
                e.1 += h.index.size(v) as u64;
            }
        }
        if strings < 20_000_000 && dup_candidate(h, v) {
            strings += 1;
            if let Some(g) = repeats.group_of(v) {
                *copies.entry(g).or_default() += 1;
            }
        }
        true
    };
    // Preorder, the last child first; the stack holds (node, children not yet visited), one
    // entry a level, not every child of a wide node.
    let mut stack: Vec<(u32, u32)> = Vec::new();
    if visit(x) {
        stack.push((x as u32, t.children(x).len() as u32));
    }
    while let Some(top) = stack.last_mut() {
        if top.1 == 0 {
            stack.pop();
            continue;
        }
        top.1 -= 1;
        let c = t.children(top.0 as usize)[top.1 as usize] as usize;
        if !visit(c) {
            break;
        }
        stack.push((c as u32, t.children(c).len() as u32));
    }
    let mut out: Vec<NameCount> = by
        .into_iter()
        .map(|(id, (count, bytes))| NameCount {
            name: h.names.table()[id as usize].to_string(),
            count,
            bytes,
        })
        .collect();
    out.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then(b.count.cmp(&a.count))
            .then(a.name.cmp(&b.name))
    });
    out.truncate(top);
    (out, copies)
}

/// How the program names an object: the expression from the nearest variable or global
/// (`realtimeService._events['data-update']`, `timerListMap[30000]`, `leaked`), and the
/// scope (Context) whose variable starts it, if it is a closure variable.
struct ProgramName {
    expr: String,
    /// The variable the expression starts from (a closure variable or a global).
    base: String,
    /// Where the base lives.
    base_kind: BaseKind,
    /// The Context holding the base variable.
    scope: Option<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BaseKind {
    Global,
    ClosureVariable,
    Internal,
    Root,
}

pub(crate) fn property_text(p: &str) -> String {
    let ident = !p.is_empty()
        && !p.starts_with(|c: char| c.is_ascii_digit())
        && p.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$');
    if ident {
        format!(".{p}")
    } else {
        format!("['{}']", p.replace('\'', "\\'"))
    }
}

/// Name object `x` from its retainer path (its steps, innermost first).
fn program_name(h: &Heap, edges: &Edges, x: usize, steps: &[Step], root: &RootKind) -> ProgramName {
    let mut parts: Vec<String> = Vec::new();
    let mut found: Option<(String, BaseKind, Option<usize>)> = None;
    for s in steps {
        match s.edge.kind {
            EdgeKind::Property => {
                parts.push(property_text(s.edge.name.trim_start_matches('.')));
            }
            EdgeKind::Element => parts.push(s.edge.name.clone()),
            EdgeKind::Context => {
                found = Some((
                    s.edge.name.clone(),
                    BaseKind::ClosureVariable,
                    Some(s.edge.holder),
                ));
                break;
            }
            EdgeKind::Internal | EdgeKind::Weak => {
                found = Some((
                    format!("({})", display_name(h, s.edge.holder)),
                    BaseKind::Internal,
                    None,
                ));
                break;
            }
        }
        if h.index.kind(&h.p, s.edge.holder) == Kind::JSGlobalObject {
            found = Some((String::new(), BaseKind::Global, None));
            break;
        }
    }
    if h.index.kind(&h.p, x) == Kind::JSGlobalObject {
        return ProgramName {
            expr: "globalThis".into(),
            base: "globalThis".into(),
            base_kind: BaseKind::Global,
            scope: None,
        };
    }
    let (base, kind, scope) = found.unwrap_or_else(|| {
        if steps.is_empty() {
            // Held straight from a root (a stack slot, a handle): name it by a variable or a
            // property that also holds it, if one does.
            if let Some(e) = edges
                .edges_to(x)
                .into_iter()
                .find(|e| matches!(e.kind, EdgeKind::Context | EdgeKind::Property))
            {
                return if e.kind == EdgeKind::Context {
                    (e.name, BaseKind::ClosureVariable, Some(e.holder))
                } else {
                    parts.push(property_text(e.name.trim_start_matches('.')));
                    (
                        format!("({})", display_name(h, e.holder)),
                        BaseKind::Internal,
                        None,
                    )
                };
            }
        }
        match root {
            RootKind::Global => (String::new(), BaseKind::Global, None),
            _ => ("(a root)".into(), BaseKind::Root, None),
        }
    });
    parts.reverse();
    let mut expr = base.clone();
    for p in parts {
        if expr.is_empty() {
            expr = p.trim_start_matches('.').to_string();
        } else {
            expr.push_str(&p);
        }
    }
    ProgramName {
        base: if base.is_empty() {
            expr.split(['.', '[']).next().unwrap_or("").to_string()
        } else {
            base
        },
        expr,
        base_kind: kind,
        scope,
    }
}

/// The closures over a Context: functions whose `context` is it.
fn closures_over(h: &Heap, g: &Graph, ctx: usize, max: usize) -> Vec<u64> {
    let r = h.reader();
    let want = h.index.tagged(ctx);
    let mut out: Vec<u64> = g
        .retainers_of(ctx)
        .into_iter()
        .filter(|&(f, weak)| !weak && h.index.kind(&h.p, f) == Kind::JSFunction)
        .map(|(f, _)| h.index.tagged(f))
        .filter(|&f| r.slot(f, h.p.fields.function_context) == Some(want))
        .collect();
    out.sort_unstable();
    out.truncate(max);
    out
}

/// The leak suspects of a heap (see the module docs).
pub fn leaks(h: &Heap, g: &Graph, d: &Dominators, opts: &LeakOptions) -> Leaks {
    // Repeated strings first: their search's keys (24 bytes a string) and the dominator
    // tree's children lists (8 bytes an object) are never held at once.
    let (duplicate_string_bytes, mut duplicate_strings, repeats) = duplicate_strings(h);
    let own = own_external(h);
    let t = Tree::build(h.index.len(), d, &own);
    let n = h.index.len();
    let roots: Vec<usize> = t.children(n).iter().map(|&c| c as usize).collect();
    let heap_bytes: u64 = roots.iter().map(|&r| d.retained(r)).sum();
    let external_bytes: u64 = roots.iter().map(|&r| t.ext(r)).sum();
    let total = (heap_bytes + external_bytes).max(1);
    let limit = (((total as f64) * opts.threshold).ceil() as u64)
        .max(opts.min_bytes)
        .max(1);
    let edges = Edges::new(h, g);
    let ctx = Ctx {
        h,
        g,
        t: &t,
        edges: &edges,
        r: h.reader(),
        total,
        repeats: Some(&repeats),
    };
    let mut suspects: Vec<Suspect> =
        accumulation_points(&t, &HeapNames { h, edges: &edges }, n, limit)
            .into_iter()
            .filter(|(x, _)| t.size(*x) >= limit)
            .map(|(x, chain)| ctx.describe(x, chain))
            .collect();
    // A suspect's repeated text is counted over the whole heap (copies held elsewhere too).
    for s in &mut suspects {
        if let Some(d) = &mut s.duplicate {
            if let Some(all) = duplicate_strings
                .iter()
                .find(|a| a.text == d.text && a.size == d.size)
            {
                *d = all.clone();
            }
            if let Some(d) = &s.duplicate {
                s.sentence.push_str(&format!(
                    "; it holds copies of one string, {} of them in the heap: {:?} ({} beyond the first)",
                    d.count,
                    d.text,
                    bytes(d.wasted)
                ));
            }
        }
    }
    duplicate_strings.truncate(10);
    // Copies of one text that waste as much as a suspect retains, and that no suspect
    // already explains, are a suspect of their own.
    for dup in &duplicate_strings {
        let explained = suspects
            .iter()
            .any(|s| s.duplicate.as_ref().is_some_and(|d| d.text == dup.text));
        if dup.wasted >= limit && !explained {
            suspects.push(duplicate_suspect(dup, total));
        }
    }
    suspects.sort_by(|a, b| {
        (b.retained + b.retained_external).cmp(&(a.retained + a.retained_external))
    });
    suspects.truncate(opts.top);
    let pct = (opts.threshold * 100.0).round();
    let floor = if opts.min_bytes > 0 {
        format!(", at least {}", bytes(opts.min_bytes))
    } else {
        String::new()
    };
    let memory = format!(
        "{} of heap, {} outside it",
        bytes(heap_bytes),
        bytes(external_bytes)
    );
    let verdict = if suspects.is_empty() {
        format!("no suspect: nothing retains {pct}% of the memory{floor} ({memory})")
    } else {
        format!(
            "{} suspect{} retaining at least {pct}% of the memory{floor} ({memory})",
            suspects.len(),
            if suspects.len() == 1 { "" } else { "s" },
        )
    };
    Leaks {
        heap_bytes,
        external_bytes,
        threshold: opts.threshold,
        min_bytes: opts.min_bytes,
        suspects,
        verdict,
        duplicate_string_bytes,
        duplicate_strings,
    }
}

fn duplicate_suspect(dup: &DuplicateString, total: u64) -> Suspect {
    let share = dup.wasted as f64 / total as f64;
    Suspect {
        kind: SuspectKind::DuplicateStrings,
        sentence: format!(
            "{} copies of one {}-byte string {:?} take {} beyond the first, {:.0}% of the memory",
            dup.count,
            dup.size,
            dup.text,
            bytes(dup.wasted),
            share * 100.0
        ),
        holder: String::new(),
        holder_name: "(string)".into(),
        reached_as: String::new(),
        scope_closures: Vec::new(),
        path: None,
        retained: dup.wasted,
        retained_external: 0,
        share,
        children: dup.count,
        child_names: Vec::new(),
        retains: Vec::new(),
        code: Vec::new(),
        duplicate: Some(dup.clone()),
    }
}

/// What describing a suspect reads.
struct Ctx<'a> {
    h: &'a Heap,
    g: &'a Graph,
    t: &'a Tree<'a>,
    edges: &'a Edges<'a>,
    r: crate::objects::reader::Reader<'a>,
    total: u64,
    /// The heap's repeated strings; `None`: name and count only, no census of what is
    /// retained, no duplicate search.
    repeats: Option<&'a Repeats>,
}

impl Ctx<'_> {
    fn size_words(&self, ret: u64, ext: u64) -> String {
        let pct = (ret + ext) as f64 * 100.0 / self.total as f64;
        if ext > 0 {
            format!(
                "{} ({} of it outside the V8 heap), {pct:.0}% of the memory",
                bytes(ret + ext),
                bytes(ext)
            )
        } else {
            format!("{}, {pct:.0}% of the memory", bytes(ret))
        }
    }

    fn add_code(&self, code: &mut Vec<CodeRef>, role: &str, f: u64) {
        let loc = function_location(&self.r, f);
        if let Some(c) = code
            .iter_mut()
            .find(|c| c.role == role && c.function == loc)
        {
            c.count += 1;
        } else if code.len() < 8 {
            code.push(CodeRef {
                role: role.into(),
                function: loc,
                count: 1,
            });
        }
    }

    fn describe(&self, x: usize, chain: Option<Chain>) -> Suspect {
        let (h, t, r) = (self.h, self.t, &self.r);
        let f = &h.p.fields;
        let holder = if chain.is_some() {
            x
        } else {
            owner(h, self.g, x)
        };
        let hk = h.index.kind(&h.p, holder);
        let holder_name = display_name(h, holder);
        let paths = self.edges.retainer_paths(holder, 1, 64);
        let path = paths.first();
        let steps: &[Step] = path.map(|p| p.steps.as_slice()).unwrap_or(&[]);
        let root = path
            .map(|p| p.root_kind.clone())
            .unwrap_or(RootKind::Global);
        let name = program_name(h, self.edges, holder, steps, &root);
        let kids = t.children(x);
        let child_names = match &chain {
            // A chain's children are its links.
            Some(c) => vec![NameCount {
                name: display_name(h, x),
                count: c.links,
                bytes: t.size(x),
            }],
            None => group(h, kids.iter().map(|&c| (c as usize, t.size(c as usize))), 5),
        };
        let (retains, copies) = match self.repeats {
            Some(repeats) => retained_names(t, h, x, 6, repeats),
            None => (Vec::new(), FxHashMap::default()),
        };
        let retained = t.d.retained(x);
        let retained_external = t.ext(x);
        let share = (retained + retained_external) as f64 / self.total as f64;
        let obj = h.index.tagged(holder);
        let duplicate = self
            .repeats
            .and_then(|repeats| repeats.most_wasteful(h, copies))
            .filter(|d| d.wasted * 4 >= retained.max(1) && d.count >= 10);
        let mut code: Vec<CodeRef> = Vec::new();
        // Timeout objects among the children (or the suspect itself): their callbacks.
        let on_timeout = |o: u64| r.own_data_property(o, |k| r.string_eq(k, "_onTimeout"));
        let repeat = |o: u64| r.own_data_property(o, |k| r.string_eq(k, "_repeat"));
        let timeouts: Vec<usize> = kids
            .iter()
            .map(|&c| c as usize)
            .chain(std::iter::once(x))
            .filter(|&c| h.names.get(c).is_some_and(|n| &**n == "Timeout"))
            .collect();
        let mut intervals = 0u64;
        for &c in &timeouts {
            let o = h.index.tagged(c);
            if let Some(cb) = on_timeout(o) {
                if r.kind(cb) == Some(Kind::JSFunction) {
                    self.add_code(&mut code, "timer callback", cb);
                }
            }
            if repeat(o).is_some_and(|v| r.smi(v).is_some() || r.kind(v) == Some(Kind::HeapNumber))
            {
                intervals += 1;
            }
        }
        // Functions among the children: the code that accumulates (listeners, callbacks).
        let mut functions = 0u64;
        for c in kids.iter().map(|&c| c as usize).filter(|_| chain.is_none()) {
            if h.index.kind(&h.p, c) == Kind::JSFunction {
                self.add_code(&mut code, "closure", h.index.tagged(c));
                functions += 1;
            }
        }
        let retain_words = retain_words(&retains);
        let is_events =
            steps.get(1).is_some_and(|s| s.edge.name == "._events") && hk == Kind::JSArray;
        // The emitter's name when this is the listener array of one event.
        let emitter_name = is_events
            .then(|| program_name(h, self.edges, steps[1].edge.holder, &steps[2..], &root));
        let scope_of = |n: &ProgramName| {
            n.scope
                .map(|c| closures_over(h, self.g, c, 6))
                .unwrap_or_default()
        };
        let scope_funcs = scope_of(emitter_name.as_ref().unwrap_or(&name));
        let mut scope_closures: Vec<FunctionLocation> = Vec::new();
        for &fnc in &scope_funcs {
            scope_closures.push(function_location(r, fnc));
        }
        let scope_words = |n: &ProgramName| -> String {
            match n.base_kind {
                BaseKind::Global => format!(" (the global `{}`)", n.base),
                BaseKind::ClosureVariable if (1..=2).contains(&scope_closures.len()) => {
                    let fs: Vec<String> = scope_closures.iter().map(|l| l.at_text()).collect();
                    format!(" (a variable in the scope of {})", fs.join(", "))
                }
                BaseKind::ClosureVariable if !scope_closures.is_empty() => {
                    // Many closures: a module's (or a large function's) scope.
                    let file = scope_closures[0]
                        .place()
                        .map(|p| p.rsplit_once(':').map_or(p.clone(), |x| x.0.to_string()))
                        .and_then(|p| p.rsplit_once(':').map(|x| x.0.to_string()));
                    format!(
                        " (a variable{}, closed over by {}{} functions)",
                        file.map(|f| format!(" of {f}")).unwrap_or_default(),
                        if scope_funcs.len() >= 6 {
                            "at least "
                        } else {
                            ""
                        },
                        scope_closures.len()
                    )
                }
                BaseKind::ClosureVariable => " (a closure variable)".into(),
                _ => String::new(),
            }
        };

        let (kind, sentence, children) = if let Some(chain) = &chain {
            // One link: counted object -edge-> next -edge-> ... -edge-> counted object.
            let mut link = String::new();
            for (k, e) in chain.link_edges.iter().enumerate() {
                if k > 0 {
                    link.push_str(&format!(" {}", chain.pattern[k]));
                }
                link.push_str(&format!(" -{e}->"));
            }
            for k in 0..chain.pattern.len() {
                let node = {
                    let mut v = x;
                    for _ in 0..k {
                        v = largest_child(t, v).unwrap_or(v);
                    }
                    v
                };
                if h.index.kind(&h.p, node) == Kind::JSFunction {
                    self.add_code(&mut code, "chain link", h.index.tagged(node));
                }
            }
            (
                if timeouts.is_empty() {
                    SuspectKind::Chain
                } else {
                    SuspectKind::Timers
                },
                format!(
                    "`{}`{} starts a chain of {} {holder_name}, each holding the next ({holder_name}{link} {holder_name}){retain_words}: {}",
                    name.expr,
                    scope_words(&name),
                    chain.links,
                    self.size_words(retained, retained_external)
                ),
                chain.links,
            )
        } else if let Some(em) = &emitter_name {
            let event = steps[0].edge.name.trim_start_matches('.').to_string();
            let emitter = display_name(h, steps[1].edge.holder);
            let count = r.js_array_length(obj).unwrap_or(functions);
            for c in code.iter_mut().filter(|c| c.role == "closure") {
                c.role = "listener".into();
            }
            let at = code
                .iter()
                .find(|c| c.role == "listener")
                .map(|c| format!(" ({} × {})", c.count, c.function.at_text()))
                .unwrap_or_default();
            (
                SuspectKind::EventListeners,
                format!(
                    "EventEmitter `{}` ({emitter}) holds {count} '{event}' listeners{at}{retain_words}: {}",
                    em.expr,
                    self.size_words(retained, retained_external)
                ),
                count,
            )
        } else if !timeouts.is_empty()
            && hk != Kind::JSArray
            && hk != Kind::JSMap
            && hk != Kind::JSSet
        {
            let count = timeouts.len() as u64 - u64::from(timeouts.contains(&x));
            let count = count.max(1);
            let ms = r
                .own_data_property(obj, |k| r.string_eq(k, "msecs"))
                .and_then(|v| r.smi(v));
            let what = if intervals * 2 >= count {
                "intervals"
            } else {
                "timers"
            };
            let every = ms.map(|m| format!(" of {m} ms")).unwrap_or_default();
            let cb = code
                .iter()
                .find(|c| c.role == "timer callback")
                .map(|c| format!(", callback {}", c.function.at_text()))
                .unwrap_or_default();
            (
                SuspectKind::Timers,
                format!(
                    "{count} active {what}{every} (never cleared{cb}) in {holder_name} `{}`{retain_words}: {}",
                    name.expr,
                    self.size_words(retained, retained_external)
                ),
                count,
            )
        } else if kids.is_empty() {
            (
                SuspectKind::LargeObject,
                format!(
                    "one {holder_name} `{}`{}: {}",
                    name.expr,
                    scope_words(&name),
                    self.size_words(retained, retained_external)
                ),
                0,
            )
        } else {
            let count = match hk {
                Kind::JSArray => r.js_array_length(obj).unwrap_or(kids.len() as u64),
                Kind::JSMap | Kind::JSSet => r
                    .slot(obj, f.collection_table)
                    .and_then(|tb| r.array_get(tb, 0))
                    .and_then(|v| r.smi(v))
                    .map(|v| v.max(0) as u64)
                    .unwrap_or(kids.len() as u64),
                _ => kids.len() as u64,
            };
            let (kind, what) = match hk {
                Kind::JSArray => (SuspectKind::ArrayElements, "elements"),
                Kind::JSMap => (SuspectKind::MapEntries, "entries"),
                Kind::JSSet => (SuspectKind::SetEntries, "entries"),
                _ if name.expr.ends_with("._cache") || name.expr.contains("require.cache") => {
                    (SuspectKind::Modules, "modules")
                }
                k if k.is_receiver() && r.is_dictionary_map(r.map(obj).unwrap_or(0)) => {
                    (SuspectKind::ObjectProperties, "properties")
                }
                _ => (SuspectKind::Object, "children"),
            };
            let of = child_names
                .first()
                .filter(|c| c.name != holder_name)
                .map(|c| format!(" (mostly {})", c.name))
                .unwrap_or_default();
            (
                kind,
                format!(
                    "{holder_name} `{}`{} holds {count} {what}{of}{retain_words}: {}",
                    name.expr,
                    scope_words(&name),
                    self.size_words(retained, retained_external)
                ),
                count,
            )
        };
        // Node's own closures over its own variables (timers, the module loader) say little
        // once the program's code is in the story.
        let user_code = code.iter().any(|c| !c.function.is_node_internal());
        for c in &scope_closures {
            if user_code && c.is_node_internal() {
                continue;
            }
            if code.len() < 8 && !code.iter().any(|k| &k.function == c) {
                code.push(CodeRef {
                    role: "closure over the variable".into(),
                    function: c.clone(),
                    count: 1,
                });
            }
        }
        Suspect {
            kind,
            sentence,
            holder: format!("{obj:#x}"),
            holder_name,
            reached_as: name.expr,
            scope_closures,
            path: path.map(|p| {
                let text = crate::graph::paths::chain_text(h, holder, p);
                match p.root_kind {
                    RootKind::Global => text,
                    ref k => format!("{text} ({})", crate::graph::paths::root_words(k)),
                }
            }),
            retained,
            retained_external,
            share,
            children,
            child_names,
            retains,
            code,
            duplicate,
        }
    }
}

/// A string the duplicate search considers: sequential, reachable, 8 to 64 Ki characters.
fn dup_candidate(h: &Heap, i: usize) -> bool {
    let t = h.index.types[i];
    t < 128 && t & 7 == 0 && h.marking.is_marked(i)
}

/// (hash of the characters, length, size) of a candidate string.
fn dup_key(h: &Heap, r: &crate::objects::reader::Reader, i: usize) -> Option<(u64, u32, u32)> {
    let t = h.index.types[i];
    let s = h.index.tagged(i);
    let len = r.u32_at(s, h.p.layout.string_length as u64)?;
    if !(8..=1 << 16).contains(&len) {
        return None;
    }
    let bytes_len = len as usize * if t & 8 != 0 { 1 } else { 2 };
    let b = r.bytes_at(s, 16, bytes_len)?;
    let mut hasher = rustc_hash::FxHasher::default();
    std::hash::Hasher::write(&mut hasher, &b);
    Some((std::hash::Hasher::finish(&hasher), len, h.index.size(i)))
}

/// Every text that occurs more than once among strings `idxs`, and the copies of each. The
/// strings' keys (hash of the characters, length, size)
/// are sorted in one array of 24 bytes a string, not counted in hash maps: a map per chunk
/// merged into one held about four times that at its peak (600 MiB more for `leaks` on a
/// heap of 5.5 M distinct strings).
fn repeated_strings(h: &Heap, idxs: &[u32]) -> Repeats {
    let r = h.reader();
    const CHUNK: usize = 1 << 14;
    // (hash, length, size, index); length 0 (no candidate: the shortest counted is 8) is
    // dropped after.
    let mut keys = vec![(0u64, 0u32, 0u32, 0u32); idxs.len()];
    // The strings lie all over the heap, and each read maps up to 2 MiB of the core around
    // it (the kernel's fault-around, or a whole large folio): let the core's pages go when
    // much is resident, or a pass over a large heap's strings maps most of the core.
    keys.par_chunks_mut(CHUNK)
        .zip(idxs.par_chunks(CHUNK))
        .for_each(|(k, c)| {
            for (n, (slot, &i)) in k.iter_mut().zip(c).enumerate() {
                if let Some((hash, len, size)) = dup_key(h, &r, i as usize) {
                    *slot = (hash, len, size, i);
                }
                if n % 1024 == 1023 {
                    h.p.dump().release_over(crate::heap::RESIDENT_CORE_BYTES);
                }
            }
        });
    // The arrays made next need the room more than the core's pages read here.
    h.p.dump().release_all();
    keys.retain(|k| k.1 != 0);
    keys.par_sort_unstable();
    let mut groups = Vec::new();
    let mut members = Vec::new();
    for run in keys
        .chunk_by(|a, b| (a.0, a.1, a.2) == (b.0, b.1, b.2))
        .filter(|run| run.len() > 1)
    {
        let g = groups.len() as u32;
        // Sorted by index within the run: the first is the lowest.
        groups.push((run[0].2, run.len() as u64, run[0].3 as usize));
        members.extend(run.iter().map(|k| (k.3, g)));
    }
    drop(keys);
    members.par_sort_unstable();
    Repeats { groups, members }
}

/// The strings whose text occurs more than once in the heap.
pub(crate) struct Repeats {
    /// Each text's copies: (size of one copy, copies, the copy of the lowest index).
    groups: Vec<(u32, u64, usize)>,
    /// (string, its group in `groups`) for every copy, by string.
    members: Vec<(u32, u32)>,
}

impl Repeats {
    /// The group of string `i`, if its text is repeated in the heap.
    fn group_of(&self, i: usize) -> Option<u32> {
        let i = u32::try_from(i).ok()?;
        let k = self.members.binary_search_by_key(&i, |m| m.0).ok()?;
        Some(self.members[k].1)
    }

    /// The most wasteful text among some of the heap's strings, given the copies of each
    /// group among them: a text is repeated among them if it has two copies there.
    fn most_wasteful(&self, h: &Heap, copies: FxHashMap<u32, u64>) -> Option<DuplicateString> {
        let groups: Vec<(u32, u64, usize)> = copies
            .into_iter()
            .filter(|&(_, c)| c > 1)
            .filter_map(|(g, c)| {
                let &(size, _, first) = self.groups.get(g as usize)?;
                Some((size, c, first))
            })
            .collect();
        dup_rows(h, &groups).into_iter().next()
    }
}

fn dup_rows(h: &Heap, groups: &[(u32, u64, usize)]) -> Vec<DuplicateString> {
    let r = h.reader();
    let mut dups: Vec<DuplicateString> = groups
        .iter()
        .map(|&(size, count, i)| {
            let s = r.string(h.index.tagged(i), 80);
            DuplicateString {
                length: s.as_ref().map_or(0, |s| s.length),
                text: s.map(|s| s.text).unwrap_or_default(),
                count,
                size: size as u64,
                wasted: (count - 1) * size as u64,
            }
        })
        .collect();
    dups.sort_by(|a, b| b.wasted.cmp(&a.wasted).then(a.text.cmp(&b.text)));
    dups
}

/// Strings whose text occurs more than once among the reachable sequential strings of 8 to
/// 64 Ki characters: (bytes wasted in all, every repeated text, most wasteful first, and the
/// copies by string, for what each suspect holds).
fn duplicate_strings(h: &Heap) -> (u64, Vec<DuplicateString>, Repeats) {
    // Counted first, then filled in one allocation: a parallel collect of unknown length
    // holds its pieces and the whole at once.
    let n = h.index.len().min(u32::MAX as usize);
    let count = (0..n)
        .into_par_iter()
        .filter(|&i| dup_candidate(h, i))
        .count();
    let mut idxs: Vec<u32> = Vec::with_capacity(count);
    idxs.extend((0..n as u32).filter(|&i| dup_candidate(h, i as usize)));
    let repeats = repeated_strings(h, &idxs);
    drop(idxs);
    let dups = dup_rows(h, &repeats.groups);
    let wasted = dups.iter().map(|d| d.wasted).sum();
    (wasted, dups, repeats)
}

/// One holder of memory in one dump, for matching holders across dumps (`diff --by holder`).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct HolderRow {
    /// How the program names it (`realtimeService._events['data-update']`).
    pub holder: String,
    /// What it is (`Array`, `Map`, `TimersList`).
    pub holder_name: String,
    /// Its shape.
    pub kind: SuspectKind,
    /// Its children (elements, entries, listeners, timers, chain links).
    pub children: u64,
    /// Bytes of V8 heap retained, less what the holders listed inside it retain.
    pub retained: u64,
    /// Bytes outside the heap retained, less what the holders inside it retain.
    pub retained_external: u64,
}

/// Memory of one dump and its holders: every accumulation point (see the module docs) that
/// retains at least `min_bytes`, the largest `max` of them, named as `leaks` names them.
pub fn holders(h: &Heap, g: &Graph, d: &Dominators, min_bytes: u64, max: usize) -> Holders {
    let own = own_external(h);
    let t = Tree::build(h.index.len(), d, &own);
    let n = h.index.len();
    let roots: Vec<usize> = t.children(n).iter().map(|&c| c as usize).collect();
    let heap_bytes: u64 = roots.iter().map(|&r| d.retained(r)).sum();
    let external_bytes: u64 = roots.iter().map(|&r| t.ext(r)).sum();
    let edges = Edges::new(h, g);
    let ctx = Ctx {
        h,
        g,
        t: &t,
        edges: &edges,
        r: h.reader(),
        total: (heap_bytes + external_bytes).max(1),
        repeats: None,
    };
    let mut points = accumulation_points(&t, &HeapNames { h, edges: &edges }, n, min_bytes.max(1));
    points.retain(|(x, _)| t.size(*x) >= min_bytes);
    let rows = holder_rows(&t, d, points, max, &|x, chain| ctx.describe(x, chain));
    Holders {
        heap_bytes,
        external_bytes,
        rows,
    }
}

/// The holders among accumulation `points` (each retaining at least the size compared), the
/// largest `max`, each with its own share: what it retains less what the holders inside it
/// retain, so that growth is credited to the innermost holder that has it. Holders the
/// program names alike are one row. `describe` names a point as `leaks` does.
pub(crate) fn holder_rows(
    t: &Tree,
    d: &Dominators,
    mut points: Vec<(usize, Option<Chain>)>,
    max: usize,
    describe: &dyn Fn(usize, Option<Chain>) -> Suspect,
) -> Vec<HolderRow> {
    points.sort_by_key(|(x, _)| std::cmp::Reverse(t.size(*x)));
    points.truncate(max);
    // Each holder's own share: what it retains less what the holders inside it retain, so
    // that growth is credited to the innermost holder that has it.
    let is_point: FxHashMap<usize, usize> = points
        .iter()
        .enumerate()
        .map(|(k, (x, _))| (*x, k))
        .collect();
    let mut nested = vec![(0u64, 0u64); points.len()];
    for (x, _) in &points {
        let mut v = *x;
        for _ in 0..10_000_000 {
            let Some(p) = d.idom(v) else { break };
            if let Some(&k) = is_point.get(&p) {
                nested[k].0 += d.retained(*x);
                nested[k].1 += t.ext(*x);
                break;
            }
            v = p;
        }
    }
    let mut rows: Vec<HolderRow> = Vec::new();
    for (k, (x, chain)) in points.into_iter().enumerate() {
        let mut s = describe(x, chain);
        s.retained = s.retained.saturating_sub(nested[k].0);
        s.retained_external = s.retained_external.saturating_sub(nested[k].1);
        match rows
            .iter_mut()
            .find(|r| r.holder == s.reached_as && r.holder_name == s.holder_name)
        {
            // Two holders the program names alike: one row.
            Some(r) => {
                r.children += s.children;
                r.retained += s.retained;
                r.retained_external += s.retained_external;
            }
            None => rows.push(HolderRow {
                holder: s.reached_as,
                holder_name: s.holder_name,
                kind: s.kind,
                children: s.children,
                retained: s.retained,
                retained_external: s.retained_external,
            }),
        }
    }
    rows
}

/// [`holders`]' answer.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Holders {
    /// Bytes of the reachable V8 heap.
    pub heap_bytes: u64,
    /// Bytes outside the heap its objects keep alive.
    pub external_bytes: u64,
    /// The holders, largest first.
    pub rows: Vec<HolderRow>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::dominators::tests::Lists;

    /// A chain 0 -> 1 -> ... -> n-1 from root 0 (node v's size is v + 1), each owning
    /// `bytes(v)` external bytes.
    fn chain_ext(n: usize, owners: &[(u32, u64)]) -> Vec<u64> {
        let edges: Vec<(usize, usize)> = (1..n).map(|v| (v - 1, v)).collect();
        let g = Lists::new(n, &edges, &[0]);
        let d = Dominators::compute(&g, n as u64, &|_, _, _| {});
        let t = Tree::build(n, &d, owners);
        (0..n).map(|v| t.ext(v)).collect()
    }

    #[test]
    fn external_bytes_add_up_the_dominator_tree_shallow_or_deep() {
        // A few owners: each one's bytes on it and every dominator above it.
        let ext = chain_ext(10, &[(3, 100), (7, 5)]);
        assert_eq!(ext, vec![105, 105, 105, 105, 5, 5, 5, 5, 0, 0]);
        // Every link of a long chain an owner: the climbs would pass their budget, and the
        // one-pass sum gives the same answer.
        let n = 3000;
        let owners: Vec<(u32, u64)> = (0..n as u32).map(|v| (v, 1)).collect();
        let ext = chain_ext(n, &owners);
        assert_eq!(ext[0], n as u64);
        assert_eq!(ext[n - 1], 1);
        assert!(ext.windows(2).all(|w| w[0] == w[1] + 1));
    }
}
