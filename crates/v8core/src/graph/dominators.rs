//! Dominator tree and retained sizes.
//!
//! An object's retained size is what the heap would lose if it went away: its own size plus
//! that of every object reachable only through it (the objects it dominates). Computed with
//! Lengauer and Tarjan's algorithm over the graph of [`crate::graph::reverse`] (strong references only;
//! map words and read-only objects are not edges), from a virtual root whose children are the
//! primary roots (registers, live stacks, the Isolate) and then those other conservative roots
//! (pointers from the C++ heap or the executable's data) that the primary ones do not reach;
//! of those, a backing store no object holds that adds nothing reachable is left out
//! ([`DomGraph::may_be_stale`]).
//! Objects the search does not reach (held only by map words) are not counted.
//!
//! Memory: while the semidominators are computed, three 4-byte arrays per object (DFS
//! numbers; the DFS parents, which become the path-compression forest in place; the least
//! semidominator on each compressed path), a quarter of a fourth (the node of each number,
//! made a block at a time: [`Blocks`]) and about two bytes a number of varints (each number's
//! parent and semidominator, kept for the dominator pass: [`ParentSemi`]); then the whole
//! inverse, the dominators by object and the retained sizes, each made once what it is made
//! from is gone. The answer keeps 9 bytes per object (immediate dominator, retained size in
//! 40 bits: [`Sizes`]). Every loop is iterative, so deep chains (linked lists) cannot overflow
//! the stack.

use crate::graph::describe::is_store_kind;
use crate::graph::reverse::Graph;
use crate::heap::index::Progress;
use crate::heap::loaded::Heap;
use rayon::prelude::*;

const NONE: u32 = u32::MAX;
/// Nodes the search numbers between two [`DomGraph::release`] hints.
const RELEASE_EVERY: usize = 2048;

/// A graph whose dominator tree can be computed: nodes `0..node_count()`, a virtual root whose
/// children are `roots()`, successors enumerated with a resumable cursor (so the depth-first
/// search needs no per-node edge lists), predecessors on demand.
pub trait DomGraph: Sync {
    /// Number of nodes.
    fn node_count(&self) -> usize;
    /// The children of the virtual root, in priority order (a node reached from an earlier
    /// root is not a root itself).
    fn roots(&self) -> Vec<usize>;
    /// The first successor `t` of `v` at or after `cursor` for which `want(t)`, moving
    /// `cursor` past it (one pass over `v`'s references however many are skipped).
    fn next_successor(
        &self,
        v: usize,
        cursor: &mut u64,
        want: &dyn Fn(usize) -> bool,
    ) -> Option<usize>;
    /// Calls `f` for every predecessor of `v`.
    fn for_each_predecessor(&self, v: usize, f: &mut dyn FnMut(usize));
    /// The node's own size.
    fn size(&self, v: usize) -> u64;
    /// A hint, given every few thousand nodes of the search: memory read so far may be let go
    /// (a large core's pages), if much of it is resident.
    fn release(&self) {}
    /// A hint, given once the search is over: nothing read so far is needed again for a
    /// while, so all of it may be let go.
    fn release_all(&self) {}
    /// Whether root `v` may be a stale pointer to garbage: such a root is left out when
    /// everything it references is already reached from the roots before it (it would only
    /// make the virtual root dominate what live objects hold).
    fn may_be_stale(&self, _v: usize) -> bool {
        false
    }
}

/// Whether root `r` is left out of the search: it may be stale ([`DomGraph::may_be_stale`])
/// and references nothing still `unreached`.
fn left_out(g: &impl DomGraph, r: usize, unreached: &dyn Fn(usize) -> bool) -> bool {
    g.may_be_stale(r) && g.next_successor(r, &mut 0, unreached).is_none()
}

/// The node of each DFS number, for the semidominator pass, which takes the numbers from the
/// last down: made a block of numbers at a time by one scan of `dfnum`, so that while the
/// pass runs only a quarter of the inverse array is held (a scan of a 4-byte array an object
/// per quarter, where the whole inverse would be 4 more bytes an object at the peak).
struct Blocks {
    /// Numbers `lo..lo + nodes.len()`.
    lo: usize,
    nodes: Vec<u32>,
    size: usize,
}

impl Blocks {
    fn new(count: usize) -> Blocks {
        // The unit tests' graphs are small: blocks of 3 make their dominators go through many.
        Blocks::of_size(if cfg!(test) {
            3
        } else {
            count.div_ceil(4).max(1 << 16)
        })
    }

