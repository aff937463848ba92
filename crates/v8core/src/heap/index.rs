//! The object index: every object of the heap walk in one sorted table (parallel over pages),
//! with page-start bitmaps that turn a pointer into an object index in constant time.
//! Liveness is in [`crate::heap::marking`].

use crate::heap::pages::Page;
use crate::heap::walk::{Gap, GapKind, HeapObject, WalkTotals, Walker};
use crate::meta::kinds::{Body, Kind};
use crate::process::Process;
use elfcore::Address;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Progress of a long step: `(what, done, total)`.
pub type Progress<'a> = &'a (dyn Fn(&str, u64, u64) + Sync);

/// A progress callback that says nothing.
pub fn no_progress(_: &str, _: u64, _: u64) {}

/// A value for every indexed object, made by the walk while it has the object at hand: its
/// page is then in the cache, where a later pass would read the whole core again
/// ([`HeapIndex::build_with`]).
pub trait PerObject: Sync {
    /// Each walking thread's own state (caches).
    type State: Send;
    /// A new thread's state.
    fn state(&self) -> Self::State;
    /// The value for the object `o`, just walked.
    fn visit(&self, state: &mut Self::State, o: &HeapObject) -> u32;
}

/// One [`PerObject`] value per object, 2 bytes each while every value is below `u16::MAX`
/// or is `u32::MAX` (kept as `u16::MAX`), 4 bytes each from the first value that is not.
pub enum Values {
    /// 2 bytes a value.
    Narrow(Vec<u16>),
    /// 4 bytes a value.
    Wide(Vec<u32>),
}

impl Default for Values {
    fn default() -> Values {
        Values::Narrow(Vec::new())
    }
}

impl Values {
    /// Appends `v`, widening every value kept so far if one of `v` does not fit 2 bytes.
    pub fn extend_from_slice(&mut self, v: &[u32]) {
        let fits = |x: u32| x < u16::MAX as u32 || x == u32::MAX;
        if let Values::Narrow(n) = self {
            if v.iter().all(|&x| fits(x)) {
                n.extend(v.iter().map(|&x| x as u16));
                return;
            }
            let wide: Vec<u32> = n
                .iter()
                .map(|&x| if x == u16::MAX { u32::MAX } else { x as u32 })
                .collect();
            *self = Values::Wide(wide);
        }
        if let Values::Wide(w) = self {
            w.extend_from_slice(v);
        }
    }

