//! Finding V8 heap pages in a core.
//!
//! Nothing in the metadata lists the heap's pages, and walking V8's space lists would need the
//! layout of every space class. Instead every page-aligned address inside the dumped memory is
//! tried as a page header: V8 allocates every page (and every large-object chunk) at a 256 KiB
//! boundary, and a real header passes checks that random data does not (sizes a multiple of
//! 4 KiB, an object area inside the chunk and near its start, an owner whose space id is in range,
//! the same `Heap*` as the other pages). On Node 18-24 cores this finds every page and nothing
//! else (see the integration tests, which compare with V8's own statistics).

use crate::meta::tables::{MetadataLoc, PageLayout, VersionTable};
use elfcore::{Address, Dump, Memory};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// One V8 heap page (MemoryChunk).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page {
    /// Page start (the chunk header).
    pub base: Address,
    /// Committed bytes of the chunk.
    pub size: u64,
    /// Chunk flags word.
    pub flags: u64,
    /// The `Heap*` it belongs to (0 for the shared read-only page).
    pub heap: Address,
    /// First object.
    pub area_start: Address,
    /// End of the object area.
    pub area_end: Address,
    /// Owning space object (0 for the read-only page).
    pub owner: Address,
    /// `AllocationSpace` id read from the owner, if readable.
    pub space_id: Option<i32>,
    /// Space name (`old_space`, ...), or `unknown_space(N)`.
    pub space: String,
    /// Allocated bytes as the page header keeps them.
    pub allocated_bytes: u64,
    /// Highest allocation top seen on the page, as an offset from the page (the area start's
    /// offset on a page nothing was allocated on yet, beyond an open allocation buffer).
    pub high_water_mark: u64,
    /// Where the page's metadata is (the page itself before V8 13).
    pub metadata: Address,
}

/// The result of the page scan.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PageScan {
    /// Pages of the main heap and the read-only page, sorted by address.
    pub pages: Vec<Page>,
    /// The main `Heap*` (the one owning most pages).
    pub heap: Address,
    /// Pages with a valid header that belong to other heaps (worker threads' isolates).
    pub other_heap_pages: Vec<Page>,
    /// Pages of the main heap with a valid header that are not in their space's page list:
    /// released to V8's page pool or awaiting unmapping. Not part of the heap.
    pub unlisted_pages: Vec<Page>,
    /// Spaces (owner addresses) whose page list could not be walked; their pages are all kept.
    pub unwalkable_lists: Vec<Address>,
    /// Page-aligned addresses examined.
    pub candidates: u64,
}

/// Per-space totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SpaceTotals {
    /// Number of pages.
    pub pages: u64,
    /// Committed bytes (sum of chunk sizes).
    pub committed: u64,
    /// Bytes of object area.
    pub area: u64,
}

impl PageScan {
    /// Totals per space name, sorted by name.
    pub fn per_space(&self) -> BTreeMap<String, SpaceTotals> {
        let mut m: BTreeMap<String, SpaceTotals> = BTreeMap::new();
        for p in &self.pages {
            let t = m.entry(p.space.clone()).or_default();
            t.pages += 1;
            t.committed += p.size;
            t.area += p.area_end.0 - p.area_start.0;
        }
        m
    }

    /// The page containing `addr`.
    pub fn page_of(&self, addr: Address) -> Option<&Page> {
        let i = self
            .pages
            .partition_point(|p| p.base <= addr)
            .checked_sub(1)?;
        let p = &self.pages[i];
        (addr.0 < p.base.0 + p.size).then_some(p)
    }
}

