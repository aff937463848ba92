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
use crate::graph::edges::Edges;
use crate::graph::paths::RootKind;
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
    /// Suspects reported at most.
    pub top: usize,
}

impl Default for LeakOptions {
    fn default() -> Self {
        LeakOptions {
            threshold: 0.10,
            top: 5,
        }
    }
}

/// The shape of a suspect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    /// Something else that retains much.
    Object,
}

/// A function in a suspect's story.
#[derive(Debug, Clone, Serialize)]
pub struct CodeRef {
    /// What the function does here (`listener`, `timer callback`, `closure`).
    pub role: String,
    /// Where it is.
    pub function: FunctionLocation,
    /// How many such functions (the same code) there are.
    pub count: u64,
}

/// Objects of one name among a suspect's children or in what it retains.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NameCount {
    /// The name (constructor, `name @ file:line` for functions).
    pub name: String,
    /// How many.
    pub count: u64,
    /// Their total size (self size for retained objects; retained for children).
    pub bytes: u64,
}

/// One leak suspect.
#[derive(Debug, Clone, Serialize)]
pub struct Suspect {
    /// Its shape.
    pub kind: SuspectKind,
    /// The suspect in one sentence.
    pub sentence: String,
    /// The JavaScript object that holds the accumulation (tagged address).
    pub holder: String,
    /// Its name.
    pub holder_name: String,
    /// How the program reaches it, from a root: `global.realtimeService._events['data-update']`.
    pub reached_as: String,
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
}

/// A string repeated many times.
#[derive(Debug, Clone, Serialize)]
pub struct DuplicateString {
    /// The text (its first 80 characters).
    pub text: String,
    /// Copies.
    pub count: u64,
    /// Bytes of one copy.
    pub size: u64,
    /// Bytes the copies beyond the first take.
    pub wasted: u64,
}

/// `leaks`: the suspects, and the duplicate strings.
#[derive(Debug, Clone, Serialize)]
pub struct Leaks {
    /// Bytes of the reachable V8 heap (the dominator tree's).
    pub heap_bytes: u64,
    /// Bytes outside the heap that its objects keep alive.
    pub external_bytes: u64,
    /// The threshold used, as a share.
    pub threshold: f64,
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
struct Tree<'a> {
    d: &'a Dominators,
    /// `first[v]..first[v+1]` are v's children in `kids`; index `n` is the virtual root.
    first: Vec<u32>,
    kids: Vec<u32>,
    /// External bytes retained by each object's subtree.
    ext: Vec<u64>,
}

