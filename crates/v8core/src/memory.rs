//! Where all the memory went: the process's whole address space accounted for, the V8 heap and
//! everything beyond it.
//!
//! - The V8 heap per space, from its pages and the walk (committed, used by objects, free).
//! - External memory, sized from the objects that own it: every ArrayBuffer's backing store
//!   (each store once, however many ArrayBuffers share it) and every external string's
//!   characters, grouped by what holds them in the program's words (`Upload.data`,
//!   `Document.text`), with the retainer path of each group's first object. ArrayBuffers the
//!   roots no longer reach count while their store is still allocated (V8 frees it only when a
//!   GC finds them dead; node's `arrayBuffers` counts them until then).
//! - Native memory: glibc's heaps (main and thread arenas) and the large chunks malloc maps on
//!   their own, how much of it is in use and how much of that is backing stores.
//! - The address space by kind of mapping (V8 heap, malloc, thread stacks, the executable,
//!   libraries, other anonymous memory), each with the bytes mapped and the bytes resident.
//!   Anonymous memory is resident where the core holds data (the kernel leaves pages that were
//!   never touched out as holes). Clean pages of mapped files are not in a core; they are
//!   estimated (see [`FILE_RESIDENT_EXEC`]) and marked as estimated.
//! - Totals under `process.memoryUsage()`'s names: `rss`, `heap_total`, `heap_used`,
//!   `external`, `array_buffers`.
//! - The heap's limits and its last garbage collections, from the `Heap` object (offsets in the
//!   version table, `HeapState`): the old generation's limit, V8's own external-memory counter
//!   and the trace lines node prints as "Last few GCs" when it dies of out-of-memory.

use crate::graph::describe::display_name;
use crate::graph::dominators::Dominators;
use crate::graph::edges::Edges;
use crate::graph::reverse::Graph;
use crate::heap::loaded::Heap;
use crate::meta::kinds::Kind;
use crate::meta::tables::GC_RING_BUFFER_SIZE;
use crate::render::{bytes, plural};
use elfcore::malloc::Malloc;
use elfcore::{Address, Dump, Memory};
use rustc_hash::FxHashMap;
use serde::Serialize;

/// Share of executable file mappings taken as resident: the clean pages of mapped files are
/// not in a core. Measured with `/proc/PID/smaps` on the official Node 18-26 builds and
/// Debian's Node 20: 50-92% of node's text was resident, depending on what the program ran and
/// on the page cache (fault-around maps cached neighbours too); in all, 40-80 MiB of node's
/// file pages, so an rss estimate is good to about 20 MiB. Node 18 keeps its read-only data
/// in the executable segment too.
pub const FILE_RESIDENT_EXEC: f64 = 0.7;
/// Share of read-only file mappings taken as resident (node's rodata: 22-66% measured).
pub const FILE_RESIDENT_READONLY: f64 = 0.45;
/// Native memory (outside ArrayBuffers and strings) that `dominant` names at least: a bare
/// node process already holds some tens of MiB of C++ allocations.
const NATIVE_ALARM: u64 = 64 << 20;
/// External memory (ArrayBuffer stores, external strings) that `dominant` names at least.
const EXTERNAL_ALARM: u64 = 32 << 20;
/// Holder groups listed.
const GROUPS: usize = 12;
/// Owners whose holder is looked up one by one (the largest first); the rest are summed.
const NAMED_OWNERS: usize = 20_000;

/// The answer of `memory`.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct MemoryReport {
    /// What dominates, in one sentence, when it is not the V8 heap (`rss 343 MiB, of which 300
    /// MiB are ArrayBuffer backing stores: ...`).
    pub dominant: Option<String>,
    /// Totals under the names of `process.memoryUsage()`.
    pub usage: MemoryUsage,
    /// The V8 heap per space.
    pub spaces: Vec<SpaceMemory>,
    /// Memory outside the V8 heap that JS objects own.
    pub external: ExternalMemory,
    /// glibc malloc's memory.
    pub native: NativeMemory,
    /// The address space by kind of mapping, largest resident first.
    pub regions: Vec<RegionUse>,
    /// The heap's limits.
    pub limits: HeapLimits,
    /// The last garbage collections as V8 traced them, oldest first.
    pub gcs: Vec<String>,
    /// What limits the answer (a live process, a value that could not be read).
    pub notes: Vec<String>,
}

/// Totals as `process.memoryUsage()` names them.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct MemoryUsage {
    /// Resident set size: the resident bytes of every region (file pages estimated).
    pub rss: u64,
    /// Part of `rss` that is an estimate (clean pages of mapped files).
    pub rss_estimated: u64,
    /// Committed bytes of the V8 heap (V8's `total_heap_size`; read-only space not counted).
    pub heap_total: u64,
    /// Bytes of objects in the V8 heap (V8's `used_heap_size`; read-only space not counted).
    pub heap_used: u64,
    /// External memory V8 accounts for: ArrayBuffer backing stores and external strings.
    pub external: u64,
    /// Where `external` comes from: `heap counter` (V8's own, read from the Heap) or
    /// `objects` (summed from the ArrayBuffers and external strings).
    pub external_source: &'static str,
    /// Bytes of ArrayBuffer backing stores (node's `arrayBuffers`).
    pub array_buffers: u64,
    /// Where `array_buffers` comes from: `node's allocator` (the counter of node's
    /// ArrayBuffer allocator, read from its C++ object) or `objects`.
    pub array_buffers_source: &'static str,
}