fn read_header(mem: &dyn Memory, base: Address, l: &PageLayout, spaces: &[&str]) -> Option<Page> {
    let md = match l.metadata {
        MetadataLoc::InPage => base,
        MetadataLoc::InPageSelfPointer(off) => {
            if mem.read_addr(base.wrapping_add(off)).ok()? != base {
                return None;
            }
            base
        }
        MetadataLoc::Pointer(off) => mem.read_addr(base.wrapping_add(off)).ok()?,
    };
    let rd = |off: u64| mem.read_u64(md.wrapping_add(off)).ok();
    let flags = mem.read_u64(base.wrapping_add(l.flags)).ok()?;
    let size = rd(l.size)?;
    let heap = Address(rd(l.heap)?);
    let area_start = Address(rd(l.area_start)?);
    let area_end = Address(rd(l.area_end)?);
    let owner = Address(rd(l.owner)?);
    if !(size >= 0x1000 && size % 0x1000 == 0 && size < 1 << 40) {
        return None;
    }
    if !(base < area_start
        && area_start < area_end
        && area_end.0 <= base.0 + size
        && area_start.0 - base.0 < 0x10000)
    {
        return None;
    }
    let read_only = heap.0 == 0 && owner.0 == 0;
    let space_id = if read_only {
        Some(0)
    } else {
        mem.read_i32(owner.wrapping_add(l.space_id_in_owner)).ok()
    };
    // An unknown space id means the bytes only look like a header (stale page metadata in
    // the C++ heap has been seen): not a page.
    let space = match space_id {
        Some(id) if (id as usize) < spaces.len() && id >= 0 => spaces[id as usize].to_string(),
        _ => return None,
    };
    if !read_only && (heap.0 == 0 || owner.0 == 0) {
        return None;
    }
    Some(Page {
        base,
        size,
        flags,
        heap,
        area_start,
        area_end,
        owner,
        space_id,
        space,
        allocated_bytes: rd(l.allocated_bytes).unwrap_or(0),
        high_water_mark: rd(l.high_water_mark).unwrap_or(0),
        metadata: md,
    })
}

/// Scan every page-aligned address of the dump's memory for V8 page headers.
pub fn find_pages(dump: &dyn Dump, table: &VersionTable) -> PageScan {
    let l = &table.page;
    let align = 1u64 << l.page_size_log2;
    let mut found: Vec<Page> = Vec::new();
    let mut candidates = 0u64;
    let mut skip_until = 0u64;
    let space = dump.memory();
    for seg in dump.segments().iter().filter(|s| s.present > 0) {
        let end = seg.vaddr.0 + seg.present;
        let mut a = (seg.vaddr.0 + align - 1) & !(align - 1);
        while a + 64 <= end {
            // A header in a sparse hole of the core would be zeros: do not touch (and so
            // page in) the hole to find out.
            let in_hole = dump.data_ranges(Address(a), 64).is_empty();
            if a >= skip_until && !in_hole {
                candidates += 1;
                if let Some(p) = read_header(space, Address(a), l, table.spaces) {
                    skip_until = a + p.size;
                    found.push(p);
                }
            }
            a += align;
        }
    }
    // The main heap owns the most pages; the read-only page (heap 0) is shared by all.
    let mut counts: BTreeMap<u64, usize> = BTreeMap::new();
    for p in found.iter().filter(|p| p.heap.0 != 0) {
        *counts.entry(p.heap.0).or_default() += 1;
    }
    let heap = counts
        .iter()
        .max_by_key(|(h, n)| (**n, std::cmp::Reverse(**h)))
        .map(|(h, _)| Address(*h))
        .unwrap_or_default();
    let (mine, other): (Vec<Page>, Vec<Page>) = found
        .into_iter()
        .partition(|p| p.heap == heap || p.heap.0 == 0);

    // A page header outlives the page's membership: V8 pools released pages and unmaps them
    // later. What is in the heap is what each space's page list holds.
    let mut listed: HashSet<Address> = HashSet::new();
    let mut unwalkable = Vec::new();
    let owners: BTreeSet<Address> = mine
        .iter()
        .filter(|p| p.owner.0 != 0)
        .map(|p| p.owner)
        .collect();
    for owner in owners {
        let limit = mine.len() + 1;
        let mut seen = 0usize;
        let mut md = space.read_addr(owner.wrapping_add(l.space_list_front));
        let mut ok = false;
        while let Ok(m) = md {
            if m.0 == 0 {
                ok = seen > 0;
                break;
            }
            if seen >= limit || !listed.insert(m) {
                break; // a cycle or a list longer than the pages found: not a list we understand
            }
            seen += 1;
            md = space.read_addr(m.wrapping_add(l.list_next));
        }
        if !ok {
            unwalkable.push(owner);
        }
    }
    let (pages, unlisted): (Vec<Page>, Vec<Page>) = mine.into_iter().partition(|p| {
        p.owner.0 == 0 || listed.contains(&p.metadata) || unwalkable.contains(&p.owner)
    });
    PageScan {
        pages,
        heap,
        other_heap_pages: other,
        unlisted_pages: unlisted,
        unwalkable_lists: unwalkable,
        candidates,
    }
}
