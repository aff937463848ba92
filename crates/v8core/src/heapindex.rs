//! The object index: every object of the heap walk in one sorted table (parallel over pages),
//! and liveness by marking from a conservative root set.
//!
//! Roots are every word of writable, dumped memory outside the V8 heap (thread stacks, the C++
//! heap, the executable's data, which holds the isolate and its roots table, handle scopes and
//! persistent handles), and every thread's registers, that points at the start of an indexed
//! object. Marking follows every
//! tagged word of every reached object's body, except bodies that hold raw data (characters,
//! doubles, bytecode, machine code). This needs no per-version knowledge of handle blocks and
//! matches V8's own snapshot on the fixture cores (see `tests/census.rs`).

use crate::heap::{Gap, HeapObject, WalkTotals, Walker};
use crate::kinds::{Body, Kind};
use crate::pages::Page;
use crate::process::Process;
use elfcore::{Address, Memory};
use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap};

/// Progress of a long step: `(what, done, total)`.
pub type Progress<'a> = &'a (dyn Fn(&str, u64, u64) + Sync);

/// A progress callback that says nothing.
pub fn no_progress(_: &str, _: u64, _: u64) {}

/// One page's share of the index.
#[derive(Debug, Clone)]
pub struct PageRange {
    /// Index into `Process::pages.pages`.
    pub page: usize,
    /// First object index.
    pub lo: usize,
    /// One past the last object index.
    pub hi: usize,
}

/// Every object of the heap (free space and fillers excluded), sorted by address.
pub struct HeapIndex {
    /// Untagged start addresses, ascending.
    pub addrs: Vec<u64>,
    /// Tagged map of each object.
    pub maps: Vec<u64>,
    /// Size in bytes of each object.
    pub sizes: Vec<u32>,
    /// Instance type of each object.
    pub types: Vec<u16>,
    /// Object ranges per walked page, by address.
    pub ranges: Vec<PageRange>,
    /// Walk totals per space.
    pub per_space: BTreeMap<String, WalkTotals>,
    /// Stretches the walk could not parse.
    pub gaps: Vec<Gap>,
    by_base: HashMap<u64, usize>,
    page_mask: u64,
}

/// Liveness of every indexed object.
pub struct Marking {
    /// One bit per object index.
    bits: Vec<u64>,
    /// Objects pointed at from outside the heap.
    pub roots: u64,
    /// Reachable objects.
    pub reachable: u64,
    /// Words of non-heap memory scanned for roots.
    pub root_words: u64,
}

impl Marking {
    /// Whether object `i` is reachable.
    pub fn is_marked(&self, i: usize) -> bool {
        self.bits[i / 64] >> (i % 64) & 1 != 0
    }
    fn set(&mut self, i: usize) -> bool {
        let (w, b) = (i / 64, 1u64 << (i % 64));
        let was = self.bits[w] & b != 0;
        self.bits[w] |= b;
        !was
    }
}

struct PageObjects {
    objects: Vec<HeapObject>,
    totals: WalkTotals,
    gaps: Vec<Gap>,
    from_space: bool,
}

impl HeapIndex {
    /// Walk every page (in parallel) and index the objects.
    pub fn build(p: &Process, progress: Progress) -> HeapIndex {
        let pages = &p.pages.pages;
        let from_flag = p.table.page.from_page_flag;
        let free = [
            p.types.value("FREE_SPACE_TYPE").unwrap_or(u16::MAX),
            p.types.value("FILLER_TYPE").unwrap_or(u16::MAX),
        ];
        let mut order: Vec<usize> = (0..pages.len()).collect();
        order.sort_by_key(|&i| pages[i].area_start);
        let done = std::sync::atomic::AtomicU64::new(0);
        let total = pages.len() as u64;
        let walked: Vec<PageObjects> = order
            .par_iter()
            .map_init(
                || Walker::new(p),
                |w, &i| {
                    let page = &pages[i];
                    let r = if page.flags & from_flag != 0 {
                        PageObjects {
                            objects: Vec::new(),
                            totals: WalkTotals {
                                from_space_bytes: page.area_end.0 - page.area_start.0,
                                ..Default::default()
                            },
                            gaps: Vec::new(),
                            from_space: true,
                        }
                    } else {
                        let mut objects = Vec::new();
                        let (totals, gaps) = w.walk_page(page, |o| {
                            if !free.contains(&o.instance_type) {
                                objects.push(*o);
                            }
                        });
                        PageObjects {
                            objects,
                            totals,
                            gaps,
                            from_space: false,
                        }
                    };
                    let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    progress("walking heap pages", d, total);
                    r
                },
            )
            .collect();
        let n: usize = walked.iter().map(|w| w.objects.len()).sum();
        let mut idx = HeapIndex {
            addrs: Vec::with_capacity(n),
            maps: Vec::with_capacity(n),
            sizes: Vec::with_capacity(n),
            types: Vec::with_capacity(n),
            ranges: Vec::with_capacity(pages.len()),
            per_space: BTreeMap::new(),
            gaps: Vec::new(),
            by_base: HashMap::new(),
            page_mask: !((1u64 << p.table.page.page_size_log2) - 1),
        };
        for (k, w) in walked.into_iter().enumerate() {
            let i = order[k];
            let page = &pages[i];
            idx.per_space
                .entry(page.space.clone())
                .or_default()
                .add(&w.totals);
            idx.gaps.extend(w.gaps);
            let lo = idx.addrs.len();
            for o in &w.objects {
                idx.addrs.push(o.addr.0);
                idx.maps.push(o.map);
                idx.sizes.push(o.size.min(u32::MAX as u64) as u32);
                idx.types.push(o.instance_type);
            }
            if !w.from_space {
                idx.by_base.insert(page.base.0, idx.ranges.len());
                idx.ranges.push(PageRange {
                    page: i,
                    lo,
                    hi: idx.addrs.len(),
                });
            }
        }
        idx
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }

    /// The index of the object starting at `addr` (untagged).
    pub fn find(&self, addr: u64) -> Option<usize> {
        let r = &self.ranges[*self.by_base.get(&(addr & self.page_mask))?];
        let s = &self.addrs[r.lo..r.hi];
        s.binary_search(&addr).ok().map(|i| r.lo + i)
    }

    /// The index of the object containing `addr`.
    pub fn containing(&self, addr: u64) -> Option<usize> {
        let i = self.addrs.partition_point(|&a| a <= addr).checked_sub(1)?;
        (addr < self.addrs[i] + self.sizes[i] as u64).then_some(i)
    }

    /// The index of the object a tagged word points at (strong or weak), if it is an object start.
    pub fn target(&self, w: u64) -> Option<usize> {
        if w & 1 == 0 {
            return None;
        }
        self.find(w & !3)
    }

    /// Tagged pointer of object `i`.
    pub fn tagged(&self, i: usize) -> u64 {
        self.addrs[i] + 1
    }

    /// The page of object `i`.
    pub fn page_of<'a>(&self, p: &'a Process, i: usize) -> Option<&'a Page> {
        let r = &self.ranges[*self.by_base.get(&(self.addrs[i] & self.page_mask))?];
        p.pages.pages.get(r.page)
    }

    /// Calls `f(word_address, word)` for every word of the body of object `i` that may hold a
    /// pointer.
    pub fn for_each_slot(&self, p: &Process, i: usize, mut f: impl FnMut(u64, u64)) {
        let start = self.addrs[i];
        let size = self.sizes[i] as u64;
        let end = match p.kinds.body(self.types[i]) {
            Body::Tagged => size,
            Body::Header(h) => h.min(size),
        };
        // The map word is a pointer too (maps are objects of the heap).
        let mem = p.memory();
        if let Some(bytes) = mem.slice(Address(start), end as usize) {
            for (k, c) in bytes.chunks_exact(8).enumerate() {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                f(start + 8 * k as u64, u64::from_le_bytes(b));
            }
        } else {
            let mut a = start;
            while a < start + end {
                if let Ok(w) = mem.read_u64(Address(a)) {
                    f(a, w);
                }
                a += 8;
            }
        }
    }

    /// Mark everything reachable from the conservative roots.
    pub fn mark(&self, p: &Process, progress: Progress) -> Marking {
        let mut m = Marking {
            bits: vec![0; self.len().div_ceil(64)],
            roots: 0,
            reachable: 0,
            root_words: 0,
        };
        let mut heap_ranges: Vec<(u64, u64)> = p
            .pages
            .pages
            .iter()
            .chain(&p.pages.other_heap_pages)
            .chain(&p.pages.unlisted_pages)
            .map(|pg| (pg.base.0, pg.base.0 + pg.size.max(1)))
            .collect();
        heap_ranges.sort();
        let in_heap = |a: u64, b: u64| {
            let i = heap_ranges.partition_point(|r| r.0 < b);
            heap_ranges[..i].iter().rev().take(4).any(|r| r.1 > a)
        };
        let core = p.core();
        let data = core.data();
        let mut stack: Vec<usize> = Vec::new();
        let segs: Vec<_> = core
            .segments()
            .iter()
            .filter(|s| s.writable() && s.present > 0 && !in_heap(s.vaddr.0, s.end().0))
            .collect();
        // Registers of every thread at the time of the dump hold pointers too.
        for t in core.threads() {
            for &w in t.regs.0.iter() {
                if let Some(i) = self.target(w) {
                    if m.set(i) {
                        m.roots += 1;
                        stack.push(i);
                    }
                }
            }
        }
        let total: u64 = segs.iter().map(|s| s.present).sum();
        let mut done = 0u64;
        for s in segs {
            let Some(bytes) = data.get(s.offset as usize..(s.offset + s.present) as usize) else {
                continue;
            };
            for c in bytes.chunks_exact(8) {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                if let Some(t) = self.target(u64::from_le_bytes(b)) {
                    if m.set(t) {
                        m.roots += 1;
                        stack.push(t);
                    }
                }
            }
            m.root_words += s.present / 8;
            done += s.present;
            progress("scanning roots", done, total);
        }
        let mut popped = 0u64;
        let n = self.len() as u64;
        while let Some(i) = stack.pop() {
            popped += 1;
            if popped.is_multiple_of(1 << 16) {
                progress("marking", popped, n);
            }
            self.for_each_slot(p, i, |_, w| {
                if let Some(t) = self.target(w) {
                    if m.set(t) {
                        stack.push(t);
                    }
                }
            });
        }
        m.reachable = popped;
        progress("marking", n, n);
        m
    }

    /// Kind of object `i`.
    pub fn kind(&self, p: &Process, i: usize) -> Kind {
        p.kinds.kind(self.types[i])
    }
}
