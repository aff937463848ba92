//! The object graph: who references whom.
//!
//! Built once per run from the index: for every reachable object, the objects that point at it
//! (its retainers), as a compressed reverse adjacency list (4 bytes per reference plus 4 per
//! object, `Offsets`). References held in weak slots (weakly tagged words, ephemeron tables,
//! WeakRef and WeakCell targets) are kept with a flag: they show in `findrefs` and never
//! retain.
//!
//! Two kinds of reference are left out, as they retain nothing an analysis can act on and
//! would swamp the index: the map word of every object, and references to read-only space
//! (undefined, null, true, false, the empty arrays: immortal).
//!
//! Edges are stored unnamed; [`crate::graph::edges`] names them when they are shown.

use crate::heap::index::{HeapIndex, Progress};
use crate::heap::marking::Marking;
use crate::process::Process;
use rayon::prelude::*;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Flag bit of a weak reference in [`Graph::retainers`].
const WEAK: u32 = 1 << 31;

/// Where each object's share of an adjacency array starts: a 64-bit base every
/// [`Offsets::BLOCK`] objects and a 32-bit offset from it for each (4 bytes an object, where
/// plain 64-bit offsets take 8); plain 64-bit offsets in the unlikely case that the objects of
/// one block hold 2^32 references or more.
pub(crate) enum Offsets {
    Packed { base: Vec<u64>, rel: Vec<u32> },
    Wide(Vec<u64>),
}

impl Offsets {
    const BLOCK: usize = 1024;

    /// From each object's count (`counts.len() + 1` offsets: the last is the total).
    fn from_counts(counts: &[AtomicU32]) -> Offsets {
        let count = |c: &AtomicU32| c.load(Ordering::Relaxed) as u64;
        let (mut base, mut rel) = (Vec::new(), Vec::with_capacity(counts.len() + 1));
        let mut sum = 0u64;
        for (k, c) in counts.iter().map(count).chain([0]).enumerate() {
            if k.is_multiple_of(Self::BLOCK) {
                base.push(sum);
            }
            let Ok(r) = u32::try_from(sum - base[base.len() - 1]) else {
                // One block holds too many: 64-bit offsets throughout.
                drop(rel);
                let mut wide = Vec::with_capacity(counts.len() + 1);
                let mut sum = 0u64;
                for c in counts.iter().map(count).chain([0]) {
                    wide.push(sum);
                    sum += c;
                }
                return Offsets::Wide(wide);
            };
            rel.push(r);
            sum += c;
        }
        Offsets::Packed { base, rel }
    }

    /// Start of object `i`'s share (`i` at most the object count).
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<u64> {
        match self {
            Offsets::Packed { base, rel } => {
                let r = *rel.get(i)?;
                Some(base[i / Self::BLOCK] + r as u64)
            }
            Offsets::Wide(w) => w.get(i).copied(),
        }
    }

    /// `get(i)..get(i + 1)`, empty when `i` is out of range.
    #[inline]
    pub(crate) fn range(&self, i: usize) -> std::ops::Range<usize> {
        match (self.get(i), self.get(i + 1)) {
            (Some(lo), Some(hi)) if lo <= hi => lo as usize..hi as usize,
            _ => 0..0,
        }
    }
}

/// Reverse adjacency of the reachable heap.
pub struct Graph {
    /// `offsets.range(i)` is object `i`'s share of `retainers`.
    offsets: Offsets,
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
            if let Some((a, len)) = idx.span(lo, hi) {
                p.dump().release(elfcore::Address(a), len);
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
                let start = idx.addr(i);
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
        let offsets = Offsets::from_counts(&counts);
        let sum = offsets.get(n).unwrap_or(0);
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
                let start = idx.addr(i);
                let t_i = idx.types[i];
                idx.for_each_slot(p, i, |a, w| {
                    if let Some(t) = edge_target(a - start, w) {
                        let k = counts[t].fetch_add(1, Ordering::Relaxed) as usize;
                        let share = offsets.range(t);
                        let at = share.start + k;
                        if at < share.end {
                            let is_weak = weak.is_weak(t_i, a - start, w);
                            let v = i as u32 | if is_weak { WEAK } else { 0 };
                            slots[at].store(v, Ordering::Relaxed);
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
        let mut v: Vec<(usize, bool)> = self.retainers[self.offsets.range(i)]
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
        self.retainers[self.offsets.range(i)]
            .iter()
            .filter(|&&r| r & WEAK == 0)
            .map(|&r| r as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(v: &[u32]) -> Vec<AtomicU32> {
        v.iter().map(|&c| AtomicU32::new(c)).collect()
    }

    #[test]
    fn offsets_are_the_running_sums_of_the_counts() {
        let c: Vec<u32> = (0..5000u32).map(|i| i % 7).collect();
        let o = Offsets::from_counts(&counts(&c));
        assert!(matches!(o, Offsets::Packed { .. }));
        let mut sum = 0u64;
        for (i, &k) in c.iter().enumerate() {
            assert_eq!(o.get(i), Some(sum));
            assert_eq!(o.range(i), sum as usize..(sum + k as u64) as usize);
            sum += k as u64;
        }
        assert_eq!(o.get(c.len()), Some(sum));
        assert_eq!(o.get(c.len() + 1), None);
        assert_eq!(o.range(c.len()), 0..0);
        assert_eq!(o.range(usize::MAX - 1), 0..0);
    }

    #[test]
    fn a_block_of_more_than_four_billion_references_gets_wide_offsets() {
        // 1024 objects of 2^23 references each: 2^33 in the first block.
        let c = vec![1u32 << 23; 1500];
        let o = Offsets::from_counts(&counts(&c));
        assert!(matches!(o, Offsets::Wide(_)));
        assert_eq!(o.get(1200), Some(1200u64 << 23));
        assert_eq!(o.get(1500), Some(1500u64 << 23));
    }
}
