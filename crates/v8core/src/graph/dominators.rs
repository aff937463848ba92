//! Dominator tree and retained sizes.
//!
//! An object's retained size is what the heap would lose if it went away: its own size plus
//! that of every object reachable only through it (the objects it dominates). Computed with
//! Lengauer and Tarjan's algorithm over the graph of [`crate::graph::reverse`] (strong references only;
//! map words and read-only objects are not edges), from a virtual root whose children are the
//! primary roots (registers, live stacks, the Isolate) and then those other conservative roots
//! (pointers from the C++ heap or the executable's data) that the primary ones do not reach.
//! Objects the search does not reach (held only by map words) are not counted.
//!
//! Memory: nine 4-byte arrays per object plus one 8-byte one; every loop is iterative, so deep
//! chains (linked lists) cannot overflow the stack.

use crate::graph::reverse::Graph;
use crate::heap::index::Progress;
use crate::heap::loaded::Heap;
use rayon::prelude::*;

const NONE: u32 = u32::MAX;

/// The dominator tree of the reachable heap.
pub struct Dominators {
    /// Immediate dominator of each object (object index), `NONE` for children of the virtual
    /// root and for objects not reached.
    idom: Vec<u32>,
    /// Retained size of each object (0 if not reached).
    retained: Vec<u64>,
    /// Objects reached from the roots.
    pub reached: u64,
}

