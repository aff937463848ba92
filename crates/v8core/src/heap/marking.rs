//! Liveness: marking from a conservative root set.
//!
//! Roots are every word of writable, dumped memory outside the V8 heap (thread stacks, the C++
//! heap, the executable's data, which holds the isolate and its roots table, handle scopes and
//! persistent handles), and every thread's registers, that points at the start of an indexed
//! object. Marking follows every tagged word of every reached object's body, except bodies
//! that hold raw data (characters, doubles, bytecode, machine code). This needs no per-version
//! knowledge of handle blocks and matches V8's own snapshot on the fixture cores (see
//! `tests/census.rs`).

use crate::heap::index::{HeapIndex, Progress, Stray};
use crate::process::Process;
use elfcore::Address;
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Liveness of every indexed object.
pub struct Marking {
    /// One bit per object index.
    bits: Vec<AtomicU64>,
    /// Objects pointed at from outside the heap.
    pub roots: u64,
    /// Reachable objects.
    pub reachable: u64,
    /// Words of non-heap memory scanned for roots.
    pub root_words: u64,
    /// Where each root object was first found pointed at.
    pub root_at: FxHashMap<u32, RootLoc>,
    /// Address ranges of primary roots: live stacks, the Isolate.
    pub primary: Vec<(u64, u64)>,
    /// Bytes of free malloc chunks left out of the root scan (stale pointers).
    pub stale_skipped: u64,
    /// Objects that are a reachable JS object's elements store (one bit each).
    elements: Vec<AtomicU64>,
    /// Objects that are a reachable JS object's properties store.
    properties: Vec<AtomicU64>,
    /// References from reachable objects that point into a heap page but at no object.
    pub strays: Strays,
}

/// References from reachable objects that point into a walked heap page but at no object: a
/// consistent heap has none, so each is damage (or a layout that does not fit).
#[derive(Debug, Default)]
pub struct Strays {
    /// Into stretches the walk could not parse (the object there has a damaged header).
    pub into_unparsed: AtomicU64,
    /// Elsewhere: inside an object, or into free space.
    pub elsewhere: AtomicU64,
    /// The gaps (indices into `HeapIndex::gaps`) pointed into.
    pub gaps: Mutex<std::collections::BTreeSet<usize>>,
    /// The first holder seen with a stray reference, and the word.
    pub example: Mutex<Option<(u64, u64)>>,
    /// Reachable objects whose bodies could not be read in full (what the missing words
    /// reference is not seen), and the words missing.
    pub unread_objects: AtomicU64,
    /// See `unread_objects`.
    pub unread_words: AtomicU64,
    /// The first such object (tagged).
    pub unread_example: Mutex<Option<u64>>,
}

impl Strays {
    fn note(&self, s: Stray, holder: u64, w: u64) {
        match s {
            Stray::Unparsed(g) => {
                self.into_unparsed.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut v) = self.gaps.lock() {
                    v.insert(g);
                }
            }
            Stray::Elsewhere => {
                self.elsewhere.fetch_add(1, Ordering::Relaxed);
            }
        }
        if let Ok(mut e) = self.example.lock() {
            e.get_or_insert((holder, w));
        }
    }

    /// Stray references in all.
    pub fn total(&self) -> u64 {
        self.into_unparsed.load(Ordering::Relaxed) + self.elsewhere.load(Ordering::Relaxed)
    }
}

/// Where a root pointer was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootLoc {
    /// In a register of thread `thread` (index into the core's threads).
    Register {
        /// Thread index.
        thread: usize,
        /// Register number (NT_PRSTATUS order).
        reg: usize,
    },
    /// In memory outside the V8 heap, at this address.
    Memory(u64),
}

/// What an engine store is to the JS object that owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreRole {
    /// A JS object's elements (V8's snapshot calls it `(object elements)`).
    Elements,
    /// A JS object's out-of-object properties (`(object properties)`).
    Properties,
}

impl Marking {
    /// Whether object `i` is a reachable JS object's elements or properties store.
    pub fn store_role(&self, i: usize) -> Option<StoreRole> {
        let bit = |v: &[AtomicU64]| {
            v.get(i / 64)
                .is_some_and(|w| w.load(Ordering::Relaxed) >> (i % 64) & 1 != 0)
        };
        if bit(&self.elements) {
            Some(StoreRole::Elements)
        } else if bit(&self.properties) {
            Some(StoreRole::Properties)
        } else {
            None
        }
    }

