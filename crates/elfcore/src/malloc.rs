//! glibc's malloc heaps in a process image: where they are, which of their chunks are in use
//! and which are free.
//!
//! A pointer-sized word in freed malloc memory is stale: it may still point at an object the
//! program once held, and a conservative scan that reads it as a reference keeps that object
//! "alive". Knowing the free chunks lets such a scan skip them; knowing the heaps lets a memory
//! account say how much native memory malloc holds.
//!
//! The layout is glibc's (`malloc/malloc.c`, `malloc/arena.c`) on 64-bit Linux, stable since
//! glibc 2.26:
//! - a chunk is `{prev_size: u64, size: u64, ...}`; the low three bits of `size` are flags
//!   (PREV_INUSE 1, IS_MMAPPED 2, NON_MAIN_ARENA 4) and sizes are multiples of 16. A chunk is
//!   free when the next chunk's PREV_INUSE bit is clear; the last chunk of a heap is the "top"
//!   chunk, free space not yet handed out. (Chunks in the tcache and fastbins stay marked in
//!   use: they are not found here.)
//! - the main arena's heap is the brk area, chunks from its first byte to its end;
//! - other arenas live in mappings aligned to 64 MiB that start with a `heap_info
//!   {ar_ptr, prev, size, mprotect_size, ...}`; an arena's first heap holds its `malloc_state`
//!   right after the `heap_info`, and the chunks follow.
//!
//! Nothing is trusted that does not check out: a heap counts only when its chunk walk lands
//! exactly on its end, so a mapping that merely looks like a heap adds nothing.

use crate::dump::Dump;
use crate::memory::{Address, Memory};
use serde::Serialize;

/// glibc's HEAP_MAX_SIZE on 64-bit: non-main arena heaps are aligned to it.
const HEAP_MAX: u64 = 64 << 20;
/// `sizeof(struct malloc_state)` on x86-64 and AArch64 since glibc 2.26 (2200), give or take
/// the versions' padding: the first chunk is looked for around it.
const MALLOC_STATE_SIZES: [u64; 3] = [2200, 2192, 2208];
/// Size of each of the two fencepost chunks that close a heap glibc could not extend in place.
const FENCEPOST: u64 = 16;
/// Chunks walked at most in one heap (a 64 GiB heap of 32-byte chunks).
const MAX_CHUNKS: u64 = 1 << 31;

/// Which kind of malloc heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HeapKind {
    /// The main arena's brk heap.
    Main,
    /// A heap of another arena (threads' arenas).
    Arena,
}

/// One malloc heap whose chunks were walked.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct MallocHeap {
    /// Its kind.
    pub kind: HeapKind,
    /// First byte of the heap (of its mapping).
    pub start: u64,
    /// End of the heap (exclusive).
    pub end: u64,
    /// Chunks in use (tcache and fastbin chunks included).
    pub chunks_in_use: u64,
    /// Bytes of the chunks in use, headers included.
    pub in_use: u64,
    /// Free chunks, the top chunk included.
    pub free_chunks: u64,
    /// Bytes of free chunks.
    pub free: u64,
}

/// The malloc heaps found in a process image and their free chunks.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct Malloc {
    /// The heaps whose walk checked out, by address.
    pub heaps: Vec<MallocHeap>,
    /// Mappings that looked like heaps but whose walk did not land on their end.
    pub rejected: u64,
    /// Free bytes as (start, end) ranges: each free chunk's body (after its header), sorted.
    #[serde(skip)]
    free_ranges: Vec<(u64, u64)>,
}

impl Malloc {
    /// Find and walk the malloc heaps of `dump` (see the module docs).
    pub fn scan(dump: &dyn Dump) -> Malloc {
        let mut out = Malloc::default();
        for s in dump.segments() {
            if !s.writable() || s.present < 4096 || dump.mapped_file_at(s.vaddr).is_some() {
                continue;
            }
            let (mut start, end) = (s.vaddr.0, s.vaddr.0 + s.present.min(s.memsz));
            let mem = dump.memory();
            // One segment can hold several mappings (the kernel merges neighbouring anonymous
            // ones): main-arena regions that end in fenceposts before the segment does, with
            // chunks malloc mapped for single large allocations between them. Each step moves
            // on by at least a page.
            while start < end {
                if let Some(size) = mmapped_chunk(mem, start, end) {
                    start += size;
                    continue;
                }
                let found = if start % HEAP_MAX == 0 {
                    arena_heap(mem, start, end).or_else(|| main_heap(mem, start, end))
                } else {
                    main_heap(mem, start, end)
                };
                match found {
                    Some(Walk::Heap(h, free)) => {
                        let next = h.end.div_ceil(4096) * 4096;
                        out.heaps.push(h);
                        out.free_ranges.extend(free);
                        if next > start {
                            start = next;
                            continue;
                        }
                    }
                    Some(Walk::Rejected) => out.rejected += 1,
                    None => {}
                }
                break;
            }
            // What was read (the segment's first words, at least, which map up to 2 MiB of a
            // mapped core: on a heap of 256 KiB pages, most of it) is not needed again soon.
            dump.release(s.vaddr, s.present.min(s.memsz));
        }
        out.free_ranges.sort_unstable();
        out
    }

