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
use std::collections::{BTreeMap, HashSet};

/// One V8 heap page (MemoryChunk).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
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
    /// Spaces (owner addresses) whose page list runs into memory missing from the dump; their
    /// pages are all kept.
    pub cut_lists: Vec<Address>,
    /// Pages that a space's page list names but whose memory is not in the dump (a truncated
    /// core, or one written without some mappings), by space.
    pub missing: Vec<MissingPages>,
    /// Page-aligned addresses examined.
    pub candidates: u64,
}

/// Pages of one space that its page list names but the dump does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct MissingPages {
    /// Space name.
    pub space: String,
    /// Pages the list names whose memory is not in the dump.
    pub pages: u64,
    /// The list could not be followed past a missing page (its link is in the missing
    /// memory): more pages may be missing than `pages` says.
    pub at_least: bool,
}

/// Per-space totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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

/// How much of a segment the page scan passes before it lets the pages it read go.
const RELEASE_EVERY: u64 = 32 << 20;

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
        let mut released = seg.vaddr.0;
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
            // Each probe paged in the file around it (a fault maps up to 2 MiB of the core):
            // let the pages go as the scan moves on, so that opening a large core does not
            // leave most of it resident (the main heap is one segment on Node 18-22).
            if a - released >= RELEASE_EVERY {
                dump.release(Address(released), a - released);
                released = a;
            }
        }
        dump.release(Address(released), end.saturating_sub(released));
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
    let mut missing = Vec::new();
    let mut cut_lists = Vec::new();
    let found: HashSet<Address> = mine.iter().map(|p| p.base).collect();
    let mut owners: BTreeMap<Address, i32> = BTreeMap::new();
    for p in mine.iter().filter(|p| p.owner.0 != 0) {
        owners.insert(p.owner, p.space_id.unwrap_or(-1));
    }
    let walk = ListWalk {
        mem: space,
        dump,
        l,
        align,
        found: &found,
        limit: mine.len() + 1,
    };
    for (&owner, &id) in &owners {
        let r = walk.walk(owner, &mut listed);
        if r.cut {
            cut_lists.push(owner);
        } else if !r.ok {
            unwalkable.push(owner);
        }
        if r.missing > 0 {
            missing.push(MissingPages {
                space: space_name(table.spaces, id),
                pages: r.missing,
                at_least: r.cut,
            });
        }
    }
    // A space none of whose pages is in the dump has no page naming its owner: find the
    // owners in the Heap's table of spaces, located by the owners the found pages name.
    for (id, owner) in space_table(space, heap, &owners) {
        if owners.contains_key(&owner) || id as usize >= table.spaces.len() {
            continue;
        }
        let r = walk.walk(owner, &mut HashSet::new());
        if r.missing > 0 && r.first_is_page {
            missing.push(MissingPages {
                space: space_name(table.spaces, id),
                pages: r.missing,
                at_least: r.cut,
            });
        }
    }
    missing.sort_by(|a: &MissingPages, b| a.space.cmp(&b.space));
    let (pages, unlisted): (Vec<Page>, Vec<Page>) = mine.into_iter().partition(|p| {
        p.owner.0 == 0
            || listed.contains(&p.metadata)
            || unwalkable.contains(&p.owner)
            || cut_lists.contains(&p.owner)
    });
    PageScan {
        pages,
        heap,
        other_heap_pages: other,
        unlisted_pages: unlisted,
        unwalkable_lists: unwalkable,
        cut_lists,
        missing,
        candidates,
    }
}

fn space_name(spaces: &[&str], id: i32) -> String {
    usize::try_from(id)
        .ok()
        .and_then(|i| spaces.get(i))
        .map(|s| s.to_string())
        .unwrap_or_else(|| format!("unknown_space({id})"))
}

/// What following one space's page list found.
struct ListResult {
    /// The list ended with a null link.
    ok: bool,
    /// Pages it names whose memory is not in the dump.
    missing: u64,
    /// It stopped at a link inside missing memory.
    cut: bool,
    /// Its first element is shaped like a page (aligned): a list, not an unrelated word.
    first_is_page: bool,
}