    /// Whether object `i` is reachable.
    pub fn is_marked(&self, i: usize) -> bool {
        self.bits[i / 64].load(Ordering::Relaxed) >> (i % 64) & 1 != 0
    }
    /// Mark `i`; true if it was not marked before (whichever thread asks first wins).
    #[inline]
    fn set(&self, i: usize) -> bool {
        let (w, b) = (i / 64, 1u64 << (i % 64));
        if self.bits[w].load(Ordering::Relaxed) & b != 0 {
            return false;
        }
        self.bits[w].fetch_or(b, Ordering::Relaxed) & b == 0
    }
}

impl Marking {
    /// Whether object `i` is a primary root: pointed at from a register, the live part of a
    /// thread's stack, or the Isolate. Other roots (the C++ heap, the executable's data) may
    /// be stale pointers left in freed memory.
    pub fn is_primary_root(&self, i: usize) -> bool {
        match self.root_at.get(&(i as u32)) {
            Some(RootLoc::Register { .. }) => true,
            Some(RootLoc::Memory(a)) => self.primary.iter().any(|&(lo, hi)| lo <= *a && *a < hi),
            None => false,
        }
    }
}

/// The live stacks ([`Process::live_stacks`]) and the Isolate's allocation
/// ([`Process::isolate_extent`]).
fn primary_root_ranges(p: &Process) -> Vec<(u64, u64)> {
    let mut out = p.live_stacks();
    out.extend(p.isolate_extent());
    out.retain(|&(lo, hi)| lo < hi);
    out
}

/// Calls `f(address, bytes)` over the parts of `addr..addr+len` the dump holds data for, in
/// pieces of at most 64 MiB (borrowed when the dump has them in one piece, else read into
/// `buf` a MiB at a time); unreadable stretches are skipped.
fn for_each_dumped(
    dump: &dyn elfcore::Dump,
    addr: u64,
    len: u64,
    buf: &mut Vec<u8>,
    mut f: impl FnMut(u64, &[u8]),
) {
    let mem = dump.memory();
    for (start, n) in dump.data_ranges(Address(addr & !7), len) {
        let (mut a, end) = (start.0 & !7, start.0 + n);
        while a < end {
            let big = (end - a).min(64 << 20);
            if let Some(bytes) = mem.slice(Address(a), big as usize) {
                f(a, bytes);
                a += big;
                continue;
            }
            let small = (end - a).min(1 << 20) as usize;
            buf.resize(small, 0);
            if mem.read_at(Address(a), buf).is_ok() {
                f(a, buf);
            }
            a += small as u64;
        }
    }
}

/// Marking reads an object's slots at most this many bytes at a time (4096 slots): the
/// stack then holds what one stretch of a large array points at, not all its elements (a
/// leak is often one array or map of millions of entries, 8 bytes each on the stack).
const MARK_STRETCH_BYTES: u64 = 32 << 10;

/// What one pass over the heap has made resident of a mapped core, counted as the kernel maps
/// it: a read maps the whole cached folio around it (up to 2 MiB from Linux 6.18), so each
/// distinct 2 MiB window the pass reads counts whole. [`Resident::touch`] says when the budget
/// is spent and the pass should let the core's pages go (`Dump::release_all`).
pub(crate) struct Resident {
    /// Per page range: the epoch in which it was last read.
    stamp: Vec<u32>,
    /// Windows (address / 2 MiB) read in this epoch.
    windows: Vec<u64>,
    epoch: u32,
    last_range: usize,
    charged: u64,
    budget: u64,
}

impl Resident {
    /// The span one read may map.
    const WINDOW_LOG2: u32 = 21;

    /// Counting for a pass over a heap of `ranges` page ranges that may keep `budget` bytes
    /// of the core resident.
    pub(crate) fn new(ranges: usize, budget: u64) -> Resident {
        Resident {
            stamp: vec![0; ranges],
            windows: Vec::new(),
            epoch: 1,
            last_range: usize::MAX,
            charged: 0,
            budget: budget.max(1 << Self::WINDOW_LOG2),
        }
    }