impl<'a> Tree<'a> {
    fn build(h: &Heap, d: &'a Dominators, own_ext: &[u64]) -> Tree<'a> {
        let n = h.index.len();
        let parent = |i: usize| -> usize {
            match d.idom(i) {
                Some(p) => p,
                None if d.retained(i) > 0 => n,
                None => usize::MAX,
            }
        };
        let mut count = vec![0u32; n + 2];
        for i in 0..n {
            let p = parent(i);
            if p != usize::MAX {
                count[p + 1] += 1;
            }
        }
        for k in 1..count.len() {
            count[k] += count[k - 1];
        }
        let first = count.clone();
        let mut fill = count;
        let mut kids = vec![NONE; *first.last().unwrap_or(&0) as usize];
        for i in 0..n {
            let p = parent(i);
            if p != usize::MAX {
                kids[fill[p] as usize] = i as u32;
                fill[p] += 1;
            }
        }
        let mut t = Tree {
            d,
            first,
            kids,
            ext: vec![0; n],
        };
        // External bytes bottom-up: a post-order from the virtual root.
        let mut stack: Vec<(u32, bool)> = vec![(n as u32, false)];
        while let Some((v, done)) = stack.pop() {
            let v = v as usize;
            if done {
                if v < n {
                    let s: u64 = t.children(v).iter().map(|&c| t.ext[c as usize]).sum();
                    t.ext[v] = own_ext[v] + s;
                }
                continue;
            }
            stack.push((v as u32, true));
            for &c in t.children(v) {
                stack.push((c, false));
            }
        }
        t
    }

    fn children(&self, v: usize) -> &[u32] {
        let (a, b) = (self.first[v] as usize, self.first[v + 1] as usize);
        &self.kids[a..b]
    }

    /// Heap and external bytes retained by `v`.
    fn size(&self, v: usize) -> u64 {
        self.d.retained(v) + self.ext[v]
    }
}

/// External bytes each object itself owns: an ArrayBuffer's backing store (off-heap), an
/// external string's characters.
fn own_external(h: &Heap) -> Vec<u64> {
    let r = h.reader();
    let f = &h.p.fields;
    (0..h.index.len())
        .into_par_iter()
        .map(|i| {
            if !h.marking.is_marked(i) {
                return 0;
            }
            let t = h.index.types[i];
            match h.p.kinds.kind(t) {
                Kind::JSArrayBuffer => {
                    let b = h.index.tagged(i);
                    let store = r.slot(b, f.array_buffer_backing_store).unwrap_or(0);
                    if store == 0 {
                        return 0;
                    }
                    r.slot(b, f.array_buffer_byte_length)
                        .filter(|&n| n < 1 << 40)
                        .unwrap_or(0)
                }
                Kind::String if t & 7 == 2 => {
                    let s = h.index.tagged(i);
                    let len = r.u32_at(s, h.p.layout.string_length as u64).unwrap_or(0) as u64;
                    len * if t & 8 != 0 { 1 } else { 2 }
                }
                _ => 0,
            }
        })
        .collect()
}

/// Where the memory fans out: see the module docs. `limit` is the threshold in bytes.
fn accumulation_points(t: &Tree, h: &Heap, limit: u64) -> Vec<(usize, Option<u64>)> {
    let n = h.index.len();
    let mut out = Vec::new();
    let mut todo = vec![n];
    while let Some(x) = todo.pop() {
        let size = if x == n {
            u64::MAX
        } else {
            t.size(x)
        };
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
            if let Some(len) = chain_length(t, h, x) {
                out.push((x, Some(len)));
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

/// If the dominator tree below `x` is a chain repeating a pattern of up to four names at least
/// 10 times (each link holding most of the rest), its length in repetitions.
fn chain_length(t: &Tree, h: &Heap, x: usize) -> Option<u64> {
    let mut names: Vec<String> = Vec::new();
    let mut v = x;
    for _ in 0..256 {
        names.push(display_name(h, v));
        let size = t.size(v);
        let Some(&c) = t
            .children(v)
            .iter()
            .max_by_key(|&&c| t.size(c as usize))
        else {
            break;
        };
        if t.size(c as usize) * 10 < size * 8 {
            break;
        }
        v = c as usize;
    }
    (1..=4).find_map(|p| {
        if names.len() < 10 * p {
            return None;
        }
        let reps = (p..names.len())
            .take_while(|&k| names[k] == names[k - p])
            .count();
        let links = (reps + p) / p;
        (links >= 10).then(|| {
            // Count the whole chain, past the 256 looked at.
            let mut total = 0u64;
            let mut v = x;
            for _ in 0..10_000_000 {
                let Some(&c) = t
                    .children(v)
                    .iter()
                    .max_by_key(|&&c| t.size(c as usize))
                else {
                    break;
                };
                if display_name(h, c as usize) != display_name(h, v) && p == 1 {
                    break;
                }
                if t.size(c as usize) * 10 < t.size(v) * 8 {
                    break;
                }
                total += 1;
                v = c as usize;
            }
            (total + 1) / p as u64
        })
    })
}

/// The JavaScript object that owns an engine store (the Array of an elements store, the Map
/// of a hash table, the object of a property dictionary), or the object itself.
fn owner(h: &Heap, d: &Dominators, x: usize) -> usize {
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
    );
    match d.idom(x) {
        Some(o) if store && h.index.kind(&h.p, o).is_receiver() => o,
        _ => x,
    }
}

fn group(h: &Heap, items: impl Iterator<Item = (usize, u64)>, top: usize) -> Vec<NameCount> {
    let mut by: FxHashMap<String, (u64, u64)> = FxHashMap::default();
    for (i, b) in items {
        let e = by.entry(display_name(h, i)).or_default();
        e.0 += 1;
        e.1 += b;
    }
    let mut v: Vec<NameCount> = by
        .into_iter()
        .map(|(name, (count, bytes))| NameCount { name, count, bytes })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then(b.bytes.cmp(&a.bytes)));
    v.truncate(top);
    v
}

/// JS objects (snapshot "object" type) in `x`'s dominator subtree, by name, largest first.
fn retained_names(t: &Tree, h: &Heap, x: usize, top: usize) -> Vec<NameCount> {
    let mut by: FxHashMap<u32, (u64, u64)> = FxHashMap::default();
    let mut stack = vec![x as u32];
    let mut seen = 0u64;
    while let Some(v) = stack.pop() {
        let v = v as usize;
        seen += 1;
        if seen > 50_000_000 {
            break;
        }
        if v != x {
            if let Some(id) = h.names.id(v) {
                let e = by.entry(id).or_default();
                e.0 += 1;
                e.1 += h.index.sizes[v] as u64;
            }
        }
        stack.extend_from_slice(t.children(v));
    }
    let mut out: Vec<NameCount> = by
        .into_iter()
        .map(|(id, (count, bytes))| NameCount {
            name: h.names.table()[id as usize].to_string(),
            count,
            bytes,
        })
        .collect();
    out.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(b.count.cmp(&a.count)));
    out.truncate(top);
    out
}

/// `global.realtimeService._events['data-update']` from a retainer path (outermost first).
fn reached_as(steps: &[(String, String)], root: &RootKind) -> String {
    let mut s = match root {
        RootKind::Global => "global".to_string(),
        _ => String::new(),
    };
    for (edge, _holder) in steps.iter().rev() {
        if let Some(p) = edge.strip_prefix('.') {
            if p.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$') && !p.is_empty() {
                s.push('.');
                s.push_str(p);
            } else {
                s.push_str(&format!("[{p:?}]").replace('"', "'"));
            }
        } else if edge.starts_with('[') {
            s.push_str(edge);
        } else if s.is_empty() {
            s = format!("(closure variable {edge})");
        } else {
            s.push_str(&format!(" (closure variable {edge})"));
        }
    }
    s
}