    /// Value `i`, `None` past the end.
    #[inline]
    pub fn get(&self, i: usize) -> Option<u32> {
        match self {
            Values::Narrow(n) => n
                .get(i)
                .map(|&x| if x == u16::MAX { u32::MAX } else { x as u32 }),
            Values::Wide(w) => w.get(i).copied(),
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Values::Narrow(n) => n.len(),
            Values::Wide(w) => w.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shrink_to_fit(&mut self) {
        match self {
            Values::Narrow(n) => n.shrink_to_fit(),
            Values::Wide(w) => w.shrink_to_fit(),
        }
    }
}

/// Object sizes in 8-byte words, 2 bytes an object (every size is a multiple of 8); an object
/// of `u16::MAX` words (512 KiB) or more, a rare large object, keeps its size in `large`.
#[derive(Default)]
struct ObjectSizes {
    words: Vec<u16>,
    large: FxHashMap<u32, u32>,
}

impl ObjectSizes {
    fn extend(&mut self, sizes: &[u32]) {
        for &b in sizes {
            let w = b / 8;
            if w < u16::MAX as u32 && b % 8 == 0 {
                self.words.push(w as u16);
            } else {
                self.large.insert(self.words.len() as u32, b);
                self.words.push(u16::MAX);
            }
        }
    }

    #[inline]
    fn get(&self, i: usize) -> u32 {
        match self.words[i] {
            u16::MAX => self.large.get(&(i as u32)).copied().unwrap_or(0),
            w => (w as u32) << 3,
        }
    }

    fn shrink_to_fit(&mut self) {
        self.words.shrink_to_fit();
        self.large.shrink_to_fit();
    }
}

/// No value per object: [`HeapIndex::build`].
struct NoValues;

impl PerObject for NoValues {
    type State = ();
    fn state(&self) {}
    fn visit(&self, _: &mut (), _: &HeapObject) -> u32 {
        0
    }
}

/// Where a stray reference points ([`HeapIndex::stray`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stray {
    /// Into the gap with this index in [`HeapIndex::gaps`].
    Unparsed(usize),
    /// Into a walked page, but not at an object start nor into an unparsed stretch.
    Elsewhere,
}

/// One page's share of the index.
#[derive(Debug, Clone)]
pub struct PageRange {
    /// Index into `Process::pages.pages`.
    pub page: usize,
    /// The page's start: its objects' addresses are kept as offsets from it.
    pub base: u64,
    /// First object index.
    pub lo: usize,
    /// One past the last object index.
    pub hi: usize,
}

/// Bits of the object-start bitmap per page: one per word of the first `page_size` bytes.
const fn start_words(page_size_log2: u32) -> usize {
    (1usize << page_size_log2) / 8 / 64
}

/// Every object of the heap (free space and fillers excluded), sorted by address.
///
/// Per object it keeps 10 bytes (offset in its page, size, instance type); the map is the
/// object's first word and is read from memory when needed. Each walked page also has a bitmap
/// of its object starts with running counts, so that turning a pointer into an object index
/// (what marking and every graph question do for each word they look at) is a hash lookup and
/// a popcount; a table of the range every 256th object is in turns an index into its page.
pub struct HeapIndex {
    /// Each object's start as an offset from its page range's `base`, ascending per range.
    offs: Vec<u32>,
    /// Size of each object ([`HeapIndex::size`]).
    sizes: ObjectSizes,
    /// Instance type of each object.
    pub types: Vec<u16>,
    /// Object ranges per walked page, by address.
    pub ranges: Vec<PageRange>,
    /// Walk totals per space.
    pub per_space: BTreeMap<String, WalkTotals>,
    /// Stretches the walk could not parse.
    pub gaps: Vec<Gap>,
    by_base: FxHashMap<u64, u32>,
    /// Per block of `1 << BLOCK_LOG2` objects: the range its first object is in.
    block_range: Vec<u32>,
    /// `start_words` words per range: bit k set if an object starts at `base + 8k`.
    starts: Vec<u64>,
    /// Per word of `starts`: objects starting before it within its page.
    ranks: Vec<u32>,
    page_log2: u32,
}

/// Objects per entry of [`HeapIndex::block_range`].
const BLOCK_LOG2: u32 = 8;

/// One walked page: its objects as the index stores them.
#[derive(Default)]
struct PageObjects {
    offs: Vec<u32>,
    sizes: Vec<u32>,
    types: Vec<u16>,
    values: Vec<u32>,
    totals: WalkTotals,
    gaps: Vec<Gap>,
    from_space: bool,
}

/// Pages are walked in batches of this many: the batch's objects are then appended to the
/// index, so the walk never holds more than one batch twice.
const BATCH_PAGES: usize = 64;

/// The walk asks whether to let the core's pages go once every this many pages.
const RELEASE_EVERY: u64 = 16;

/// Bytes of the core the walk may keep resident: it reads each page once, in address order,
/// so it needs far less than a pass that jumps about ([`crate::heap::RESIDENT_CORE_BYTES`]);
/// its index is the rest of its peak.
const WALK_RESIDENT_BYTES: u64 = 16 << 20;

impl HeapIndex {
    /// Walk every page (in parallel) and index the objects.
    pub fn build(p: &Process, progress: Progress) -> HeapIndex {
        Self::build_with(p, progress, &NoValues, false).0
    }