    /// Free memory as sorted, disjoint (start, end) ranges.
    pub fn free_ranges(&self) -> &[(u64, u64)] {
        &self.free_ranges
    }

    /// Whether `addr` lies in a free chunk's body.
    pub fn is_free(&self, addr: u64) -> bool {
        let k = self.free_ranges.partition_point(|r| r.1 <= addr);
        self.free_ranges.get(k).is_some_and(|r| r.0 <= addr)
    }

    /// Bytes of free chunks in all heaps.
    pub fn free_bytes(&self) -> u64 {
        self.heaps.iter().map(|h| h.free).sum()
    }

    /// Bytes of chunks in use in all heaps.
    pub fn in_use_bytes(&self) -> u64 {
        self.heaps.iter().map(|h| h.in_use).sum()
    }
}

enum Walk {
    Heap(MallocHeap, Vec<(u64, u64)>),
    Rejected,
}

/// The size of the chunk malloc mapped for one large allocation at page `a`, if one is there:
/// `{prev_size (its alignment padding, under a page), size | IS_MMAPPED}`, whole pages,
/// inside `..end`.
fn mmapped_chunk(mem: &dyn Memory, a: u64, end: u64) -> Option<u64> {
    let prev = u64_at(mem, a)?;
    let size = u64_at(mem, a + 8)?;
    let bytes = size & !7;
    (a.is_multiple_of(4096)
        && prev < 4096
        && size & 2 != 0
        && size & 4 == 0
        && bytes >= 4096
        && bytes % 4096 == 0
        && a.checked_add(bytes)? <= end)
        .then_some(bytes)
}

fn u64_at(mem: &dyn Memory, a: u64) -> Option<u64> {
    mem.read_u64(Address(a)).ok()
}

/// The main arena's heap, if the mapping `start..end` is one: its first chunk starts at its
/// first byte (`prev_size` 0, PREV_INUSE set).
fn main_heap(dump: &dyn Memory, start: u64, end: u64) -> Option<Walk> {
    let prev = u64_at(dump, start)?;
    let size = u64_at(dump, start + 8)?;
    if prev != 0 || size & 1 == 0 || size & 2 != 0 || (size & !7) < 32 || (size & !7) % 16 != 0 {
        return None;
    }
    if (size & !7) >= end - start {
        return None;
    }
    Some(walk(dump, HeapKind::Main, start, start, end).unwrap_or(Walk::Rejected))
}

/// A non-main arena's heap at a 64 MiB boundary, if `start` holds a plausible `heap_info`.
fn arena_heap(dump: &dyn Memory, start: u64, end: u64) -> Option<Walk> {
    let ar_ptr = u64_at(dump, start)?;
    let size = u64_at(dump, start + 16)?;
    let mprotect = u64_at(dump, start + 24)?;
    // `ar_ptr` points at an arena's malloc_state (8-aligned, never in the first page): a
    // mapping that only happens to be 64 MiB-aligned (a V8 page) is not a heap at all.
    if ar_ptr < 4096 || ar_ptr % 8 != 0 {
        return None;
    }
    if size == 0 || size > HEAP_MAX || size % 4096 != 0 || mprotect < size || start + size > end {
        return None;
    }
    let heap_end = start + size;
    let align = |p: u64| (p + 15) & !15;
    let mut firsts: Vec<u64> = Vec::new();
    if ar_ptr > start && ar_ptr < start + 0x100 {
        // The arena's first heap: the malloc_state follows the heap_info.
        firsts.extend(MALLOC_STATE_SIZES.iter().map(|&n| align(ar_ptr + n)));
    } else {
        // A later heap of the arena: chunks right after the heap_info.
        firsts.extend([align(start + 0x20), align(start + 0x30)]);
    }
    for first in firsts {
        if let Some(w) = walk(dump, HeapKind::Arena, start, first, heap_end) {
            return Some(w);
        }
    }
    Some(Walk::Rejected)
}