    fn of_size(size: usize) -> Blocks {
        Blocks {
            lo: usize::MAX,
            nodes: Vec::new(),
            size: size.max(1),
        }
    }

    /// The node numbered `w` (numbers asked for in descending order).
    fn node(&mut self, w: usize, dfnum: &[u32]) -> u32 {
        if w < self.lo || w >= self.lo + self.nodes.len() {
            let lo = (w + 1).saturating_sub(self.size);
            self.nodes.clear();
            self.nodes.resize(w + 1 - lo, NONE);
            for (o, &d) in dfnum.iter().enumerate() {
                let d = d as usize;
                if d >= lo && d <= w {
                    self.nodes[d - lo] = o as u32;
                }
            }
            self.lo = lo;
        }
        self.nodes[w - self.lo]
    }
}

/// Each DFS number's parent and semidominator, written from the last number down while the
/// semidominators are computed and read back from the first up by the dominator pass: two
/// LEB128 varints a number (`w - 1 - parent`, and `parent - semi` zigzagged), mostly a byte
/// each (a child is numbered soon after its parent, which is most often its semidominator),
/// where two arrays would take 8 bytes a number. Kept in chunks of numbers, so the reading
/// can go the other way a chunk at a time.
struct ParentSemi {
    /// Numbers per chunk.
    chunk: usize,
    /// Full chunks, in the order written (the highest numbers first), each with its count.
    done: Vec<(Vec<u8>, usize)>,
    current: Vec<u8>,
    in_current: usize,
}

impl ParentSemi {
    fn new() -> ParentSemi {
        // The unit tests' graphs are small: chunks of 3 make them go through many.
        ParentSemi::of_chunk(if cfg!(test) { 3 } else { 1 << 16 })
    }

    fn of_chunk(chunk: usize) -> ParentSemi {
        ParentSemi {
            chunk: chunk.max(1),
            done: Vec::new(),
            current: Vec::new(),
            in_current: 0,
        }
    }

    fn put(buf: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            buf.push(v as u8 | 0x80);
            v >>= 7;
        }
        buf.push(v as u8);
    }

    fn get(buf: &[u8], at: &mut usize) -> u64 {
        let (mut v, mut shift) = (0u64, 0);
        while let Some(&b) = buf.get(*at) {
            *at += 1;
            v |= ((b & 0x7f) as u64) << shift;
            shift += 7;
            if b & 0x80 == 0 || shift >= 64 {
                break;
            }
        }
        v
    }

    /// Number `w` has DFS parent `parent` (below `w`) and semidominator `semi`. The numbers
    /// pushed run down by one, the last of them 1.
    fn push(&mut self, w: u32, parent: u32, semi: u32) {
        Self::put(
            &mut self.current,
            (w as u64).saturating_sub(1 + parent as u64),
        );
        let d = parent as i64 - semi as i64;
        Self::put(&mut self.current, ((d << 1) ^ (d >> 63)) as u64);
        self.in_current += 1;
        if self.in_current == self.chunk {
            let mut full = std::mem::take(&mut self.current);
            full.shrink_to_fit();
            self.done.push((full, self.in_current));
            self.in_current = 0;
        }
    }

    /// Calls `f(w, parent, semi)` for every number pushed, from 1 up. Each chunk is let go
    /// once read.
    fn for_each_ascending(mut self, mut f: impl FnMut(u32, u32, u32)) {
        if self.in_current > 0 {
            let rest = std::mem::take(&mut self.current);
            self.done.push((rest, self.in_current));
        }
        // The chunk's numbers, highest first, as (parent, semi).
        let mut buf: Vec<(u32, u32)> = Vec::with_capacity(self.chunk);
        // The last chunk written holds the lowest numbers, from 1 up to its count.
        let mut lo = 1u64;
        while let Some((bytes, k)) = self.done.pop() {
            let top = lo + k as u64 - 1;
            lo += k as u64;
            buf.clear();
            let mut at = 0;
            for j in 0..k as u64 {
                let w = top - j;
                let parent = w.saturating_sub(1 + Self::get(&bytes, &mut at));
                let z = Self::get(&bytes, &mut at);
                let d = (z >> 1) as i64 ^ -((z & 1) as i64);
                buf.push((parent as u32, (parent as i64 - d) as u32));
            }
            drop(bytes);
            for (j, &(parent, semi)) in buf.iter().enumerate().rev() {
                f((top - j as u64) as u32, parent, semi);
            }
        }
    }
}