struct ListWalk<'a> {
    mem: &'a dyn Memory,
    dump: &'a dyn Dump,
    l: &'a PageLayout,
    align: u64,
    found: &'a HashSet<Address>,
    /// At most this many links are followed (more than the pages found: not a list).
    limit: usize,
}

impl ListWalk<'_> {
    fn present(&self, a: Address) -> bool {
        !self.dump.data_ranges(a, 64).is_empty()
    }

    /// The page base of list element `m` (a page, or its metadata from V8 13), if readable.
    fn base_of(&self, m: Address) -> Option<Address> {
        match self.l.metadata {
            MetadataLoc::InPage | MetadataLoc::InPageSelfPointer(_) => Some(m),
            MetadataLoc::Pointer(_) => {
                let area = self.mem.read_u64(m.wrapping_add(self.l.area_start)).ok()?;
                Some(Address(area & !(self.align - 1)))
            }
        }
    }

    fn walk(&self, owner: Address, listed: &mut HashSet<Address>) -> ListResult {
        let mut r = ListResult {
            ok: false,
            missing: 0,
            cut: false,
            first_is_page: false,
        };
        let mut seen = 0usize;
        let mut md = self
            .mem
            .read_addr(owner.wrapping_add(self.l.space_list_front));
        while let Ok(m) = md {
            if m.0 == 0 {
                r.ok = seen > 0;
                break;
            }
            if seen >= self.limit + (1 << 16) || !listed.insert(m) {
                break; // a cycle or a list longer than the pages found: not a list we understand
            }
            let base = self.base_of(m);
            if seen == 0 {
                r.first_is_page = base.is_some_and(|b| b.0 != 0 && b.0 % self.align == 0);
                if !r.first_is_page {
                    break;
                }
            }
            seen += 1;
            match base {
                Some(b) if self.found.contains(&b) => {}
                Some(b) if !self.present(b) => r.missing += 1,
                // Metadata in missing memory (V8 13+): its page is not known to be there.
                None if !self.present(m) => {
                    r.missing += 1;
                    r.cut = true;
                    break;
                }
                _ => {}
            }
            md = self.mem.read_addr(m.wrapping_add(self.l.list_next));
            if md.is_err() && !self.present(m.wrapping_add(self.l.list_next)) {
                r.cut = true;
            }
            // Reading the link mapped up to 2 MiB of the core around it: let it go, or the
            // walk of a large heap's lists leaves most of the heap resident.
            self.dump.release(m, self.l.list_next + 8);
        }
        r
    }
}

/// The Heap's `space_[]` table (id -> space owner), found as the run of words in the Heap
/// object at which the owners the found pages name sit at their space ids. Needs two of them
/// to agree.
fn space_table(
    mem: &dyn Memory,
    heap: Address,
    owners: &BTreeMap<Address, i32>,
) -> Vec<(i32, Address)> {
    const HEAP_WORDS: u64 = 4096;
    let by_id: BTreeMap<i32, Address> = owners.iter().map(|(a, id)| (*id, *a)).collect();
    let max_id = by_id.keys().copied().max().unwrap_or(0).clamp(0, 32) as u64;
    let Some(words) = mem
        .read_vec(heap, ((HEAP_WORDS + max_id + 1) * 8) as usize)
        .ok()
    else {
        return Vec::new();
    };
    let word = |k: u64| -> u64 {
        let o = (k * 8) as usize;
        words
            .get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
            .unwrap_or(0)
    };
    let mut best: Option<(u64, usize)> = None;
    let mut tie = false;
    for k in 0..HEAP_WORDS {
        let hits = by_id
            .iter()
            .filter(|(id, a)| **id >= 0 && word(k + **id as u64) == a.0)
            .count();
        match best {
            Some((_, h)) if hits == h && hits >= 2 => tie = true,
            Some((_, h)) if hits <= h => {}
            _ if hits >= 2 => {
                best = Some((k, hits));
                tie = false;
            }
            _ => {}
        }
    }
    match best {
        Some((k, _)) if !tie => (0..=32u64)
            .map(|id| (id as i32, Address(word(k + id))))
            .filter(|(_, a)| a.0 != 0 && a.0 % 8 == 0)
            .collect(),
        _ => Vec::new(),
    }
}