    /// The pass reads `read` bytes at `addr` of an object of `size` bytes, on page range `ri`
    /// (all of it, or a stretch of a large one). True when the budget is spent: the caller
    /// lets the core go, and counting starts again.
    #[inline]
    pub(crate) fn touch(&mut self, ri: usize, addr: u64, size: u32, read: u64) -> bool {
        if size as u64 > (1 << Self::WINDOW_LOG2) {
            self.charged += read;
        }
        if ri != self.last_range {
            self.last_range = ri;
            if let Some(s) = self.stamp.get_mut(ri) {
                if *s != self.epoch {
                    *s = self.epoch;
                    let w = addr >> Self::WINDOW_LOG2;
                    if !self.windows.contains(&w) {
                        self.windows.push(w);
                        self.charged += 1 << Self::WINDOW_LOG2;
                    }
                }
            }
        }
        if self.charged < self.budget {
            return false;
        }
        self.charged = 0;
        self.windows.clear();
        self.last_range = usize::MAX;
        self.epoch = self.epoch.wrapping_add(1).max(1);
        if self.epoch == 1 {
            self.stamp.fill(0);
        }
        true
    }
}

/// Work shared by the marking threads: chunks of (object, page range) pairs still to visit.
struct MarkShare {
    pool: Mutex<Vec<Vec<(u32, u32)>>>,
    /// Workers that have started. The pool may run fewer at once than were spawned (it is
    /// shared: another marking, a batch worker or a caller's thread may hold its threads), so
    /// the end is decided among those that started; one that starts later finds no work.
    active: AtomicUsize,
    /// Workers waiting for work (or done); the marking ends when every started one is and the
    /// pool is empty.
    idle: AtomicUsize,
    /// Set by a waiting thread: a busy one should hand over half of its stack.
    hungry: AtomicBool,
}

impl HeapIndex {
    /// Mark everything reachable from the conservative roots.
    pub fn mark(&self, p: &Process, progress: Progress) -> Marking {
        let mut m = Marking {
            bits: (0..self.len().div_ceil(64))
                .map(|_| AtomicU64::new(0))
                .collect(),
            roots: 0,
            reachable: 0,
            root_words: 0,
            root_at: FxHashMap::default(),
            primary: Vec::new(),
            stale_skipped: 0,
            elements: (0..self.len().div_ceil(64))
                .map(|_| AtomicU64::new(0))
                .collect(),
            properties: (0..self.len().div_ceil(64))
                .map(|_| AtomicU64::new(0))
                .collect(),
            strays: Strays::default(),
        };
        let mut heap_ranges: Vec<(u64, u64)> = p
            .pages
            .pages
            .iter()
            .chain(&p.pages.other_heap_pages)
            .chain(&p.pages.unlisted_pages)
            .map(|pg| (pg.base.0, pg.base.0 + pg.size.max(1)))
            .collect();
        let core = p.dump();
        // Freed malloc memory holds stale pointers to objects the program no longer uses
        // through it (a collector's worklists, a freed snapshot's tables): leave it out.
        let malloc = elfcore::malloc::Malloc::scan(core);
        m.stale_skipped = malloc.free_bytes();
        heap_ranges.extend_from_slice(malloc.free_ranges());
        heap_ranges.sort();
        // (object index, page range index) pairs.
        let mut stack: Vec<(u32, u32)> = Vec::new();
        // Writable dumped memory minus the heap pages: (address, length).
        let mut segs: Vec<(u64, u64)> = Vec::new();
        for s in core
            .segments()
            .iter()
            .filter(|s| s.writable() && s.present > 0)
        {
            let (lo, hi) = (s.vaddr.0, s.vaddr.0 + s.present);
            let mut a = lo;
            let first = heap_ranges.partition_point(|r| r.1 <= lo);
            for &(plo, phi) in heap_ranges[first..].iter().take_while(|r| r.0 < hi) {
                if plo > a {
                    segs.push((a, plo - a));
                }
                a = a.max(phi);
            }
            if a < hi {
                segs.push((a, hi - a));
            }
        }
        // Registers of every thread at the time of the dump hold pointers too.
        for (thread, t) in core.threads().iter().enumerate() {
            for (reg, &w) in t.regs.values().iter().enumerate() {
                if let Some((i, ri)) = self.target_in(w) {
                    if m.set(i) {
                        m.roots += 1;
                        m.root_at
                            .insert(i as u32, RootLoc::Register { thread, reg });
                        stack.push((i as u32, ri as u32));
                    }
                }
            }
        }
        // Primary roots first: the live part of each thread's stack and the Isolate (its roots
        // table, current context, heap fields). Whatever else points into the heap (the C++
        // heap, with stale pointers in freed memory) is scanned after; an object found in both
        // keeps its primary location.
        m.primary = primary_root_ranges(p);
        let total: u64 = segs.iter().map(|s| s.1).sum();
        let mut done = 0u64;
        let scan = |m: &mut Marking, lo: u64, bytes: &[u8], stack: &mut Vec<(u32, u32)>| {
            for (k, c) in bytes.chunks_exact(8).enumerate() {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                if let Some((t, ri)) = self.target_in(u64::from_le_bytes(b)) {
                    if m.set(t) {
                        m.roots += 1;
                        m.root_at
                            .insert(t as u32, RootLoc::Memory(lo + 8 * k as u64));
                        stack.push((t as u32, ri as u32));
                    }
                }
            }
        };
        let mut buf = Vec::new();
        for (lo, hi) in m.primary.clone() {
            for_each_dumped(core, lo, hi - lo, &mut buf, |a, bytes| {
                scan(&mut m, a, bytes, &mut stack)
            });
        }
        for (addr, len) in segs {
            // Only the parts that hold data (a core's sparse holes are zeros), released as
            // they are scanned.
            for_each_dumped(core, addr, len, &mut buf, |a, bytes| {
                scan(&mut m, a, bytes, &mut stack);
                core.release(Address(a), bytes.len() as u64);
                m.root_words += bytes.len() as u64 / 8;
            });
            done += len;
            progress("scanning roots", done, total);
        }
        // Marking proper, on every thread: each works off its own stack and hands half of it
        // to the pool when another thread is waiting.
        let threads = rayon::current_num_threads().max(1);
        let share = MarkShare {
            pool: Mutex::new(vec![stack]),
            active: AtomicUsize::new(0),
            idle: AtomicUsize::new(0),
            hungry: AtomicBool::new(false),
        };
        let popped = AtomicU64::new(0);
        let n = self.len() as u64;
        let budget = crate::heap::RESIDENT_CORE_BYTES / threads as u64;
        rayon::scope(|sc| {
            for _ in 0..threads {
                sc.spawn(|_| self.mark_worker(p, &m, &share, &popped, budget, progress));
            }
        });
        let popped = popped.load(Ordering::Relaxed);
        m.reachable = popped;
        progress("marking", n, n);
        m
    }