/// A byte count per object, 40 bits each (a 32-bit low part and a high byte: 5 bytes an
/// object, where a u64 takes 8), or 64 bits when the objects' sizes add up to 2^40 bytes (1
/// TiB) or more, so that no sum of them can overflow the packed form.
enum Sizes {
    Packed { lo: Vec<u32>, hi: Vec<u8> },
    Wide(Vec<u64>),
}

impl Sizes {
    /// `n` zeros, for sums of at most `bound` bytes.
    fn zeros(n: usize, bound: u64) -> Sizes {
        if bound < 1 << 40 {
            Sizes::Packed {
                lo: vec![0; n],
                hi: vec![0; n],
            }
        } else {
            Sizes::Wide(vec![0; n])
        }
    }

    fn len(&self) -> usize {
        match self {
            Sizes::Packed { lo, .. } => lo.len(),
            Sizes::Wide(w) => w.len(),
        }
    }

    #[inline]
    fn get(&self, i: usize) -> u64 {
        match self {
            Sizes::Packed { lo, hi } => match (lo.get(i), hi.get(i)) {
                (Some(&l), Some(&h)) => (h as u64) << 32 | l as u64,
                _ => 0,
            },
            Sizes::Wide(w) => w.get(i).copied().unwrap_or(0),
        }
    }

    #[inline]
    fn add(&mut self, i: usize, x: u64) {
        let v = self.get(i) + x;
        match self {
            Sizes::Packed { lo, hi } => {
                lo[i] = v as u32;
                hi[i] = (v >> 32) as u8;
            }
            Sizes::Wide(w) => w[i] = v,
        }
    }
}

/// The dominator tree of the reachable heap.
pub struct Dominators {
    /// Immediate dominator of each object (object index), `NONE` for children of the virtual
    /// root and for objects not reached.
    idom: Vec<u32>,
    /// Retained size of each object (0 if not reached).
    retained: Sizes,
    /// Objects reached from the roots.
    pub reached: u64,
}

/// The heap seen as a [`DomGraph`]: strong references (map words, read-only objects and weak
/// references left out, as in the reference graph's strong retainers); primary roots (registers, live stacks, the Isolate) first,
/// then the conservative roots they do not reach.
struct HeapGraph<'h, F> {
    h: &'h Heap,
    g: &'h Graph,
    edge: F,
}

impl<F: Fn(u16, u64, u64) -> Option<usize> + Sync> DomGraph for HeapGraph<'_, F> {
    fn node_count(&self) -> usize {
        self.h.index.len()
    }
    fn roots(&self) -> Vec<usize> {
        let m = &self.h.marking;
        // A conservative root counts only if the primary ones do not reach it: a stale
        // pointer in freed C++ memory must not make the virtual root dominate what a live
        // object holds.
        let mut roots: Vec<(bool, u32)> = m
            .root_at
            .keys()
            .map(|&i| (!m.is_primary_root(i as usize), i))
            .collect();
        roots.sort_unstable();
        roots.into_iter().map(|(_, i)| i as usize).collect()
    }
    /// A backing store (elements, properties, a dictionary) that no object in the heap holds,
    /// pointed at only from outside the live stacks and the Isolate: native code holds objects,
    /// not their stores, so this is an old store left behind when an array grew, found through
    /// a stale word in C++ memory (seen in CI: a spare handle block pointing at an event
    /// listener array's old store made the listeners lose their dominator).
    fn may_be_stale(&self, v: usize) -> bool {
        !self.h.marking.is_primary_root(v)
            && is_store_kind(self.h.index.kind(&self.h.p, v))
            && self.g.strong_retainers(v).next().is_none()
    }
    fn next_successor(
        &self,
        v: usize,
        cursor: &mut u64,
        want: &dyn Fn(usize) -> bool,
    ) -> Option<usize> {
        let mut next = None;
        let ty = self.h.index.types[v];
        self.h
            .index
            .for_each_slot_from(&self.h.p, v, *cursor, |off, w| {
                if let Some(t) = (self.edge)(ty, off, w).filter(|&t| want(t)) {
                    next = Some((t, off + 8));
                    return false;
                }
                true
            });
        let (t, resume) = next?;
        *cursor = resume;
        Some(t)
    }
    fn for_each_predecessor(&self, v: usize, f: &mut dyn FnMut(usize)) {
        for o in self.g.strong_retainers(v) {
            f(o);
        }
    }
    fn size(&self, v: usize) -> u64 {
        self.h.index.size(v) as u64
    }
    fn release(&self) {
        self.h
            .p
            .dump()
            .release_over(crate::heap::RESIDENT_CORE_BYTES);
    }
    fn release_all(&self) {
        self.h.p.dump().release_all();
    }
}