impl Dominators {
    /// Compute the tree and the retained sizes.
    pub fn build(h: &Heap, g: &Graph, progress: Progress) -> Dominators {
        let n = h.index.len();
        // Numbering: DFS preorder from the virtual root (number 0).
        let mut dfnum = vec![NONE; n];
        let mut vertex: Vec<u32> = vec![NONE]; // vertex[0] = virtual root
        let mut parent: Vec<u32> = vec![0];
        let edge_target = Graph::edge_filter(&h.p, &h.index);
        // Primary roots first; a conservative root counts as a root only if the primary ones
        // do not reach it (a stale pointer in freed C++ memory must not make the virtual root
        // dominate what a live object holds).
        let mut roots: Vec<(bool, u32)> = h
            .marking
            .root_at
            .keys()
            .map(|&i| (!h.marking.is_primary_root(i as usize), i))
            .collect();
        roots.sort_unstable();
        let mut is_root = vec![false; n];
        // Iterative DFS: (object, byte offset of the next slot to look at).
        let mut stack: Vec<(u32, u32)> = Vec::new();
        let total = h.marking.reachable.max(1);
        for &(_, r) in &roots {
            if dfnum[r as usize] != NONE {
                continue;
            }
            is_root[r as usize] = true;
            dfnum[r as usize] = vertex.len() as u32;
            vertex.push(r);
            parent.push(0);
            stack.push((r, 0));
            while let Some(&mut (v, ref mut from)) = stack.last_mut() {
                let mut next = None;
                h.index
                    .for_each_slot_from(&h.p, v as usize, *from as u64, |off, w| {
                        if let Some(t) = edge_target(off, w) {
                            if dfnum[t] == NONE {
                                next = Some((t, off + 8));
                                return false;
                            }
                        }
                        true
                    });
                match next {
                    Some((t, resume)) => {
                        *from = resume as u32;
                        dfnum[t] = vertex.len() as u32;
                        let pv = dfnum[v as usize];
                        vertex.push(t as u32);
                        parent.push(pv);
                        stack.push((t as u32, 0));
                        if vertex.len().is_multiple_of(1 << 16) {
                            progress("dominators", vertex.len() as u64, 2 * total);
                        }
                        // The search reads object bodies all over the heap: let the core's
                        // pages go now and then, as marking does.
                        if vertex.len().is_multiple_of(1 << 22) {
                            h.p.dump().release_all();
                        }
                    }
                    None => {
                        stack.pop();
                    }
                }
            }
        }
        h.p.dump().release_all();
        let count = vertex.len();
        // Lengauer-Tarjan, in DFS-number space.
        let mut semi: Vec<u32> = (0..count as u32).collect();
        let mut idom = vec![0u32; count];
        let mut ancestor = vec![NONE; count];
        let mut label: Vec<u32> = (0..count as u32).collect();
        let mut bucket_head = vec![NONE; count];
        let mut bucket_next = vec![NONE; count];
        let mut path: Vec<u32> = Vec::new();
        // eval(v): the vertex of least semi on the path from v up to (not including) its
        // forest root, with iterative path compression.
        let eval = |v: u32,
                    ancestor: &mut Vec<u32>,
                    label: &mut Vec<u32>,
                    semi: &Vec<u32>,
                    path: &mut Vec<u32>|
         -> u32 {
            if ancestor[v as usize] == NONE {
                return v;
            }
            path.clear();
            let mut x = v;
            while ancestor[ancestor[x as usize] as usize] != NONE {
                path.push(x);
                x = ancestor[x as usize];
            }
            while let Some(y) = path.pop() {
                let a = ancestor[y as usize];
                if semi[label[a as usize] as usize] < semi[label[y as usize] as usize] {
                    label[y as usize] = label[a as usize];
                }
                ancestor[y as usize] = ancestor[a as usize];
            }
            label[v as usize]
        };
        for w in (1..count).rev() {
            let obj = vertex[w] as usize;
            let mut preds: Vec<u32> = g
                .strong_retainers(obj)
                .filter_map(|o| {
                    let d = dfnum[o];
                    (d != NONE).then_some(d)
                })
                .collect();
            if is_root[obj] {
                preds.push(0);
            }
            for v in preds {
                let u = eval(v, &mut ancestor, &mut label, &semi, &mut path);
                if semi[u as usize] < semi[w] {
                    semi[w] = semi[u as usize];
                }
            }
            let s = semi[w] as usize;
            bucket_next[w] = bucket_head[s];
            bucket_head[s] = w as u32;
            let p = parent[w];
            ancestor[w] = p;
            let mut b = bucket_head[p as usize];
            bucket_head[p as usize] = NONE;
            while b != NONE {
                let next = bucket_next[b as usize];
                let u = eval(b, &mut ancestor, &mut label, &semi, &mut path);
                idom[b as usize] = if semi[u as usize] < semi[b as usize] {
                    u
                } else {
                    p
                };
                b = next;
            }
            if w.is_multiple_of(1 << 16) {
                progress("dominators", (2 * count - w) as u64, 2 * total);
            }
        }
        for w in 1..count {
            if idom[w] != semi[w] {
                idom[w] = idom[idom[w] as usize];
            }
        }
        drop((
            semi,
            ancestor,
            label,
            bucket_head,
            bucket_next,
            parent,
            is_root,
        ));
        // Retained sizes: children before parents (a dominator has a smaller DFS number).
        let mut ret = vec![0u64; count];
        for w in (1..count).rev() {
            ret[w] += h.index.sizes[vertex[w] as usize] as u64;
            let d = idom[w] as usize;
            if d != 0 {
                ret[d] += ret[w];
            }
        }
        let mut retained = vec![0u64; n];
        let mut idom_obj = vec![NONE; n];
        for w in 1..count {
            let o = vertex[w] as usize;
            retained[o] = ret[w];
            let d = idom[w];
            idom_obj[o] = if d == 0 { NONE } else { vertex[d as usize] };
        }
        progress("dominators", 2 * total, 2 * total);
        Dominators {
            idom: idom_obj,
            retained,
            reached: (count - 1) as u64,
        }
    }

    /// Retained size of object `i`.
    pub fn retained(&self, i: usize) -> u64 {
        self.retained.get(i).copied().unwrap_or(0)
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

    /// The `n` objects with the largest retained sizes, largest first.
    pub fn top(&self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..self.retained.len())
            .filter(|&i| self.retained[i] > 0)
            .collect();
        let k = n.min(v.len());
        if k == 0 {
            return Vec::new();
        }
        v.select_nth_unstable_by(k - 1, |&a, &b| {
            self.retained[b].cmp(&self.retained[a]).then(a.cmp(&b))
        });
        v.truncate(k);
        v.sort_by(|&a, &b| self.retained[b].cmp(&self.retained[a]).then(a.cmp(&b)));
        v
    }
}