/// The leak suspects of a heap (see the module docs).
pub fn leaks(h: &Heap, g: &Graph, d: &Dominators, opts: &LeakOptions) -> Leaks {
    let own = own_external(h);
    let t = Tree::build(h, d, &own);
    let n = h.index.len();
    let roots: Vec<usize> = t.children(n).iter().map(|&c| c as usize).collect();
    let heap_bytes: u64 = roots.iter().map(|&r| d.retained(r)).sum();
    let external_bytes: u64 = roots.iter().map(|&r| t.ext[r]).sum();
    let total = (heap_bytes + external_bytes).max(1);
    let limit = ((total as f64) * opts.threshold).ceil() as u64;
    let edges = Edges::new(h, g);
    let r = h.reader();
    let mut suspects: Vec<Suspect> = accumulation_points(&t, h, limit.max(1))
        .into_iter()
        .filter(|&(x, _)| t.size(x) >= limit)
        .map(|(x, chain)| describe(h, &t, &edges, &r, x, chain, total))
        .collect();
    suspects.sort_by(|a, b| {
        (b.retained + b.retained_external).cmp(&(a.retained + a.retained_external))
    });
    suspects.truncate(opts.top);
    let (duplicate_string_bytes, duplicate_strings) = duplicate_strings(h, 10);
    let pct = (opts.threshold * 100.0).round();
    let verdict = if suspects.is_empty() {
        format!(
            "no suspect above {pct}% of the memory ({} of heap, {} outside it)",
            bytes(heap_bytes),
            bytes(external_bytes)
        )
    } else {
        format!(
            "{} suspect{} retaining at least {pct}% of the memory ({} of heap, {} outside it)",
            suspects.len(),
            if suspects.len() == 1 { "" } else { "s" },
            bytes(heap_bytes),
            bytes(external_bytes)
        )
    };
    Leaks {
        heap_bytes,
        external_bytes,
        threshold: opts.threshold,
        suspects,
        verdict,
        duplicate_string_bytes,
        duplicate_strings,
    }
}