/// One space of the V8 heap.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SpaceMemory {
    /// V8's space name (`old_space`, ...).
    pub space: String,
    /// Pages.
    pub pages: u64,
    /// Committed bytes (page sizes).
    pub committed: u64,
    /// Bytes of objects (live or not yet collected).
    pub used: u64,
    /// Bytes of free-list entries and fillers.
    pub free: u64,
}

/// Memory outside the V8 heap owned by JS objects.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ExternalMemory {
    /// Distinct ArrayBuffer backing stores.
    pub array_buffers: u64,
    /// Their bytes.
    pub array_buffer_bytes: u64,
    /// Of those, stores of ArrayBuffers the roots no longer reach (garbage not yet collected).
    pub unreachable_array_buffer_bytes: u64,
    /// External strings.
    pub external_strings: u64,
    /// Their characters' bytes.
    pub external_string_bytes: u64,
    /// V8's own external-memory counter (`backing_store_bytes_`), where the table says where.
    pub v8_counter: Option<u64>,
    /// What node's ArrayBuffer allocator counts as allocated (`arrayBuffers`), if found.
    pub node_allocator: Option<u64>,
    /// Bytes node's allocator counts that no ArrayBuffer in the core owns: stores of dead
    /// ArrayBuffers a scavenge left behind, which V8's sweeper had not freed yet.
    pub unowned_array_buffer_bytes: u64,
    /// What holds the external memory, largest first.
    pub holders: Vec<ExternalHolder>,
}

/// External memory grouped by what holds it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ExternalHolder {
    /// What owns the bytes (`Buffer`, `ArrayBuffer`, `Uint8Array`, `(external string)`).
    pub owner: String,
    /// How the program holds the owner: `Upload.data`, `Document.text`, or
    /// `(unreachable)` for garbage not yet collected.
    pub holder: String,
    /// Owners in the group.
    pub count: u64,
    /// External bytes.
    pub bytes: u64,
    /// The group's largest owner (tagged address).
    pub example: String,
    /// A retainer path of it, from the object outwards.
    pub path: Option<String>,
}

/// glibc malloc's memory.
#[derive(Debug, Clone, Serialize, Default, schemars::JsonSchema)]
pub struct NativeMemory {
    /// Heaps walked (the brk heap and thread arenas' heaps).
    pub heaps: u64,
    /// Bytes of their chunks in use.
    pub heap_in_use: u64,
    /// Bytes of their free chunks (the top chunks included).
    pub heap_free: u64,
    /// Chunks malloc mapped on their own (large allocations).
    pub mmapped_chunks: u64,
    /// Their bytes.
    pub mmapped_bytes: u64,
    /// Bytes of ArrayBuffer backing stores and external strings inside malloc's memory.
    pub external_in_malloc: u64,
    /// In-use malloc memory that is not external memory: node's, V8's and libraries' own C++
    /// allocations (zlib, OpenSSL, ICU, addons).
    pub other_in_use: u64,
    /// Resident bytes of malloc's heaps and mmapped chunks.
    pub resident: u64,
    /// Of those, the part that is not external memory (`resident - external_in_malloc`): the
    /// native memory that counts in the rss.
    pub other_resident: u64,
}

/// One kind of mapping.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RegionUse {
    /// What it is: `V8 heap`, `V8 heap: JIT code` (code space pages), `malloc heaps`,
    /// `malloc mmapped chunks`, `thread stacks`, `executable`, `libraries`, `other anonymous`,
    /// `reserved (no access)`.
    pub region: &'static str,
    /// Mappings (or parts of mappings) of this kind.
    pub mappings: u64,
    /// Bytes mapped.
    pub mapped: u64,
    /// Bytes resident (in the core, or estimated for clean file pages).
    pub resident: u64,
    /// Part of `resident` that is an estimate (clean pages of mapped files).
    pub estimated: u64,
}

/// The heap's limits.
#[derive(Debug, Clone, Serialize, Default, schemars::JsonSchema)]
pub struct HeapLimits {
    /// The old generation's limit (`--max-old-space-size`), from the Heap.
    pub max_old_generation: Option<u64>,
    /// Bytes of objects in the old generation (every space but new and read-only space).
    pub old_generation_used: u64,
    /// Committed bytes of the old generation.
    pub old_generation_committed: u64,
}

/// An ArrayBuffer store or an external string, and who owns it.
#[derive(Debug, Clone, Copy)]
pub struct Owner {
    /// Index of the owning object.
    pub object: usize,
    /// External bytes.
    pub bytes: u64,
    /// Backing store address (0 for strings).
    pub store: u64,
    /// Whether the roots reach the owner.
    pub reachable: bool,
}

/// Old-generation spaces: everything but new space and read-only space.
pub fn is_old_generation(space: &str) -> bool {
    !matches!(
        space,
        "new_space" | "new_large_object_space" | "read_only_space"
    )
}