/// Walk chunks from `first` to `end`; `None` unless the walk lands exactly on `end`.
fn walk(dump: &dyn Memory, kind: HeapKind, start: u64, first: u64, end: u64) -> Option<Walk> {
    let mut h = MallocHeap {
        kind,
        start,
        end,
        chunks_in_use: 0,
        in_use: 0,
        free_chunks: 0,
        free: 0,
    };
    let mut free = Vec::new();
    let mut p = first;
    let mut size = u64_at(dump, p + 8)? & !7;
    for _ in 0..MAX_CHUNKS {
        // A heap whose top could not grow in place (the next mapping was in the way) ends in
        // two fenceposts, 16-byte chunks marked PREV_INUSE (glibc's sysmalloc), and the arena
        // goes on elsewhere. Seen on a Node 18 core whose brk area was followed by a mapping.
        // A thread arena's heap that was full ends the same way when the arena moved on to a
        // new heap, but its second fencepost is a bare header of size 0 (PREV_INUSE set) in
        // the last 16 to 31 bytes: glibc rounds the old top down by MINSIZE first. Seen on
        // Node 18 cores with zlib streams filling several 64 MiB heaps of one arena.
        // A main-arena region that glibc could not extend (brk, or an mmapped stand-in for
        // it, blocked by the next mapping) ends in two fenceposts and the arena goes on in a
        // new region; the core may merge the next mapping into the same segment, so the
        // region ends there whatever follows. (No chunk is smaller than 32 bytes: a 16-byte
        // header is only ever a fencepost.)
        if size == FENCEPOST
            && kind == HeapKind::Main
            && u64_at(dump, p + FENCEPOST + 8) == Some(FENCEPOST | 1)
        {
            // The region's mapping goes on to the page's end (glibc rounds the old top down to
            // 16 bytes before it places the fenceposts).
            h.end = ((p + 2 * FENCEPOST).div_ceil(4096) * 4096).min(end);
            return Some(Walk::Heap(h, free));
        }
        if size == FENCEPOST {
            if let Some(n) = end
                .checked_sub(p)
                .filter(|n| (2 * FENCEPOST..3 * FENCEPOST).contains(n))
            {
                let second = u64_at(dump, p + FENCEPOST + 8)?;
                if (n == 2 * FENCEPOST && second == FENCEPOST | 1) || second == 1 {
                    return Some(Walk::Heap(h, free));
                }
                if n == 2 * FENCEPOST {
                    return None;
                }
            }
        }
        if size < 32 || size % 16 != 0 || p.checked_add(size)? > end {
            return None;
        }
        let next = p + size;
        if next == end {
            // The top chunk: free space at the heap's end.
            h.free_chunks += 1;
            h.free += size;
            free.push((p + 16, next));
            return Some(Walk::Heap(h, free));
        }
        if next + 16 > end {
            return None;
        }
        let next_size = u64_at(dump, next + 8)?;
        if next_size & 1 == 0 {
            h.free_chunks += 1;
            h.free += size;
            free.push((p + 16, next));
        } else {
            h.chunks_in_use += 1;
            h.in_use += size;
        }
        p = next;
        size = next_size & !7;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::ByteImage;

    /// A fake brk heap: chunks of the given (size, in use) at `base`, then a top chunk.
    fn image(chunks: &[(u64, bool)], top: u64) -> (Vec<u8>, u64) {
        let total: u64 = chunks.iter().map(|c| c.0).sum::<u64>() + top;
        let mut bytes = vec![0u8; total as usize];
        let mut at = 0u64;
        let mut prev_in_use = true;
        for &(size, used) in chunks.iter().chain(std::iter::once(&(top, true))) {
            let word = size | u64::from(prev_in_use);
            bytes[at as usize + 8..at as usize + 16].copy_from_slice(&word.to_le_bytes());
            // A stale "pointer" in every chunk body.
            if at as usize + 24 <= bytes.len() {
                bytes[at as usize + 16..at as usize + 24]
                    .copy_from_slice(&0x1234_5678_9abc_u64.to_le_bytes());
            }
            prev_in_use = used;
            at += size;
        }
        (bytes, total)
    }

    #[test]
    fn a_walk_that_lands_on_the_end_finds_the_free_chunks() {
        let base = 0x10_0000;
        let (bytes, total) = image(&[(0x290, true), (0x40, false), (0x100, true)], 0x1000);
        let img = ByteImage::new().with(Address(base), bytes);
        let Some(Walk::Heap(h, free)) = walk(&img, HeapKind::Main, base, base, base + total) else {
            panic!("the walk must check out");
        };
        assert_eq!((h.chunks_in_use, h.in_use), (2, 0x390));
        assert_eq!((h.free_chunks, h.free), (2, 0x1040));
        assert_eq!(
            free,
            vec![
                (base + 0x290 + 16, base + 0x2d0),
                (base + 0x3d0 + 16, base + total)
            ]
        );
    }

    #[test]
    fn a_heap_closed_by_fenceposts_checks_out() {
        let base = 0x10_0000;
        // Chunks, then the old top's remainder (free), then two 16-byte fenceposts.
        let (mut bytes, total) = image(&[(0x290, true), (0x40, true), (0x30, false)], 0x20);
        let fence = (0x290 + 0x40 + 0x30) as usize;
        bytes[fence + 8..fence + 16].copy_from_slice(&0x10u64.to_le_bytes());
        bytes[fence + 24..fence + 32].copy_from_slice(&0x11u64.to_le_bytes());
        let img = ByteImage::new().with(Address(base), bytes.clone());
        let Some(Walk::Heap(h, free)) = walk(&img, HeapKind::Main, base, base, base + total) else {
            panic!("the walk must check out");
        };
        assert_eq!((h.chunks_in_use, h.in_use), (2, 0x2d0));
        assert_eq!((h.free_chunks, h.free), (1, 0x30));
        assert_eq!(free, vec![(base + 0x2d0 + 16, base + 0x300)]);
        // A second "fencepost" that is not one: the walk does not check out.
        bytes[fence + 24..fence + 32].copy_from_slice(&0x21u64.to_le_bytes());
        let img = ByteImage::new().with(Address(base), bytes);
        assert!(walk(&img, HeapKind::Main, base, base, base + total).is_none());
    }

    #[test]
    fn a_main_region_closed_by_fenceposts_mid_segment_ends_there() {
        // A main-arena region (chunks, fenceposts) and, in the same segment, whatever the
        // kernel merged after it: the heap ends at its fenceposts.
        let base = 0x10_0000;
        let (mut bytes, _) = image(&[(0x290, true), (0x40, true)], 0x20);
        let fence = 0x2d0usize;
        bytes[fence + 8..fence + 16].copy_from_slice(&0x11u64.to_le_bytes());
        bytes[fence + 24..fence + 32].copy_from_slice(&0x11u64.to_le_bytes());
        bytes.resize(0x3000, 0x5a);
        let img = ByteImage::new().with(Address(base), bytes);
        let Some(Walk::Heap(h, _)) = walk(&img, HeapKind::Main, base, base, base + 0x3000) else {
            panic!("the walk must check out");
        };
        assert_eq!(h.end, base + 0x1000);
        assert_eq!((h.chunks_in_use, h.in_use), (2, 0x2d0));
    }

    #[test]
    fn a_full_arena_heap_closed_by_a_zero_fencepost_checks_out() {
        let base = 0x10_0000;
        // Chunks, the old top's remainder (free), a 16-byte fencepost, then a size-0 header
        // (PREV_INUSE) 16 bytes before the end (glibc's sysmalloc for a non-main arena).
        let (mut bytes, total) = image(&[(0x290, true), (0x40, true), (0x30, false)], 0x20);
        let fence = (0x290 + 0x40 + 0x30) as usize;
        bytes[fence + 8..fence + 16].copy_from_slice(&0x10u64.to_le_bytes());
        bytes[fence + 24..fence + 32].copy_from_slice(&0x1u64.to_le_bytes());
        let img = ByteImage::new().with(Address(base), bytes.clone());
        let Some(Walk::Heap(h, _)) = walk(&img, HeapKind::Arena, base, base, base + total) else {
            panic!("the walk must check out");
        };
        assert_eq!((h.chunks_in_use, h.free_chunks), (2, 1));
        // A header that is not a fencepost's: the walk does not check out.
        bytes[fence + 24..fence + 32].copy_from_slice(&0x3u64.to_le_bytes());
        let img = ByteImage::new().with(Address(base), bytes);
        assert!(walk(&img, HeapKind::Arena, base, base, base + total).is_none());
    }

    #[test]
    fn a_walk_that_misses_the_end_counts_nothing() {
        let base = 0x10_0000;
        let (bytes, total) = image(&[(0x290, true), (0x40, false)], 0x1000);
        let img = ByteImage::new().with(Address(base), bytes);
        assert!(walk(&img, HeapKind::Main, base, base, base + total + 0x10).is_none());
        assert!(walk(&img, HeapKind::Main, base, base + 8, base + total).is_none());
    }
}