fn describe(
    h: &Heap,
    t: &Tree,
    edges: &Edges,
    r: &crate::objects::reader::Reader,
    x: usize,
    chain: Option<u64>,
    total: u64,
) -> Suspect {
    let holder = owner(h, t.d, x);
    let hk = h.index.kind(&h.p, holder);
    let holder_name = display_name(h, holder);
    let paths = edges.retainer_paths(holder, 1, 64);
    let path = paths.first();
    let steps: Vec<(String, String)> = path
        .map(|p| {
            p.steps
                .iter()
                .map(|s| (s.edge.name.clone(), display_name(h, s.edge.holder)))
                .collect()
        })
        .unwrap_or_default();
    let root = path.map(|p| p.root_kind.clone()).unwrap_or(RootKind::Global);
    let reached = reached_as(&steps, &root);
    let kids: Vec<usize> = t.children(x).iter().map(|&c| c as usize).collect();
    let child_names = group(h, kids.iter().map(|&c| (c, t.size(c))), 5);
    let retains = retained_names(t, h, x, 6);
    let retained = t.d.retained(x);
    let retained_external = t.ext[x];
    let share = (retained + retained_external) as f64 / total as f64;
    let obj = h.index.tagged(holder);
    // Functions among the children: the code that accumulates (listeners, callbacks).
    let mut code: Vec<CodeRef> = Vec::new();
    let add_code = |code: &mut Vec<CodeRef>, role: &str, f: u64| {
        let loc = function_location(r, f);
        if let Some(c) = code.iter_mut().find(|c| c.role == role && c.function == loc) {
            c.count += 1;
        } else if code.len() < 8 {
            code.push(CodeRef {
                role: role.into(),
                function: loc,
                count: 1,
            });
        }
    };
    let mut listeners = 0u64;
    for &c in &kids {
        if h.index.kind(&h.p, c) == Kind::JSFunction {
            add_code(&mut code, "closure", h.index.tagged(c));
            listeners += 1;
        }
    }
    // Timeout objects: their callbacks.
    let f = &h.p.fields;
    let on_timeout = |o: u64| r.own_data_property(o, |k| r.string_eq(k, "_onTimeout"));
    let timeouts: Vec<usize> = kids
        .iter()
        .copied()
        .chain(std::iter::once(x))
        .filter(|&c| h.names.get(c).is_some_and(|n| &**n == "Timeout"))
        .collect();
    for &c in &timeouts {
        if let Some(cb) = on_timeout(h.index.tagged(c)) {
            if r.kind(cb) == Some(Kind::JSFunction) {
                add_code(&mut code, "timer callback", cb);
            }
        }
    }
    let pct = share * 100.0;
    let size_words = |ret: u64, ext: u64| {
        if ext > 0 {
            format!(
                "{} ({} of it outside the V8 heap), {pct:.0}% of the memory",
                bytes(ret + ext),
                bytes(ext)
            )
        } else {
            format!("{}, {pct:.0}% of the memory", bytes(ret))
        }
    };
    let retain_words = {
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
    };
    let is_events = steps
        .get(1)
        .is_some_and(|(edge, _)| edge == "._events")
        && hk == Kind::JSArray;
    let (kind, sentence, children) = if let Some(links) = chain {
        let link_names: Vec<String> = child_chain_names(h, t, x, 4);
        (
            if timeouts.is_empty() {
                SuspectKind::Chain
            } else {
                SuspectKind::Timers
            },
            format!(
                "a chain of {links} {} starting at {holder_name} `{reached}`{}: {}",
                link_names.join(" -> "),
                retain_words,
                size_words(retained, retained_external)
            ),
            links,
        )
    } else if is_events {
        let event = steps[0].0.trim_start_matches('.').to_string();
        let emitter = &steps[1].1;
        let var = reached_as(&steps[2..], &root);
        let var = var.strip_prefix("global.").unwrap_or(&var).to_string();
        let count = r.js_array_length(obj).unwrap_or(listeners);
        let at = code
            .first()
            .and_then(|c| c.function.place())
            .map(|p| format!(" (the function at {p})"))
            .unwrap_or_default();
        if let Some(c) = code.first_mut() {
            c.role = "listener".into();
        }
        (
            SuspectKind::EventListeners,
            format!(
                "EventEmitter `{var}` ({emitter}) holds {count} `{event}` listeners{at}{retain_words}: {}",
                size_words(retained, retained_external)
            ),
            count,
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
            _ if !timeouts.is_empty() => (SuspectKind::Timers, "timers"),
            _ if reached.ends_with("._cache") || reached.contains("require.cache") => {
                (SuspectKind::Modules, "modules")
            }
            k if k.is_receiver() && r.is_dictionary_map(r.map(obj).unwrap_or(0)) => {
                (SuspectKind::ObjectProperties, "properties")
            }
            _ => (SuspectKind::Object, "children"),
        };
        let of = child_names
            .first()
            .map(|c| format!(" (mostly {})", c.name))
            .unwrap_or_default();
        (
            kind,
            format!(
                "{holder_name} `{reached}` holds {count} {what}{of}{retain_words}: {}",
                size_words(retained, retained_external)
            ),
            count,
        )
    };
    Suspect {
        kind,
        sentence,
        holder: format!("{obj:#x}"),
        holder_name,
        reached_as: reached,
        path: path.map(|p| crate::graph::paths::chain_text(h, holder, p)),
        retained,
        retained_external,
        share,
        children,
        child_names,
        retains,
        code,
    }
}