    /// [`HeapIndex::build`], and `values`' value for every indexed object (in index order;
    /// empty unless `keep`).
    pub fn build_with<V: PerObject>(
        p: &Process,
        progress: Progress,
        values: &V,
        keep: bool,
    ) -> (HeapIndex, Values) {
        let pages = &p.pages.pages;
        let from_flag = p.table.page.from_page_flag;
        let free = [
            p.types.value("FREE_SPACE_TYPE").unwrap_or(u16::MAX),
            p.types.value("FILLER_TYPE").unwrap_or(u16::MAX),
        ];
        let mut order: Vec<usize> = (0..pages.len()).collect();
        order.sort_by_key(|&i| pages[i].area_start);
        let done = AtomicU64::new(0);
        let total = pages.len() as u64;
        let page_log2 = p.table.page.page_size_log2;
        let mut idx = HeapIndex {
            offs: Vec::new(),
            sizes: ObjectSizes::default(),
            types: Vec::new(),
            ranges: Vec::with_capacity(pages.len()),
            per_space: BTreeMap::new(),
            gaps: Vec::new(),
            by_base: FxHashMap::default(),
            block_range: Vec::new(),
            starts: Vec::new(),
            ranks: Vec::new(),
            page_log2,
        };
        let mut all_values = Values::default();
        // Walkers keep their map caches from batch to batch, and so do the values' states.
        let walkers: Mutex<Vec<Walker>> = Mutex::new(Vec::new());
        let states: Mutex<Vec<V::State>> = Mutex::new(Vec::new());
        let walk_one = |i: usize| -> PageObjects {
            let page = &pages[i];
            let mut r = PageObjects::default();
            if page.flags & from_flag != 0 {
                r.totals.from_space_bytes = page.area_end.0 - page.area_start.0;
                r.from_space = true;
            } else {
                let mut w = walkers
                    .lock()
                    .ok()
                    .and_then(|mut v| v.pop())
                    .unwrap_or_else(|| Walker::new(p));
                let mut st = states
                    .lock()
                    .ok()
                    .and_then(|mut v| v.pop())
                    .unwrap_or_else(|| values.state());
                let (totals, gaps) = w.walk_page(page, |o| {
                    // An offset of 4 GiB or more is no V8 page's (the largest object is
                    // below 1 GiB): the walk went astray in damaged memory.
                    let off = u32::try_from(o.addr.0.wrapping_sub(page.base.0));
                    if let (false, Ok(off)) = (free.contains(&o.instance_type), off) {
                        r.offs.push(off);
                        r.sizes.push(o.size.min(u32::MAX as u64) as u32);
                        r.types.push(o.instance_type);
                        if keep {
                            r.values.push(values.visit(&mut st, o));
                        }
                    }
                });
                r.totals = totals;
                r.gaps = gaps;
                if let Ok(mut v) = walkers.lock() {
                    v.push(w);
                }
                if let Ok(mut v) = states.lock() {
                    v.push(st);
                }
            }
            let d = done.fetch_add(1, Ordering::Relaxed) + 1;
            // Walked pages need not stay resident: every so often let the core's pages go,
            // all at once (one call a page cost each a flush of every core's TLB).
            if d % RELEASE_EVERY == 0 {
                p.dump().release_over(WALK_RESIDENT_BYTES);
            }
            progress("walking heap pages", d, total);
            r
        };
        for batch in order.chunks(BATCH_PAGES) {
            let walked: Vec<PageObjects> = batch.par_iter().map(|&i| walk_one(i)).collect();
            for (k, w) in walked.into_iter().enumerate() {
                let i = batch[k];
                let page = &pages[i];
                idx.per_space
                    .entry(page.space.clone())
                    .or_default()
                    .add(&w.totals);
                idx.gaps.extend(w.gaps);
                let lo = idx.offs.len();
                idx.offs.extend_from_slice(&w.offs);
                idx.sizes.extend(&w.sizes);
                idx.types.extend_from_slice(&w.types);
                all_values.extend_from_slice(&w.values);
                if !w.from_space {
                    idx.by_base.insert(page.base.0, idx.ranges.len() as u32);
                    idx.ranges.push(PageRange {
                        page: i,
                        base: page.base.0,
                        lo,
                        hi: idx.offs.len(),
                    });
                }
            }
        }
        idx.gaps.sort_by_key(|g| g.start);
        idx.offs.shrink_to_fit();
        idx.sizes.shrink_to_fit();
        idx.types.shrink_to_fit();
        all_values.shrink_to_fit();
        idx.build_blocks();
        idx.build_starts(p);
        (idx, all_values)
    }

    /// [`HeapIndex::block_range`]: every object is in exactly one range (from-space pages,
    /// which have no range, hold no indexed objects), and the ranges follow object order.
    fn build_blocks(&mut self) {
        let blocks = self.offs.len().div_ceil(1 << BLOCK_LOG2);
        let mut out = Vec::with_capacity(blocks);
        let mut r = 0usize;
        for b in 0..blocks {
            let i = b << BLOCK_LOG2;
            while r + 1 < self.ranges.len() && self.ranges[r].hi <= i {
                r += 1;
            }
            out.push(r as u32);
        }
        self.block_range = out;
    }