/// The heap `h` with its reference graph `g` as a [`DomGraph`].
pub fn heap_graph<'h>(h: &'h Heap, g: &'h Graph) -> impl DomGraph + 'h {
    HeapGraph {
        h,
        g,
        edge: Graph::strong_edge_filter(&h.p, &h.index),
    }
}

impl Dominators {
    /// Compute the tree and the retained sizes of the heap.
    pub fn build(h: &Heap, g: &Graph, progress: Progress) -> Dominators {
        Dominators::compute(&heap_graph(h, g), h.marking.reachable.max(1), progress)
    }

    /// Lengauer-Tarjan over `g` (iterative depth-first search and path compression);
    /// `expected` is the number of nodes the search will likely reach (for progress).
    pub fn compute(g: &impl DomGraph, expected: u64, progress: Progress) -> Dominators {
        let n = g.node_count();
        // Numbering: DFS preorder from the virtual root (number 0).
        let mut dfnum = vec![NONE; n];
        // Room for every node up front: growing by doubling would copy the array, holding
        // both copies at once (reserved pages that are never written take no memory). The
        // inverse of `dfnum` (the node of each number) is not kept while the semidominators
        // are computed: it is made a block at a time from `dfnum` (see `Blocks`).
        let mut parent: Vec<u32> = Vec::with_capacity(n + 1);
        parent.push(0); // the virtual root, number 0
                        // Iterative DFS: (node, cursor of its next successor), 8 bytes a level (a heap's DFS
                        // can run millions deep).
        let mut stack: Vec<(u32, u32)> = Vec::new();
        let total = expected.max(1);
        for r in g.roots() {
            if r >= n || dfnum[r] != NONE {
                continue;
            }
            if left_out(g, r, &|t| t < n && dfnum[t] == NONE) {
                continue;
            }
            dfnum[r] = parent.len() as u32;
            parent.push(0);
            stack.push((r as u32, 0));
            while let Some(&mut (v, ref mut cursor32)) = stack.last_mut() {
                let mut cursor = *cursor32 as u64;
                let next =
                    g.next_successor(v as usize, &mut cursor, &|t| t < n && dfnum[t] == NONE);
                *cursor32 = u32::try_from(cursor).unwrap_or(u32::MAX);
                match next {
                    Some(t) => {
                        dfnum[t] = parent.len() as u32;
                        parent.push(dfnum[v as usize]);
                        stack.push((t as u32, 0));
                        if parent.len().is_multiple_of(1 << 16) {
                            progress("dominators", parent.len() as u64, 2 * total);
                        }
                        // The search reads node bodies all over the heap: let the core's
                        // pages go now and then, as marking does.
                        if parent.len().is_multiple_of(RELEASE_EVERY) {
                            g.release();
                        }
                    }
                    None => {
                        stack.pop();
                    }
                }
            }
        }
        g.release_all();
        drop(stack);
        let count = parent.len();
        // Semidominators as Lengauer and Tarjan compute them (in DFS-number space, with
        // path compression), then each immediate dominator as the nearest common ancestor of
        // its parent and its semidominator in the dominator tree built so far (semi-NCA,
        // Georgiadis 2005): no buckets.
        //
        // Numbers are worked on from the last down, and each is linked into the
        // path-compression forest under its DFS parent once its semidominator is known: while
        // `w` is worked on, exactly the numbers above `w` are linked. So the forest starts as
        // the DFS tree itself and `parent` becomes its `ancestor` array in place (a number at
        // most `w` is a forest root). `best[x]` is the least semidominator on x's compressed
        // path (the semidominator of Lengauer and Tarjan's `label(x)`, the only thing read of
        // the label). Each number's parent and semidominator, needed again only for the
        // dominators, go into a compact stream ([`ParentSemi`]): three 4-byte arrays while
        // this runs, where parent, semi, ancestor and label were four.
        let mut ancestor = parent;
        let mut best = vec![0u32; count];
        let mut links = ParentSemi::new();
        let mut path: Vec<u32> = Vec::new();
        // eval(v) while `w` is worked on: the least semidominator on the path from v up to
        // (not including) its forest root, with iterative path compression.
        let eval = |v: u32, w: u32, ancestor: &mut [u32], best: &mut [u32], path: &mut Vec<u32>| {
            if v <= w {
                // Not linked: its semidominator so far is its own number.
                return v;
            }
            path.clear();
            let mut x = v;
            while ancestor[x as usize] > w {
                path.push(x);
                x = ancestor[x as usize];
            }
            while let Some(y) = path.pop() {
                let a = ancestor[y as usize] as usize;
                if best[a] < best[y as usize] {
                    best[y as usize] = best[a];
                }
                ancestor[y as usize] = ancestor[a];
            }
            best[v as usize]
        };
        let mut preds: Vec<u32> = Vec::new();
        let mut block = Blocks::new(count);
        for w in (1..count).rev() {
            let obj = block.node(w, &dfnum) as usize;
            preds.clear();
            g.for_each_predecessor(obj, &mut |o| {
                if let Some(&d) = dfnum.get(o) {
                    if d != NONE {
                        preds.push(d);
                    }
                }
            });
            // Not linked yet, so still the DFS parent.
            let p = ancestor[w];
            // The roots are the virtual root's children in the search tree.
            if p == 0 {
                preds.push(0);
            }
            let mut semi = w as u32;
            for &v in &preds {
                semi = semi.min(eval(v, w as u32, &mut ancestor, &mut best, &mut path));
            }
            // Linked: `ancestor[w]` already holds its parent.
            best[w] = semi;
            links.push(w as u32, p, semi);
            if w.is_multiple_of(1 << 16) {
                progress("dominators", (2 * count - w) as u64, 2 * total);
            }
        }
        drop((best, path, preds, block));
        // idom(w): up from w's parent through the dominators already found (all of smaller
        // DFS numbers) until at or above semi(w). The forest's array is rewritten from the
        // first number up, each entry before it is read.
        let mut idom = ancestor;
        links.for_each_ascending(|w, p, semi| {
            let mut d = p;
            while d > semi {
                d = idom[d as usize];
            }
            idom[w as usize] = d;
        });
        // Now the node of each number, whole; the dominators by object; then `dfnum` and the
        // tree by number can go.
        let mut vertex = vec![NONE; count];
        for (o, &d) in dfnum.iter().enumerate() {
            if let Some(v) = vertex.get_mut(d as usize) {
                *v = o as u32;
            }
        }
        drop(dfnum);
        let mut idom_obj = vec![NONE; n];
        for w in 1..count {
            let d = idom[w];
            idom_obj[vertex[w] as usize] = if d == 0 { NONE } else { vertex[d as usize] };
        }
        drop(idom);
        // Retained sizes: children before parents (a dominator has a smaller DFS number),
        // added up where the answer keeps them (by object), so no second array by DFS number.
        // No retained size exceeds the sum of the reached objects' sizes.
        let bound: u64 = vertex[1..].iter().map(|&v| g.size(v as usize)).sum();
        let mut retained = Sizes::zeros(n, bound);
        for w in (1..count).rev() {
            let v = vertex[w] as usize;
            retained.add(v, g.size(v));
            let d = idom_obj[v];
            if d != NONE {
                retained.add(d as usize, retained.get(v));
            }
        }
        progress("dominators", 2 * total, 2 * total);
        Dominators {
            idom: idom_obj,
            retained,
            reached: (count - 1) as u64,
        }
    }