/// The names along the first `max` links of a chain starting at `x`.
fn child_chain_names(h: &Heap, t: &Tree, x: usize, max: usize) -> Vec<String> {
    let mut out = vec![display_name(h, x)];
    let mut v = x;
    while out.len() < max {
        let Some(&c) = t.children(v).iter().max_by_key(|&&c| t.size(c as usize)) else {
            break;
        };
        let name = display_name(h, c as usize);
        if name == out[0] {
            break;
        }
        out.push(name);
        v = c as usize;
    }
    out
}

/// Strings whose text occurs more than once among the reachable sequential strings of 8 to
/// 64 KiB characters: (bytes wasted in all, the `top` most wasteful).
fn duplicate_strings(h: &Heap, top: usize) -> (u64, Vec<DuplicateString>) {
    let r = h.reader();
    let n = h.index.len();
    let len_off = h.p.layout.string_length as u64;
    let chunk = 1 << 14;
    // (hash, length, size) -> (count, an example index)
    let groups: FxHashMap<(u64, u32, u32), (u64, usize)> = (0..n.div_ceil(chunk))
        .into_par_iter()
        .map(|c| {
            let mut m: FxHashMap<(u64, u32, u32), (u64, usize)> = FxHashMap::default();
            for i in c * chunk..((c + 1) * chunk).min(n) {
                let t = h.index.types[i];
                if t >= 128 || t & 7 != 0 || !h.marking.is_marked(i) {
                    continue;
                }
                let s = h.index.tagged(i);
                let Some(len) = r.u32_at(s, len_off) else {
                    continue;
                };
                if !(8..=1 << 16).contains(&len) {
                    continue;
                }
                let bytes_len = len as usize * if t & 8 != 0 { 1 } else { 2 };
                let Some(b) = r.bytes_at(s, 16, bytes_len) else {
                    continue;
                };
                let mut hasher = rustc_hash::FxHasher::default();
                std::hash::Hasher::write(&mut hasher, &b);
                let key = (
                    std::hash::Hasher::finish(&hasher),
                    len,
                    h.index.sizes[i],
                );
                m.entry(key).or_insert((0, i)).0 += 1;
            }
            m
        })
        .reduce(FxHashMap::default, |mut a, b| {
            for (k, (c, i)) in b {
                a.entry(k).or_insert((0, i)).0 += c;
            }
            a
        });
    let mut dups: Vec<DuplicateString> = groups
        .into_iter()
        .filter(|(_, (c, _))| *c > 1)
        .map(|((_, _, size), (count, i))| DuplicateString {
            text: r
                .string(h.index.tagged(i), 80)
                .map(|s| s.text)
                .unwrap_or_default(),
            count,
            size: size as u64,
            wasted: (count - 1) * size as u64,
        })
        .collect();
    let wasted = dups.iter().map(|d| d.wasted).sum();
    dups.sort_by(|a, b| b.wasted.cmp(&a.wasted).then(a.text.cmp(&b.text)));
    dups.truncate(top);
    (wasted, dups)
}