    /// The page range object `i` is in.
    #[inline]
    pub fn range_of(&self, i: usize) -> usize {
        let mut r = self.block_range.get(i >> BLOCK_LOG2).copied().unwrap_or(0) as usize;
        while r + 1 < self.ranges.len() && self.ranges[r].hi <= i {
            r += 1;
        }
        r
    }

    /// Untagged start address of object `i`.
    #[inline]
    pub fn addr(&self, i: usize) -> u64 {
        self.addr_in(self.range_of(i), i)
    }

    /// [`HeapIndex::addr`] of object `i`, known to be in page range `ri`.
    #[inline]
    pub(crate) fn addr_in(&self, ri: usize, i: usize) -> u64 {
        self.ranges[ri].base + self.offs[i] as u64
    }

    /// The first object starting at or after `addr`.
    pub fn first_from(&self, addr: u64) -> usize {
        let r = self.ranges.partition_point(|r| r.base <= addr);
        let Some(rg) = r.checked_sub(1).map(|r| &self.ranges[r]) else {
            return 0;
        };
        let off = addr - rg.base;
        rg.lo + self.offs[rg.lo..rg.hi].partition_point(|&o| (o as u64) < off)
    }

    /// Bytes from the start of object `lo` to the end of object `hi - 1` (the span a pass over
    /// them has read), as (start, length); `None` for an empty span.
    pub(crate) fn span(&self, lo: usize, hi: usize) -> Option<(u64, u64)> {
        let last = hi.checked_sub(1).filter(|&l| l >= lo && l < self.len())?;
        let (a, z) = (self.addr(lo), self.addr(last));
        Some((a, (z + self.size(last) as u64).saturating_sub(a)))
    }

    /// The object-start bitmaps and their running counts, one block per range.
    fn build_starts(&mut self, p: &Process) {
        let words = start_words(self.page_log2);
        let mut starts = vec![0u64; words * self.ranges.len()];
        let mut ranks = vec![0u32; words * self.ranges.len()];
        let pages = &p.pages.pages;
        let (offs, ranges) = (&self.offs, &self.ranges);
        starts
            .par_chunks_mut(words)
            .zip(ranks.par_chunks_mut(words))
            .zip(ranges.par_iter())
            .for_each(|((bits, rank), r)| {
                if pages.get(r.page).is_none() {
                    return;
                }
                for &o in &offs[r.lo..r.hi] {
                    let k = (o / 8) as usize;
                    if k < words * 64 {
                        bits[k / 64] |= 1 << (k % 64);
                    }
                }
                let mut n = 0u32;
                for (b, c) in bits.iter().zip(rank.iter_mut()) {
                    *c = n;
                    n += b.count_ones();
                }
            });
        self.starts = starts;
        self.ranks = ranks;
    }