/// Every ArrayBuffer backing store (once per store) and external string of the heap.
/// Unreachable ArrayBuffers count only while their store is still allocated (`malloc`'s view of
/// it, and still mapped), unreachable strings never (V8 releases them in the GC that finds them
/// dead, before their objects are swept).
pub fn external_owners(h: &Heap, malloc: Option<&Malloc>) -> Vec<Owner> {
    let r = h.reader();
    let f = &h.p.fields;
    let mem = h.p.memory();
    let mut stores: FxHashMap<u64, usize> = FxHashMap::default();
    let mut out: Vec<Owner> = Vec::new();
    for i in 0..h.index.len() {
        let t = h.index.types[i];
        let reachable = h.marking.is_marked(i);
        match h.p.kinds.kind(t) {
            Kind::JSArrayBuffer => {
                let b = h.index.tagged(i);
                let store = r.slot(b, f.array_buffer_backing_store).unwrap_or(0);
                let len = r
                    .slot(b, f.array_buffer_byte_length)
                    .filter(|&n| n < 1 << 40)
                    .unwrap_or(0);
                if store == 0 || len == 0 {
                    continue;
                }
                if !reachable {
                    let freed = malloc.is_some_and(|m| m.is_free(store));
                    if freed || mem.read_u64(Address(store)).is_err() {
                        continue;
                    }
                }
                match stores.get(&store) {
                    Some(&k) => {
                        // A store shared by several ArrayBuffers: counted once, owned by a
                        // reachable one if any.
                        let o: &mut Owner = &mut out[k];
                        o.bytes = o.bytes.max(len);
                        if reachable && !o.reachable {
                            o.object = i;
                            o.reachable = true;
                        }
                    }
                    None => {
                        stores.insert(store, out.len());
                        out.push(Owner {
                            object: i,
                            bytes: len,
                            store,
                            reachable,
                        });
                    }
                }
            }
            Kind::String if t & 7 == 2 && reachable => {
                let s = h.index.tagged(i);
                let len = r.u32_at(s, h.p.layout.string_length as u64).unwrap_or(0) as u64;
                let bytes = len * if t & 8 != 0 { 1 } else { 2 };
                if bytes > 0 {
                    out.push(Owner {
                        object: i,
                        bytes,
                        store: 0,
                        reachable,
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// The `Heap`'s own state: the old generation's limit, V8's external-memory counter, and the
/// GC trace ring buffer's lines (oldest first).
pub fn heap_state(h: &Heap) -> (Option<u64>, Option<u64>, Vec<String>) {
    let p = &h.p;
    let heap = p.pages.heap;
    let mem = p.memory();
    let st = &p.table.heap_state;
    let word = |a: u64| mem.read_u64(Address(a)).ok();
    let max_old = match st.max_old_generation.via {
        Some(via) => word(heap.0 + via).and_then(|o| word(o + st.max_old_generation.offset)),
        None => word(heap.0 + st.max_old_generation.offset),
    }
    // A limit is a whole number of pages and below a terabyte, or it is not a limit.
    .filter(|&v| v > 0 && v % 4096 == 0 && v < 1 << 40);
    let counter = st
        .backing_store_bytes
        .and_then(|o| word(heap.0 + o))
        .filter(|&v| v < 1 << 48);
    let mut gcs = Vec::new();
    let mut buf = vec![0u8; GC_RING_BUFFER_SIZE as usize];
    if mem
        .read_at(Address(heap.0 + st.gc_ring_buffer), &mut buf)
        .is_ok()
    {
        let full = mem
            .read_u8(Address(heap.0 + st.gc_ring_full))
            .map(|b| b == 1)
            .unwrap_or(false);
        let end = word(heap.0 + st.gc_ring_end).unwrap_or(0);
        if end <= GC_RING_BUFFER_SIZE {
            let end = end as usize;
            let mut text: Vec<u8> = Vec::new();
            if full {
                text.extend_from_slice(&buf[end..]);
            }
            text.extend_from_slice(&buf[..end]);
            gcs = gc_lines(&text);
        }
    }
    (max_old, counter, gcs)
}

/// Split the ring buffer's text into trace lines (each starts with `[pid:0xisolate]`).
fn gc_lines(text: &[u8]) -> Vec<String> {
    let s: String = text
        .iter()
        .map(|&b| {
            if (32..127).contains(&b) {
                b as char
            } else {
                ' '
            }
        })
        .collect();
    let mut starts: Vec<usize> = s
        .match_indices('[')
        .map(|(k, _)| k)
        .filter(|&k| {
            let rest = &s[k + 1..];
            let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
            digits > 0 && rest[digits..].starts_with(":0x")
        })
        .collect();
    starts.push(s.len());
    // Text before the first `[pid:0x...]` is a line whose start the ring has overwritten: left
    // out. Each line loses its prefix (every line has the same one).
    starts
        .windows(2)
        .filter_map(|w| {
            let line = s[w[0]..w[1]].trim();
            let k = line.find(']')?;
            let rest = line[k + 1..].trim();
            (!rest.is_empty()).then(|| rest.to_string())
        })
        .collect()
}

/// The main thread's linear allocation area `{start, top, limit}` at `off` in the Isolate, if
/// it reads as one (all three in one page, in order).
fn allocation_area(h: &Heap, off: Option<u64>) -> Option<(u64, u64, u64)> {
    let iso = h.p.isolate.as_ref()?.isolate.0 + off?;
    let mem = h.p.memory();
    let w = |k: u64| mem.read_u64(Address(iso + 8 * k)).ok();
    let (start, top, limit) = (w(0)?, w(1)?, w(2)?);
    let page = h.p.pages.page_of(Address(start))?;
    (start <= top && top <= limit && limit <= page.base.0 + page.size)
        .then_some((start, top, limit))
}

/// Bytes of walked objects starting in `[a, b)`.
fn walked_in(h: &Heap, a: u64, b: u64) -> u64 {
    let (i, j) = (h.index.first_from(a), h.index.first_from(b));
    (i..j).map(|k| h.index.size(k) as u64).sum()
}

/// Bytes of objects in new space up to the allocation top. Survivors of the last scavenge sit
/// at the start of each to-space page and new objects follow them; what lies beyond the top is
/// stale copies from before, which the walk cannot tell from objects. On the page of the main
/// thread's allocation area (where the table says where it is) the objects below its top are
/// counted; on the others, the objects up to the end of the last one the roots reach.
fn young_used(h: &Heap) -> u64 {
    let pages = &h.p.pages.pages;
    let top = allocation_area(h, h.p.table.allocation_areas.new_space).map(|(_, top, _)| top);
    let mut total = 0u64;
    for r in h
        .index
        .ranges
        .iter()
        .filter(|r| pages[r.page].space == "new_space")
    {
        let pg = &pages[r.page];
        let on_top_page = top.is_some_and(|t| pg.base.0 <= t && t <= pg.base.0 + pg.size);
        let (mut run, mut upto) = (0u64, 0u64);
        for i in r.lo..r.hi {
            run += h.index.size(i) as u64;
            let counted = if on_top_page {
                top.is_some_and(|t| h.index.addr(i) < t)
            } else {
                h.marking.is_marked(i)
            };
            if counted {
                upto = run;
            }
        }
        total += upto;
    }
    total
}

/// New space's to-space and from-space pages: (pages, bytes) each.
fn semispace_pages(h: &Heap) -> ((u64, u64), (u64, u64)) {
    let flag = h.p.table.page.from_page_flag;
    let (mut to, mut from) = ((0, 0), (0, 0));
    for pg in h.p.pages.pages.iter().filter(|p| p.space == "new_space") {
        let x = if pg.flags & flag != 0 {
            &mut from
        } else {
            &mut to
        };
        x.0 += 1;
        x.1 += pg.size;
    }
    (to, from)
}

/// What node's ArrayBuffer allocator (`node::NodeArrayBufferAllocator`, the one
/// `process.memoryUsage().arrayBuffers` reads) counts as allocated: the object is found in
/// malloc's memory by its vtable, the counter at the table's offset. The main thread's
/// allocator is made at startup, before any worker's, so the first one found is taken.
pub fn node_array_buffers(h: &Heap, malloc: &Malloc) -> Option<u64> {
    let p = &h.p;
    let sym = p.exe().symbol("_ZTVN4node24NodeArrayBufferAllocatorE")?;
    // A vtable pointer points past the offset-to-top and typeinfo words.
    let vtable = p.runtime_addr(sym.addr) + 16;
    let mem = p.memory();
    let needle = vtable.to_le_bytes();
    const CHUNK: u64 = 1 << 20;
    for m in &malloc.heaps {
        let mut a = m.start;
        let mut buf = vec![0u8; CHUNK as usize];
        while a < m.end {
            let n = CHUNK.min(m.end - a) as usize;
            if mem.read_at(Address(a), &mut buf[..n]).is_ok() {
                for k in (0..n.saturating_sub(8)).step_by(8) {
                    if buf[k..k + 8] == needle {
                        let obj = a + k as u64;
                        if malloc.is_free(obj) {
                            continue;
                        }
                        let v = mem
                            .read_u64(Address(obj + p.table.array_buffer_allocator_usage))
                            .ok()?;
                        return (v < 1 << 48).then_some(v);
                    }
                }
            }
            a += n as u64;
        }
    }
    None
}

/// Build the memory report.
pub fn memory(h: &Heap, g: &Graph, d: &Dominators) -> MemoryReport {
    let p = &h.p;
    let dump = p.dump();
    let malloc = Malloc::scan(dump);
    let owners = external_owners(h, Some(&malloc));
    let (max_old, counter, gcs) = heap_state(h);
    let allocator = node_array_buffers(h, &malloc);

    // The V8 heap per space.
    let committed = p.pages.per_space();
    let mut spaces: Vec<SpaceMemory> = committed
        .iter()
        .map(|(name, c)| {
            let w = h.index.per_space.get(name);
            SpaceMemory {
                space: name.clone(),
                pages: c.pages,
                committed: c.committed,
                used: w.map(|w| w.object_bytes).unwrap_or(0),
                free: w.map(|w| w.free_bytes).unwrap_or(0),
            }
        })
        .collect();
    // New space's pages keep stale copies beyond the allocation top (see `young_used`).
    let young = young_used(h);
    // What the walk found beyond the top of old space's allocation area is stale; V8 11.3
    // counts the area's unused end as used, 12.4 on do not.
    match allocation_area(h, p.table.allocation_areas.old_space) {
        Some((_, top, limit)) => {
            let stale = walked_in(h, top, limit);
            let counted = p.table.allocation_areas.old_area_counted;
            for s in spaces.iter_mut().filter(|s| s.space == "old_space") {
                s.used = s.used.saturating_sub(stale);
                if counted {
                    // V8 11.3 counts the open area's unused end as used while it is open: the
                    // walk finds it unparsed (a gap), not closed with a filler.
                    s.used += h
                        .index
                        .gaps
                        .iter()
                        .map(|g| {
                            let (a, b) = (g.start.0.max(top), (g.start.0 + g.len).min(limit));
                            b.saturating_sub(a)
                        })
                        .sum::<u64>();
                } else {
                    s.free += stale;
                }
            }
        }
        // V8 10.2 counts the open allocation area as used: the stretch the walk could not
        // parse (a gap) is that area.
        None if p.table.allocation_areas.old_gaps_used => {
            let gaps = h.index.per_space.get("old_space").map(|w| w.gap_bytes);
            for s in spaces.iter_mut().filter(|s| s.space == "old_space") {
                s.used += gaps.unwrap_or(0);
            }
        }
        None => {}
    }
    let (to, from) = semispace_pages(h);
    for s in spaces.iter_mut().filter(|s| s.space == "new_space") {
        s.used = young;
        // A committed from-space is as large as to-space; more from-pages than to-pages are
        // pages V8 has released to its pool after shrinking new space (still mapped, no longer
        // committed to the heap).
        let pages = if from.0 == to.0 { to.0 + from.0 } else { to.0 };
        let bytes = if from.0 == to.0 { to.1 + from.1 } else { to.1 };
        s.pages = pages;
        s.committed = bytes;
    }
    spaces.sort_by(|a, b| b.committed.cmp(&a.committed).then(a.space.cmp(&b.space)));
    let counted = |s: &&SpaceMemory| s.space != "read_only_space";
    let heap_total = spaces.iter().filter(counted).map(|s| s.committed).sum();
    let heap_used = spaces.iter().filter(counted).map(|s| s.used).sum();
    let limits = HeapLimits {
        max_old_generation: max_old,
        old_generation_used: spaces
            .iter()
            .filter(|s| is_old_generation(&s.space))
            .map(|s| s.used)
            .sum(),
        old_generation_committed: spaces
            .iter()
            .filter(|s| is_old_generation(&s.space))
            .map(|s| s.committed)
            .sum(),
    };

    // External memory.
    let is_store = |o: &Owner| o.store != 0;
    let ab_bytes: u64 = owners.iter().filter(|o| is_store(o)).map(|o| o.bytes).sum();
    let str_bytes: u64 = owners
        .iter()
        .filter(|o| !is_store(o))
        .map(|o| o.bytes)
        .sum();
    let external = ExternalMemory {
        array_buffers: owners.iter().filter(|o| is_store(o)).count() as u64,
        array_buffer_bytes: ab_bytes,
        unreachable_array_buffer_bytes: owners
            .iter()
            .filter(|o| is_store(o) && !o.reachable)
            .map(|o| o.bytes)
            .sum(),
        external_strings: owners.iter().filter(|o| !is_store(o)).count() as u64,
        external_string_bytes: str_bytes,
        v8_counter: counter,
        node_allocator: allocator,
        unowned_array_buffer_bytes: allocator.map(|a| a.saturating_sub(ab_bytes)).unwrap_or(0),
        holders: holders(h, g, d, &owners),
    };

    // The address space.
    let (regions, native) = regions(h, &malloc, &owners);
    let rss = regions.iter().map(|r| r.resident).sum();
    let rss_estimated = regions.iter().map(|r| r.estimated).sum();
    let (array_buffers, ab_source) = match allocator {
        Some(a) => (a, "node's allocator"),
        None => (ab_bytes, "objects"),
    };
    let (external_total, source) = match (counter, allocator) {
        (Some(c), _) => (c, "heap counter"),
        (None, Some(a)) => (a + str_bytes, "node's allocator and external strings"),
        (None, None) => (ab_bytes + str_bytes, "objects"),
    };
    let mut notes = Vec::new();
    if dump.core_file().is_none() {
        notes.push(
            "a live process: its memory is read as mapped, so `resident` and `rss` count every \
             mapped byte of anonymous memory, not only resident pages"
                .to_string(),
        );
    }
    if holds_every_page(dump) {
        notes.push(
            "the core has no holes (written by gdb's gcore, or copied without them): resident \
             memory is counted as the pages that are not all zeros, which misses resident pages \
             of zeros"
                .to_string(),
        );
    }
    if malloc.rejected > 0 {
        notes.push(format!(
            "{} looked like malloc heaps but their chunks did not walk to their end: counted as \
             other anonymous memory",
            plural(malloc.rejected as usize, "mapping")
        ));
    }
    if max_old.is_none() {
        notes.push("the old generation's limit could not be read from the Heap".to_string());
    }
    if allocator.is_none() {
        notes.push(
            "node's ArrayBuffer allocator was not found: array_buffers is summed from the \
             ArrayBuffers in the heap"
                .to_string(),
        );
    }
    let mut report = MemoryReport {
        dominant: None,
        usage: MemoryUsage {
            rss,
            rss_estimated,
            heap_total,
            heap_used,
            external: external_total,
            external_source: source,
            array_buffers,
            array_buffers_source: ab_source,
        },
        spaces,
        external,
        native,
        regions,
        limits,
        gcs,
        notes,
    };
    report.dominant = dominant(&report);
    report
}

/// The sentence for what fills the memory when the V8 heap is less than half of it.
fn dominant(m: &MemoryReport) -> Option<String> {
    let u = &m.usage;
    if u.rss == 0 || u.heap_total * 2 >= u.rss {
        return None;
    }
    let e = &m.external;
    let other = m.native.other_resident;
    let top = |pred: &dyn Fn(&ExternalHolder) -> bool| m.external.holders.iter().find(|g| pred(g));
    let held = |g: Option<&ExternalHolder>, what: &str| -> String {
        match g {
            Some(g) if g.holder != "(unreachable)" => format!(
                ": {} {what} of {} held by {}",
                g.count,
                bytes(g.bytes / g.count.max(1)),
                g.path.as_deref().unwrap_or(&g.holder)
            ),
            _ => String::new(),
        }
    };
    let head = format!("rss {}, of which", bytes(u.rss));
    if e.array_buffer_bytes >= e.external_string_bytes && e.array_buffer_bytes >= other {
        if e.array_buffer_bytes * 4 < u.rss || e.array_buffer_bytes < EXTERNAL_ALARM {
            return None;
        }
        let g = top(&|g: &ExternalHolder| g.owner != "(external string)");
        let what = format!(
            "{} objects",
            g.map(|g| g.owner.as_str()).unwrap_or("ArrayBuffer")
        );
        return Some(format!(
            "{head} {} are ArrayBuffer backing stores{}",
            bytes(e.array_buffer_bytes),
            held(g, &what)
        ));
    }
    if e.external_string_bytes >= other {
        if e.external_string_bytes * 4 < u.rss || e.external_string_bytes < EXTERNAL_ALARM {
            return None;
        }
        let g = top(&|g: &ExternalHolder| g.owner == "(external string)");
        return Some(format!(
            "{head} {} are external strings{}",
            bytes(e.external_string_bytes),
            held(g, "external strings")
        ));
    }
    // A bare node process holds some tens of MiB of its own C++ memory: not an alarm.
    if other * 4 < u.rss || other < NATIVE_ALARM {
        return None;
    }
    Some(format!(
        "{head} {} is native memory in malloc (resident) outside any ArrayBuffer or string: C++ \
         allocations of node, V8, libraries (zlib, OpenSSL, ICU) or addons",
        bytes(other)
    ))
}

/// Group the external owners by what holds them, largest first.
fn holders(h: &Heap, g: &Graph, d: &Dominators, owners: &[Owner]) -> Vec<ExternalHolder> {
    let edges = Edges::new(h, g);
    let mut order: Vec<usize> = (0..owners.len()).collect();
    order.sort_by(|&a, &b| owners[b].bytes.cmp(&owners[a].bytes));
    // (owner, holder) -> (count, bytes, example)
    let mut groups: FxHashMap<(String, String), (u64, u64, usize)> = FxHashMap::default();
    for (n, &k) in order.iter().enumerate() {
        let o = &owners[k];
        let key = if !o.reachable {
            (owner_name(h, d, o.object).0, "(unreachable)".to_string())
        } else if n >= NAMED_OWNERS {
            (owner_name(h, d, o.object).0, "(smaller owners)".to_string())
        } else {
            let (name, shown) = owner_name(h, d, o.object);
            (name, holder_name(h, d, &edges, shown))
        };
        let e = groups.entry(key).or_insert((0, 0, o.object));
        e.0 += 1;
        e.1 += o.bytes;
    }
    let mut rows: Vec<(ExternalHolder, usize)> = groups
        .into_iter()
        .map(|((owner, holder), (count, bytes, example))| {
            let row = ExternalHolder {
                owner,
                holder,
                count,
                bytes,
                example: format!("{:#x}", h.index.tagged(example)),
                path: None,
            };
            (row, example)
        })
        .collect();
    rows.sort_by(|(a, _), (b, _)| {
        b.bytes
            .cmp(&a.bytes)
            .then_with(|| a.holder.cmp(&b.holder))
            .then_with(|| a.owner.cmp(&b.owner))
    });
    rows.truncate(GROUPS);
    // Paths for the largest groups (garbage has none).
    for (r, i) in rows.iter_mut().take(3) {
        if r.holder != "(unreachable)" {
            // A path from a global object when there is one (they come first), in the
            // program's words; one through C++ memory alone names nothing.
            r.path = edges
                .retainer_paths(*i, 3, 24)
                .iter()
                .map(|p| named_path(h, p))
                .find(|p| !p.is_empty());
        }
    }
    let rows: Vec<ExternalHolder> = rows.into_iter().map(|(r, _)| r).collect();
    rows
}

/// The object a person sees as the owner: the view (a Buffer, a typed array) that holds an
/// ArrayBuffer, else the object itself; with its display name.
fn owner_name(h: &Heap, d: &Dominators, i: usize) -> (String, usize) {
    if h.index.kind(&h.p, i) == Kind::JSArrayBuffer {
        if let Some(v) = d.idom(i) {
            if matches!(h.index.kind(&h.p, v), Kind::JSTypedArray | Kind::JSDataView) {
                return (display_name(h, v), v);
            }
        }
        return (display_name(h, i), i);
    }
    if h.index.kind(&h.p, i) == Kind::String {
        return ("(external string)".to_string(), i);
    }
    (display_name(h, i), i)
}

/// How the program holds `shown`: the name of its dominator and the reference from it
/// (`Upload.data`), engine stores credited to their owner.
fn holder_name(h: &Heap, d: &Dominators, edges: &Edges, shown: usize) -> String {
    let dom = d.idom(shown);
    let all = edges.edges_to(shown);
    // The dominator's reference; where the roots dominate (a pointer from C++ memory, such as
    // V8's table of external strings, also holds it), the program's own named reference.
    let named = |e: &&crate::graph::edges::Edge| e.name.starts_with('.') || e.name.starts_with('[');
    let e = all
        .iter()
        .find(|e| Some(e.holder) == dom || dom.is_some_and(|x| e.via.contains(&x)))
        .or_else(|| all.iter().find(named))
        .or_else(|| all.first());
    match (e, dom) {
        (Some(e), _) => step_text(h, e.holder, &e.name),
        (None, Some(x)) => display_name(h, x),
        (None, None) => "(a root)".to_string(),
    }
}

/// `Upload.data`, `system / Context allocPool`; an engine-internal slot (`+0x18`) is left out.
fn step_text(h: &Heap, holder: usize, name: &str) -> String {
    let who = display_name(h, holder);
    if name.starts_with("+0x") {
        who
    } else {
        format!("{who}{}", edge_suffix(name))
    }
}

/// A retainer path in the program's words: the named references only, from the object
/// outwards (`Upload.data <- Object.uploadRegistry <- Module.exports`), at most eight.
fn named_path(h: &Heap, path: &crate::graph::paths::RetainerPath) -> String {
    let steps: Vec<String> = path
        .steps
        .iter()
        .filter(|st| !st.edge.name.starts_with("+0x"))
        .map(|st| step_text(h, st.edge.holder, &st.edge.name))
        .collect();
    let mut s = steps
        .iter()
        .take(8)
        .cloned()
        .collect::<Vec<_>>()
        .join(" <- ");
    if steps.len() > 8 {
        s.push_str(" <- ...");
    }
    s
}

/// `.data` and `[3]` attach to the holder's name; a variable name is joined with a space.
fn edge_suffix(name: &str) -> String {
    if name.starts_with('.') || name.starts_with('[') {
        name.to_string()
    } else {
        format!(" {name}")
    }
}

/// Resident bytes of `[a, b)`: the bytes the dump holds. A kernel core leaves pages never
/// touched out as holes, so that is exact; gdb's `gcore` writes them as zeros, so for a core
/// without holes (`zeros_absent`) pages of zeros count as not resident (which misses the
/// resident ones, such as zeroed tables).
fn dumped(dump: &dyn Dump, a: u64, b: u64, zeros_absent: bool) -> u64 {
    if b <= a {
        return 0;
    }
    if !zeros_absent {
        return dump
            .data_ranges(Address(a), b - a)
            .iter()
            .map(|r| r.1)
            .sum();
    }
    const PAGE: u64 = 4096;
    let mem = dump.memory();
    let mut buf = vec![0u8; PAGE as usize];
    let mut n = 0u64;
    for (start, len) in dump.data_ranges(Address(a), b - a) {
        let end = start.0 + len;
        let mut x = start.0;
        while x < end {
            let k = (PAGE - x % PAGE).min(end - x);
            let bytes = match mem.slice(Address(x), k as usize) {
                Some(s) => s,
                None => match mem.read_at(Address(x), &mut buf[..k as usize]) {
                    Ok(()) => &buf[..k as usize],
                    Err(_) => &[][..],
                },
            };
            if bytes.iter().any(|&c| c != 0) {
                n += k;
            }
            x += k;
        }
        dump.release(start, len);
    }
    n
}

/// Whether the core holds every page of its dumped segments (no holes: gdb's `gcore`, or a
/// core copied without keeping its holes), so that holes cannot tell what was resident.
pub fn holds_every_page(dump: &dyn Dump) -> bool {
    if dump.core_file().is_none() {
        return false;
    }
    let (mut held, mut data) = (0u64, 0u64);
    for s in dump.segments().iter().filter(|s| s.present >= 1 << 20) {
        held += s.present;
        data += dump
            .data_ranges(s.vaddr, s.present)
            .iter()
            .map(|r| r.1)
            .sum::<u64>();
    }
    held > 0 && data == held
}

/// The address space by kind, and malloc's memory.
fn regions(h: &Heap, malloc: &Malloc, owners: &[Owner]) -> (Vec<RegionUse>, NativeMemory) {
    let p = &h.p;
    let dump = p.dump();
    let mem = dump.memory();
    let exe = p.exe().path().to_string_lossy().to_string();
    let stack_pointers: Vec<u64> = dump.threads().iter().map(|t| t.regs.sp()).collect();
    let zeros = holds_every_page(dump);
    // Claimed stretches of anonymous memory: (start, end, region).
    let mut claims: Vec<(u64, u64, &'static str)> = Vec::new();
    for pg in p.pages.pages.iter().chain(&p.pages.other_heap_pages) {
        let region = if pg.space.starts_with("code") {
            "V8 heap: JIT code"
        } else {
            "V8 heap"
        };
        claims.push((pg.base.0, pg.base.0 + pg.size, region));
    }
    for m in &malloc.heaps {
        claims.push((m.start, m.end, "malloc heaps"));
    }
    let mut native = NativeMemory {
        heaps: malloc.heaps.len() as u64,
        heap_in_use: malloc.in_use_bytes(),
        heap_free: malloc.free_bytes(),
        ..NativeMemory::default()
    };
    let mut mmapped: Vec<(u64, u64)> = Vec::new();
    let mut rows: FxHashMap<&'static str, RegionUse> = FxHashMap::default();
    let mut add = |region: &'static str, mapped: u64, resident: u64, estimated: u64| {
        let r = rows.entry(region).or_insert(RegionUse {
            region,
            mappings: 0,
            mapped: 0,
            resident: 0,
            estimated: 0,
        });
        r.mappings += 1;
        r.mapped += mapped;
        r.resident += resident + estimated;
        r.estimated += estimated;
    };
    claims.sort_unstable();
    for s in dump.segments() {
        let (a, b) = (s.vaddr.0, s.end().0);
        if let Some(f) = dump.mapped_file_at(s.vaddr) {
            let region = if f.path.trim_end_matches(" (deleted)") == exe {
                "executable"
            } else {
                "libraries"
            };
            // The part the core holds of a writable mapping (written pages) is resident; of a
            // read-only one, the kernel keeps its first page (the ELF header) and gdb may keep
            // all of it, read from the file: its first page is taken, and of the rest, clean
            // file pages, a share (see FILE_RESIDENT_EXEC).
            let held = if s.writable() {
                s.filesz.min(s.memsz)
            } else {
                s.filesz.min(s.memsz).min(4096)
            };
            let share = if s.flags & 7 == 0 || s.writable() {
                0.0
            } else if s.executable() {
                FILE_RESIDENT_EXEC
            } else {
                FILE_RESIDENT_READONLY
            };
            let estimate = ((s.memsz - held) as f64 * share) as u64;
            add(region, s.memsz, dumped(dump, a, a + held, zeros), estimate);
            continue;
        }
        if s.flags & 7 == 0 {
            // PROT_NONE: reserved address space (V8's cage and code range, guard pages).
            add("reserved (no access)", s.memsz, 0, 0);
            continue;
        }
        if stack_pointers.iter().any(|&sp| a <= sp && sp < b) {
            add("thread stacks", s.memsz, dumped(dump, a, b, zeros), 0);
            continue;
        }
        // The claimed stretches inside, then what is left: malloc's own mappings or other.
        let mut cur = a;
        let first = claims.partition_point(|c| c.1 <= a);
        for c in claims[first..].iter().take_while(|c| c.0 < b) {
            let (lo, hi) = (c.0.max(a), c.1.min(b));
            if lo > cur {
                rest(dump, zeros, mem, cur, lo, &mut mmapped, &mut add);
            }
            if hi > lo {
                add(c.2, hi - lo, dumped(dump, lo, hi, zeros), 0);
            }
            cur = cur.max(hi);
        }
        if cur < b {
            rest(dump, zeros, mem, cur, b, &mut mmapped, &mut add);
        }
    }
    native.mmapped_chunks = mmapped.len() as u64;
    native.mmapped_bytes = mmapped.iter().map(|m| m.1 - m.0).sum();
    mmapped.sort_unstable();
    let in_malloc = |a: u64| {
        malloc.heaps.iter().any(|m| m.start <= a && a < m.end) || {
            let k = mmapped.partition_point(|m| m.1 <= a);
            mmapped.get(k).is_some_and(|m| m.0 <= a)
        }
    };
    let r = h.reader();
    let f = &p.fields;
    native.external_in_malloc = owners
        .iter()
        .filter(|o| {
            let data = if o.store != 0 {
                o.store
            } else {
                // An external string's characters: its resource's data pointer, where cached.
                r.slot(h.index.tagged(o.object), f.external_resource + 8)
                    .unwrap_or(0)
            };
            data != 0 && in_malloc(data)
        })
        .map(|o| o.bytes)
        .sum();
    native.other_in_use =
        (native.heap_in_use + native.mmapped_bytes).saturating_sub(native.external_in_malloc);
    native.resident = ["malloc heaps", "malloc mmapped chunks"]
        .iter()
        .filter_map(|k| rows.get(k))
        .map(|r| r.resident)
        .sum();
    // Free chunks can be resident too (glibc keeps freed memory): count at most what is in use.
    native.other_resident = native
        .resident
        .min(native.heap_in_use + native.mmapped_bytes)
        .saturating_sub(native.external_in_malloc);
    let mut rows: Vec<RegionUse> = rows.into_values().collect();
    rows.sort_by(|a, b| {
        b.resident
            .cmp(&a.resident)
            .then(b.mapped.cmp(&a.mapped))
            .then(a.region.cmp(b.region))
    });
    (rows, native)
}

/// Anonymous memory no heap claimed: chunks malloc mapped for one large allocation each
/// (`{prev_size, size | IS_MMAPPED}` at a page start, one after another), else `other
/// anonymous` (V8's pools, node's and libraries' own mappings).
fn rest(
    dump: &dyn Dump,
    zeros: bool,
    mem: &dyn Memory,
    a: u64,
    b: u64,
    mmapped: &mut Vec<(u64, u64)>,
    add: &mut impl FnMut(&'static str, u64, u64, u64),
) {
    let mut cur = a;
    while cur < b {
        let chunk = mem
            .read_u64(Address(cur + 8))
            .ok()
            .filter(|&sz| sz & 2 != 0 && sz & 4 == 0)
            .map(|sz| sz & !7)
            .filter(|&sz| sz >= 4096 && sz % 4096 == 0 && cur + sz <= b)
            .filter(|_| mem.read_u64(Address(cur)).is_ok_and(|prev| prev < 4096));
        match chunk {
            Some(sz) => {
                mmapped.push((cur, cur + sz));
                add(
                    "malloc mmapped chunks",
                    sz,
                    dumped(dump, cur, cur + sz, zeros),
                    0,
                );
                cur += sz;
            }
            None => break,
        }
    }
    if cur < b {
        add("other anonymous", b - cur, dumped(dump, cur, b, zeros), 0);
    }
}

#[cfg(test)]
mod tests {
    use super::gc_lines;

    #[test]
    fn gc_trace_lines_lose_their_prefix_and_a_line_cut_by_the_ring() {
        let text = b"ent mu = 0.871) [5485:0x3df05000]      191 ms: Mark-Compact 4.1 (5.0) -> 3.9 (5.0) MB, 2.1 / 0.0 ms  allocation failure; [5485:0x3df05000]      195 ms: Scavenge 4.0 (5.0) -> 3.9 (5.0) MB, 0.3 / 0.0 ms  task;\n";
        assert_eq!(
            gc_lines(text),
            vec![
                "191 ms: Mark-Compact 4.1 (5.0) -> 3.9 (5.0) MB, 2.1 / 0.0 ms  allocation failure;",
                "195 ms: Scavenge 4.0 (5.0) -> 3.9 (5.0) MB, 0.3 / 0.0 ms  task;",
            ]
        );
        assert!(gc_lines(b"").is_empty());
        assert!(gc_lines(b"[no pid here] 12 ms").is_empty());
    }
}