    /// Immediate dominators by the textbook iterative algorithm (Cooper, Harvey and Kennedy,
    /// "A Simple, Fast Dominance Algorithm"): quadratic at worst, so only a reference to check
    /// [`Dominators::compute`] against. `None` for children of the virtual root and for nodes
    /// not reached.
    pub fn simple(g: &impl DomGraph) -> Vec<Option<usize>> {
        let n = g.node_count();
        let virt = n;
        // Postorder numbers from a DFS with the same root order.
        let mut post = vec![NONE; n + 1];
        let mut seen = vec![false; n];
        let mut order: Vec<usize> = Vec::new();
        let mut is_root = vec![false; n];
        for r in g.roots() {
            if r >= n || seen[r] {
                continue;
            }
            if left_out(g, r, &|t| t < n && !seen[t]) {
                continue;
            }
            is_root[r] = true;
            seen[r] = true;
            let mut stack: Vec<(usize, u64)> = vec![(r, 0)];
            while let Some(&mut (v, ref mut c)) = stack.last_mut() {
                let next = g.next_successor(v, c, &|t| t < n && !seen[t]);
                match next {
                    Some(t) => {
                        seen[t] = true;
                        stack.push((t, 0));
                    }
                    None => {
                        post[v] = order.len() as u32;
                        order.push(v);
                        stack.pop();
                    }
                }
            }
        }
        post[virt] = order.len() as u32;
        let mut idom: Vec<u32> = vec![NONE; n + 1];
        idom[virt] = virt as u32;
        let intersect = |idom: &Vec<u32>, mut a: usize, mut b: usize| -> usize {
            while a != b {
                while post[a] < post[b] {
                    a = idom[a] as usize;
                }
                while post[b] < post[a] {
                    b = idom[b] as usize;
                }
            }
            a
        };
        let mut changed = true;
        while changed {
            changed = false;
            for &v in order.iter().rev() {
                let mut preds: Vec<usize> = Vec::new();
                g.for_each_predecessor(v, &mut |p| {
                    if p < n && post[p] != NONE {
                        preds.push(p)
                    }
                });
                if is_root[v] {
                    preds.push(virt);
                }
                let mut new: Option<usize> = None;
                for &p in &preds {
                    if idom[p] == NONE {
                        continue;
                    }
                    new = Some(match new {
                        None => p,
                        Some(x) => intersect(&idom, p, x),
                    });
                }
                if let Some(d) = new {
                    if idom[v] != d as u32 {
                        idom[v] = d as u32;
                        changed = true;
                    }
                }
            }
        }
        (0..n)
            .map(|v| match idom[v] {
                NONE => None,
                d if d as usize == virt => None,
                d => Some(d as usize),
            })
            .collect()
    }