    /// The `len` bytes at `addr` of range `ri`'s page, borrowed from the dump when it holds
    /// them in one piece.
    #[inline]
    fn page_bytes<'p>(&self, p: &'p Process, _ri: usize, addr: u64, len: u64) -> Option<&'p [u8]> {
        p.memory().slice(Address(addr), len as usize)
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.offs.len()
    }

    /// Size in bytes of object `i` (panics past the end, as a slice index does).
    #[inline]
    pub fn size(&self, i: usize) -> u32 {
        self.sizes.get(i)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.offs.is_empty()
    }

    /// The index of the object starting at `addr` (untagged).
    #[inline]
    pub fn find(&self, addr: u64) -> Option<usize> {
        self.find_in(addr).map(|(i, _)| i)
    }

    /// The index of the object starting at `addr` and the index of its page range.
    #[inline]
    fn find_in(&self, addr: u64) -> Option<(usize, usize)> {
        let base = addr >> self.page_log2 << self.page_log2;
        let ri = *self.by_base.get(&base)? as usize;
        let r = &self.ranges[ri];
        let words = start_words(self.page_log2);
        let k = ((addr - base) / 8) as usize;
        if !addr.is_multiple_of(8) {
            return None;
        }
        if k >= words * 64 {
            // Beyond the bitmap (large-object pages larger than a page size): search.
            let off = u32::try_from(addr - base).ok()?;
            let s = &self.offs[r.lo..r.hi];
            return s.binary_search(&off).ok().map(|i| (r.lo + i, ri));
        }
        let w = self.starts[ri * words + k / 64];
        let bit = 1u64 << (k % 64);
        if w & bit == 0 {
            return None;
        }
        let rank = self.ranks[ri * words + k / 64] + (w & (bit - 1)).count_ones();
        Some((r.lo + rank as usize, ri))
    }

    /// [`HeapIndex::target`] with the object's page range.
    #[inline]
    pub(crate) fn target_in(&self, w: u64) -> Option<(usize, usize)> {
        if w & 1 == 0 {
            return None;
        }
        self.find_in(w & !3)
    }

    /// Where a tagged word that is not an object start points, when it points into a walked
    /// page: into a stretch the walk could not parse, or elsewhere (inside an object, into
    /// free space). A consistent heap has neither in its live objects' slots.
    pub(crate) fn stray(&self, p: &Process, w: u64) -> Option<Stray> {
        if w & 1 == 0 {
            return None;
        }
        let a = w & !3;
        let base = a >> self.page_log2 << self.page_log2;
        let ri = *self.by_base.get(&base)? as usize;
        let page = p.pages.pages.get(self.ranges.get(ri)?.page)?;
        // The page header holds no objects: a word pointing there is a raw value that looks
        // tagged (seen in trusted-space objects on Node 24), not a reference.
        if a < page.area_start.0 || a >= page.area_end.0 || self.find_in(a).is_some() {
            return None;
        }
        let gi = self.gaps.partition_point(|g| g.start.0 <= a).checked_sub(1);
        if let Some(gi) = gi {
            let g = &self.gaps[gi];
            if a < g.start.0 + g.len && matches!(g.why, GapKind::NotAnObject { .. }) {
                return Some(Stray::Unparsed(gi));
            }
        }
        Some(Stray::Elsewhere)
    }

    /// The index of the object containing `addr`.
    pub fn containing(&self, addr: u64) -> Option<usize> {
        let i = self.first_from(addr.checked_add(1)?).checked_sub(1)?;
        let start = self.addr(i);
        (start <= addr && addr < start + self.size(i) as u64).then_some(i)
    }

    /// The index of the object a tagged word points at (strong or weak), if it is an object start.
    pub fn target(&self, w: u64) -> Option<usize> {
        if w & 1 == 0 {
            return None;
        }
        self.find(w & !3)
    }

    /// The object an address given by a person names: one starting there (tagged or not), or,
    /// failing that, the one containing it.
    pub fn locate(&self, a: u64) -> Option<usize> {
        self.find(a & !1)
            .or_else(|| self.target(a))
            .or_else(|| self.containing(a & !1))
    }

    /// An address given by a person as a value to read: an untagged object start is tagged;
    /// anything else (a tagged pointer, a Smi) is taken as written.
    pub fn as_value(&self, a: u64) -> u64 {
        if a & 1 == 0 && self.find(a).is_some() {
            a | 1
        } else {
            a
        }
    }

    /// Tagged pointer of object `i`.
    pub fn tagged(&self, i: usize) -> u64 {
        self.addr(i) + 1
    }

    /// Whether page range `ri` is a read-only space page (immortal objects: undefined, null,
    /// the empty arrays, maps of the roots).
    pub(crate) fn range_is_read_only(&self, p: &Process, ri: usize) -> bool {
        self.ranges
            .get(ri)
            .and_then(|r| p.pages.pages.get(r.page))
            .is_some_and(|pg| pg.space == "read_only_space")
    }

    /// The page of object `i`.
    pub fn page_of<'a>(&self, p: &'a Process, i: usize) -> Option<&'a Page> {
        let r = self.ranges.get(self.range_of(i))?;
        (r.lo <= i && i < r.hi).then(|| p.pages.pages.get(r.page))?
    }

    /// The map (tagged) of object `i`, read from memory.
    pub fn map(&self, p: &Process, i: usize) -> u64 {
        p.memory().read_u64(Address(self.addr(i))).unwrap_or(0)
    }

    /// Calls `f(word_address, word)` for every word of the body of object `i` that may hold a
    /// pointer.
    pub fn for_each_slot(&self, p: &Process, i: usize, f: impl FnMut(u64, u64)) {
        self.for_each_slot_in(p, self.range_of(i), i, f);
    }

    /// Calls `f(byte_offset, word)` for the pointer-holding words of object `i` from byte
    /// offset `from` on, until `f` returns false.
    pub fn for_each_slot_from(
        &self,
        p: &Process,
        i: usize,
        from: u64,
        mut f: impl FnMut(u64, u64) -> bool,
    ) {
        let ri = self.range_of(i);
        let start = self.addr_in(ri, i);
        let end = self.body_end(p, i);
        if from >= end {
            return;
        }
        let bytes = self
            .page_bytes(p, ri, start + from, end - from)
            .or_else(|| {
                p.memory()
                    .slice(Address(start + from), (end - from) as usize)
            });
        if let Some(bytes) = bytes {
            for (k, c) in bytes.chunks_exact(8).enumerate() {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                if !f(from + 8 * k as u64, u64::from_le_bytes(b)) {
                    return;
                }
            }
        } else {
            let mem = p.memory();
            let mut off = from;
            while off < end {
                if let Ok(w) = mem.read_u64(Address(start + off)) {
                    if !f(off, w) {
                        return;
                    }
                }
                off += 8;
            }
        }
    }

    /// [`HeapIndex::for_each_slot`] for object `i` of page range `ri`. Returns the number of
    /// words of the body that could not be read (a large object cut by a truncated core).
    #[inline]
    pub(crate) fn for_each_slot_in(
        &self,
        p: &Process,
        ri: usize,
        i: usize,
        f: impl FnMut(u64, u64),
    ) -> u64 {
        self.for_each_slot_between(p, ri, i, 0, self.body_end(p, i), f)
    }

    /// Bytes from the start of object `i` to the end of its tagged slots (its map word
    /// included).
    #[inline]
    pub(crate) fn body_end(&self, p: &Process, i: usize) -> u64 {
        let size = self.size(i) as u64;
        match p.kinds.body(self.types[i]) {
            Body::Tagged => size,
            Body::Header(h) => h.min(size),
        }
    }

    /// [`HeapIndex::for_each_slot_in`] for the slots `from..to` bytes from the object's start
    /// (8-aligned, `to` at most [`HeapIndex::body_end`]): a pass can visit a large array a
    /// stretch at a time.
    #[inline]
    pub(crate) fn for_each_slot_between(
        &self,
        p: &Process,
        ri: usize,
        i: usize,
        from: u64,
        to: u64,
        mut f: impl FnMut(u64, u64),
    ) -> u64 {
        let start = self.addr_in(ri, i) + from;
        let len = to.saturating_sub(from);
        // The map word is a pointer too (maps are objects of the heap).
        if let Some(bytes) = self.page_bytes(p, ri, start, len) {
            for (k, c) in bytes.chunks_exact(8).enumerate() {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                f(start + 8 * k as u64, u64::from_le_bytes(b));
            }
            0
        } else {
            let mem = p.memory();
            let (mut a, mut unread) = (start, 0);
            while a < start + len {
                match mem.read_u64(Address(a)) {
                    Ok(w) => f(a, w),
                    Err(_) => unread += 1,
                }
                a += 8;
            }
            unread
        }
    }

    /// Kind of object `i`.
    pub fn kind(&self, p: &Process, i: usize) -> Kind {
        p.kinds.kind(self.types[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_sizes_keep_words_and_large_objects_by_index() {
        let mut s = ObjectSizes::default();
        let big = (u16::MAX as u32) * 8;
        s.extend(&[8, 16, big - 8, big, 40 << 20]);
        s.extend(&[24, u32::MAX - 7]);
        let got: Vec<u32> = (0..7).map(|i| s.get(i)).collect();
        assert_eq!(got, [8, 16, big - 8, big, 40 << 20, 24, u32::MAX - 7]);
        assert_eq!(s.large.len(), 3, "only the objects of 512 KiB or more");
    }

    #[test]
    fn values_stay_narrow_until_one_does_not_fit_then_keep_every_value() {
        let mut v = Values::default();
        v.extend_from_slice(&[0, 7, u32::MAX, u16::MAX as u32 - 1]);
        assert!(matches!(v, Values::Narrow(_)));
        v.extend_from_slice(&[3, u16::MAX as u32, 70_000]);
        assert!(matches!(v, Values::Wide(_)));
        v.extend_from_slice(&[u32::MAX, 1]);
        let all: Vec<Option<u32>> = (0..10).map(|i| v.get(i)).collect();
        let want = [
            0,
            7,
            u32::MAX,
            u16::MAX as u32 - 1,
            3,
            u16::MAX as u32,
            70_000,
            u32::MAX,
            1,
        ];
        assert_eq!(all[..9], want.map(Some));
        assert_eq!(all[9], None);
        assert_eq!(v.len(), 9);
    }
}