    /// One marking thread (see [`HeapIndex::mark`]).
    #[allow(clippy::too_many_arguments)]
    fn mark_worker(
        &self,
        p: &Process,
        m: &Marking,
        share: &MarkShare,
        popped: &AtomicU64,
        budget: u64,
        progress: Progress,
    ) {
        let core = p.dump();
        let n = self.len() as u64;
        let (elements_off, properties_off) =
            (p.fields.object_elements, p.fields.receiver_properties);
        let mut local: Vec<(u32, u32)>;
        // Large objects still to finish: (object, page range, bytes from its start done,
        // whether it was counted among the objects with words that could not be read).
        let mut rest: Vec<(u32, u32, u64, bool)> = Vec::new();
        const SEEN: usize = 1024;
        let mut seen = [0u64; SEEN];
        let mut count = 0u64;
        let mut resident = Resident::new(self.ranges.len(), budget);
        {
            let _pool = share.pool.lock().unwrap_or_else(|e| e.into_inner());
            share.active.fetch_add(1, Ordering::SeqCst);
        }
        loop {
            // Out of work: take a chunk from the pool, or wait until there is one or every
            // started worker is done. (Waiting for all `threads` spawned would never end when
            // the pool runs only some of them: two markings at once on two threads.)
            let mut waiting = false;
            loop {
                let mut pool = share.pool.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(chunk) = pool.pop() {
                    if waiting {
                        share.idle.fetch_sub(1, Ordering::SeqCst);
                    }
                    local = chunk;
                    break;
                }
                if !waiting {
                    waiting = true;
                    share.idle.fetch_add(1, Ordering::SeqCst);
                }
                if share.idle.load(Ordering::SeqCst) == share.active.load(Ordering::SeqCst) {
                    popped.fetch_add(count, Ordering::Relaxed);
                    return;
                }
                share.hungry.store(true, Ordering::Relaxed);
                drop(pool);
                std::thread::yield_now();
            }
            // An object's children are visited before the next stretch of a large object.
            while let Some((i, ri, from, counted)) = local
                .pop()
                .map(|(i, ri)| (i, ri, 0, false))
                .or_else(|| rest.pop())
            {
                let (i, ri) = (i as usize, ri as usize);
                if from == 0 {
                    count += 1;
                    if count.is_multiple_of(1 << 16) {
                        let done = popped.fetch_add(count, Ordering::Relaxed) + count;
                        count = 0;
                        progress("marking", done, n);
                    }
                }
                // A large array is read a stretch at a time, so that the stack holds a
                // stretch's children, not its millions of elements at once.
                let end = self.body_end(p, i);
                let to = end.min(from + MARK_STRETCH_BYTES);
                // Marking jumps around the whole heap: every so often let the core's pages
                // go, so the resident set stays small however large the core is.
                let addr = self.addr_in(ri, i);
                if resident.touch(ri, addr + from, self.size(i), to - from) {
                    core.release_all();
                }
                // A JS object's elements and properties stores are named for that role.
                let (e, pr) = if p.kinds.kind(self.types[i]).is_receiver() {
                    (addr + elements_off, addr + properties_off)
                } else {
                    (0, 0)
                };
                let unread = self.for_each_slot_between(p, ri, i, from, to, |a, w| {
                    // Maps, oddballs and common strings recur in almost every object: a small
                    // cache of words already known marked saves their lookups.
                    let c = &mut seen[(w >> 3) as usize % SEEN];
                    if *c == w {
                        return;
                    }
                    if let Some((t, tr)) = self.target_in(w) {
                        *c = w;
                        if a == e || a == pr {
                            let bits = if a == e { &m.elements } else { &m.properties };
                            bits[t / 64].fetch_or(1 << (t % 64), Ordering::Relaxed);
                        }
                        if m.set(t) {
                            local.push((t as u32, tr as u32));
                        }
                    } else if let Some(s) = self.stray(p, w) {
                        // Dead young objects stay intact until the next scavenge, and the
                        // conservative roots reach some of them: what they point to may be
                        // gone. Only references held by older objects count.
                        let young = self
                            .ranges
                            .get(ri)
                            .and_then(|r| p.pages.pages.get(r.page))
                            .is_some_and(|pg| pg.space == "new_space");
                        if !young {
                            m.strays.note(s, addr, w);
                        }
                    }
                });
                if unread > 0 {
                    if !counted {
                        m.strays.unread_objects.fetch_add(1, Ordering::Relaxed);
                    }
                    m.strays.unread_words.fetch_add(unread, Ordering::Relaxed);
                    if let Ok(mut e) = m.strays.unread_example.lock() {
                        e.get_or_insert(addr + 1);
                    }
                }
                if to < end {
                    rest.push((i as u32, ri as u32, to, counted || unread > 0));
                }
                if local.len() > 64 && share.hungry.load(Ordering::Relaxed) {
                    let half = local.split_off(local.len() / 2);
                    let mut pool = share.pool.lock().unwrap_or_else(|e| e.into_inner());
                    pool.push(half);
                    share.hungry.store(false, Ordering::Relaxed);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Resident;

    const MIB: u64 = 1 << 20;

    #[test]
    fn each_distinct_window_a_pass_reads_counts_whole() {
        // A budget of three windows: pages in two windows, read over and over, never spend it.
        let mut r = Resident::new(8, 6 * MIB);
        for _ in 0..100 {
            assert!(!r.touch(0, 0x1000_0000, 64, 64));
            assert!(!r.touch(1, 0x1004_0000, 64, 64)); // the same 2 MiB window as page 0
            assert!(!r.touch(2, 0x2000_0000, 64, 64));
        }
        // A third window spends it; then counting starts again.
        assert!(r.touch(3, 0x3000_0000, 64, 64));
        assert!(!r.touch(0, 0x1000_0000, 64, 64));
        assert!(!r.touch(2, 0x2000_0000, 64, 64));
        assert!(r.touch(3, 0x3000_0000, 64, 64));
    }

    #[test]
    fn a_large_object_counts_its_size() {
        let mut r = Resident::new(2, 16 * MIB);
        assert!(!r.touch(0, 0x1000_0000, 8 << 20, 8 << 20));
        assert!(r.touch(1, 0x2000_0000, 8 << 20, 8 << 20));
    }

    #[test]
    fn a_large_object_read_a_stretch_at_a_time_counts_each_stretch() {
        let mut r = Resident::new(1, 16 * MIB);
        let (size, stretch) = (64 << 20, 4 * MIB);
        // The first stretch charges its window and its bytes; the budget goes after 16 MiB.
        let spent: Vec<bool> = (0..8)
            .map(|k| r.touch(0, 0x1000_0000 + k * stretch, size, stretch))
            .collect();
        assert_eq!(
            spent,
            [false, false, false, true, false, false, false, true]
        );
    }
}