    /// Retained size of object `i`.
    pub fn retained(&self, i: usize) -> u64 {
        self.retained.get(i)
    }

    /// Immediate dominator of object `i` (`None` for objects held directly by the roots).
    pub fn idom(&self, i: usize) -> Option<usize> {
        self.idom
            .get(i)
            .copied()
            .filter(|&d| d != NONE)
            .map(|d| d as usize)
    }

    /// Retained size per name id of `h.names`: the size of the union of what the objects of
    /// that name retain (an object dominated by another of the same name is not counted
    /// twice).
    pub fn retained_by_name(&self, h: &Heap) -> Vec<u64> {
        let width = h.names.table().len();
        (0..h.index.len())
            .into_par_iter()
            .fold(
                || vec![0u64; width],
                |mut acc, i| {
                    let Some(id) = h.names.id(i) else {
                        return acc;
                    };
                    if self.retained(i) == 0 {
                        return acc;
                    }
                    // Counted unless a dominator has the same name.
                    let mut d = self.idom(i);
                    let mut steps = 0;
                    while let Some(x) = d {
                        if h.names.id(x) == Some(id) || steps > 100_000 {
                            return acc;
                        }
                        d = self.idom(x);
                        steps += 1;
                    }
                    if let Some(a) = acc.get_mut(id as usize) {
                        *a += self.retained(i);
                    }
                    acc
                },
            )
            .reduce(
                || vec![0u64; width],
                |mut a, b| {
                    for (x, y) in a.iter_mut().zip(b) {
                        *x += y;
                    }
                    a
                },
            )
    }

    /// The `n` objects with the largest retained sizes, largest first (ties: lower index
    /// first). One pass keeping the best `n` in a heap, not a list of every object.
    pub fn top(&self, n: usize) -> Vec<usize> {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        // Ordered by (retained, lower index): the heap's least is the first to give way.
        if n == 0 {
            return Vec::new();
        }
        let key = |i: usize| (self.retained.get(i), Reverse(i));
        let mut best: BinaryHeap<Reverse<(u64, Reverse<usize>)>> =
            BinaryHeap::with_capacity(n.min(1 << 16));
        for i in 0..self.retained.len() {
            if self.retained.get(i) == 0 {
                continue;
            }
            if best.len() < n {
                best.push(Reverse(key(i)));
            } else if best.peek().is_some_and(|Reverse(least)| key(i) > *least) {
                best.pop();
                best.push(Reverse(key(i)));
            }
        }
        // Sorted ascending by `Reverse(key)`: the largest key first.
        best.into_sorted_vec()
            .into_iter()
            .map(|Reverse((_, Reverse(i)))| i)
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn blocks_give_the_node_of_each_number_from_the_last_down() {
        // Numbers 1..=10 given to ten of twelve nodes in a scrambled order (two unreached),
        // asked from the last down in blocks of 3 (four blocks, the last one short).
        let dfnum = [7, NONE, 2, 10, 1, 9, 4, NONE, 3, 6, 5, 8];
        let mut b = Blocks::of_size(3);
        for w in (1..=10).rev() {
            let node = b.node(w, &dfnum) as usize;
            assert_eq!(dfnum[node], w as u32, "number {w}");
        }
    }

    #[test]
    fn top_is_the_largest_retained_first_ties_by_lower_index() {
        let retained: Vec<u64> = (0..500u64).map(|i| (i * 7919) % 97 * (i % 3)).collect();
        let mut packed = Sizes::zeros(retained.len(), 1 << 20);
        for (i, &r) in retained.iter().enumerate() {
            packed.add(i, r);
        }
        let d = Dominators {
            idom: vec![NONE; retained.len()],
            retained: packed,
            reached: 0,
        };
        let mut all: Vec<usize> = (0..retained.len()).filter(|&i| retained[i] > 0).collect();
        all.sort_by(|&a, &b| retained[b].cmp(&retained[a]).then(a.cmp(&b)));
        for n in [0, 1, 2, 10, 97, 333, all.len(), 10_000] {
            assert_eq!(d.top(n), all[..n.min(all.len())].to_vec(), "top {n}");
        }
    }

    #[test]
    fn sizes_add_up_across_32_bits_packed_or_wide() {
        for bound in [(1u64 << 40) - 1, 1 << 40] {
            let mut s = Sizes::zeros(3, bound);
            assert_eq!(matches!(s, Sizes::Packed { .. }), bound < 1 << 40);
            s.add(1, u32::MAX as u64);
            s.add(1, 2);
            s.add(2, (1 << 40) - 1);
            assert_eq!(
                (s.get(0), s.get(1), s.get(2), s.get(3)),
                (0, (1 << 32) + 1, (1 << 40) - 1, 0),
                "bound {bound}"
            );
            assert_eq!(s.len(), 3);
        }
    }

    #[test]
    fn parent_semi_gives_back_what_was_pushed_from_the_first_number_up() {
        // Numbers 1..=100 pushed from the last down with parents and semidominators of every
        // distance (including 0, large gaps and a semidominator above the parent, which a
        // consistent graph never gives but must not break the stream), read back in chunks
        // of several sizes (one number, a divisor of the count, neither, all at once).
        let last = 100u32;
        let entry = |w: u32| -> (u32, u32) {
            let parent = match w % 4 {
                0 => w - 1,
                1 => 0,
                2 => w / 2,
                _ => w.saturating_sub(90),
            };
            let semi = match w % 3 {
                0 => parent,
                1 => parent / 3,
                _ => (parent + 5).min(u32::MAX),
            };
            (parent, semi)
        };
        for chunk in [1, 3, 7, 10, 100, 1000] {
            let mut s = ParentSemi::of_chunk(chunk);
            for w in (1..=last).rev() {
                let (p, semi) = entry(w);
                s.push(w, p, semi);
            }
            let mut seen = Vec::new();
            s.for_each_ascending(|w, p, semi| seen.push((w, p, semi)));
            let want: Vec<(u32, u32, u32)> = (1..=last)
                .map(|w| {
                    let (p, semi) = entry(w);
                    (w, p, semi)
                })
                .collect();
            assert_eq!(seen, want, "chunks of {chunk}");
        }
    }

    /// A graph of adjacency lists for unit tests.
    /// A graph given as edge lists (for tests here and in `leaks`).
    pub(crate) struct Lists {
        succ: Vec<Vec<usize>>,
        pred: Vec<Vec<usize>>,
        roots: Vec<usize>,
        stale: Vec<usize>,
    }

    impl Lists {
        pub(crate) fn new(n: usize, edges: &[(usize, usize)], roots: &[usize]) -> Lists {
            let mut succ = vec![Vec::new(); n];
            let mut pred = vec![Vec::new(); n];
            for &(a, b) in edges {
                succ[a].push(b);
                pred[b].push(a);
            }
            Lists {
                succ,
                pred,
                roots: roots.to_vec(),
                stale: Vec::new(),
            }
        }
    }

    impl DomGraph for Lists {
        fn node_count(&self) -> usize {
            self.succ.len()
        }
        fn roots(&self) -> Vec<usize> {
            self.roots.clone()
        }
        fn next_successor(
            &self,
            v: usize,
            cursor: &mut u64,
            want: &dyn Fn(usize) -> bool,
        ) -> Option<usize> {
            loop {
                let t = *self.succ[v].get(*cursor as usize)?;
                *cursor += 1;
                if want(t) {
                    return Some(t);
                }
            }
        }
        fn for_each_predecessor(&self, v: usize, f: &mut dyn FnMut(usize)) {
            for &p in &self.pred[v] {
                f(p);
            }
        }
        fn size(&self, v: usize) -> u64 {
            v as u64 + 1
        }
        fn may_be_stale(&self, v: usize) -> bool {
            self.stale.contains(&v)
        }
    }

    #[test]
    fn a_stale_root_to_an_old_store_does_not_take_the_dominators() {
        // 0 (a live root) -> 1 (an array) -> 2 (its store) -> 3, 4 (listeners); 5 is the
        // array's old store, held only by a stale root, still pointing at 3.
        let edges = [(0, 1), (1, 2), (2, 3), (2, 4), (5, 3)];
        let mut g = Lists::new(6, &edges, &[0, 5]);
        let d = Dominators::compute(&g, 6, &|_, _, _| {});
        assert_eq!(
            d.idom(3),
            None,
            "taken as a root, 5 shares 3 with the live store"
        );
        g.stale = vec![5];
        let d = Dominators::compute(&g, 6, &|_, _, _| {});
        let idoms: Vec<_> = (0..6).map(|i| d.idom(i)).collect();
        assert_eq!(idoms, vec![None, Some(0), Some(1), Some(2), Some(2), None]);
        assert_eq!(d.retained(2), 3 + 4 + 5);
        assert_eq!(d.retained(5), 0, "left out: not reached");
        assert_eq!(d.reached, 5);
        // A stale-looking root that holds something nothing else does stays a root.
        let mut g = Lists::new(7, &[(0, 1), (5, 3), (5, 6)], &[0, 5]);
        g.stale = vec![5];
        let d = Dominators::compute(&g, 7, &|_, _, _| {});
        assert_eq!(d.idom(6), Some(5));
        assert_eq!(d.retained(5), 6 + 4 + 7);
    }

    #[test]
    fn a_diamond_and_a_cycle() {
        // 0 -> 1, 0 -> 2, 1 -> 3, 2 -> 3, 3 -> 4, 4 -> 3; 5 is a second root holding 4.
        let g = Lists::new(
            6,
            &[(0, 1), (0, 2), (1, 3), (2, 3), (3, 4), (4, 3), (5, 4)],
            &[0, 5],
        );
        let d = Dominators::compute(&g, 6, &|_, _, _| {});
        let idoms: Vec<_> = (0..6).map(|i| d.idom(i)).collect();
        assert_eq!(idoms, vec![None, Some(0), Some(0), None, None, None]);
        assert_eq!(idoms, Dominators::simple(&g));
        // 0 retains itself, 1 and 2 (3 and 4 are also held through root 5).
        assert_eq!(d.retained(0), 1 + 2 + 3);
        assert_eq!(d.retained(3), 4);
    }

    #[test]
    fn semi_nca_agrees_with_the_simple_algorithm_on_random_graphs() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut rnd = |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        for round in 0..200 {
            let n = 2 + rnd(60) as usize;
            let edges: Vec<(usize, usize)> = (0..rnd(4 * n as u64) + 1)
                .map(|_| (rnd(n as u64) as usize, rnd(n as u64) as usize))
                .collect();
            let roots: Vec<usize> = (0..1 + rnd(3)).map(|_| rnd(n as u64) as usize).collect();
            let g = Lists::new(n, &edges, &roots);
            let d = Dominators::compute(&g, n as u64, &|_, _, _| {});
            let fast: Vec<_> = (0..n).map(|i| d.idom(i)).collect();
            assert_eq!(
                fast,
                Dominators::simple(&g),
                "round {round}: {edges:?} roots {roots:?}"
            );
        }
    }
}
