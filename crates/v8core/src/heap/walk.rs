//! Walking the heap object by object.
//!
//! A V8 page is a run of objects from `area_start` to `area_end`: each starts with a map word,
//! and its size follows from the map ([`crate::meta::types::SizeRule`] for variable-size types). Free
//! memory is itself covered by FreeSpace and filler objects. Where a page is not iterable (the
//! unused tail of a linear allocation buffer in a live process, or damage), the walker records a
//! gap and resumes at the next word that is a map pointer; nothing is dropped silently.

use crate::heap::pages::Page;
use crate::meta::tables::CodeSize;
use crate::meta::types::{InstanceTypes, SizeRule};
use crate::process::Process;
use elfcore::{Address, Memory};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;
use std::collections::BTreeMap;

/// One object found by the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapObject {
    /// Untagged start address.
    pub addr: Address,
    /// Its map (tagged).
    pub map: u64,
    /// Instance type.
    pub instance_type: u16,
    /// Size in bytes (`HeapObject::Size()`).
    pub size: u64,
}

impl HeapObject {
    /// The tagged pointer to this object.
    pub fn tagged(&self) -> u64 {
        self.addr.0 | 1
    }
}

/// A stretch of a page the walk could not parse as objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Gap {
    /// Where it starts.
    pub start: Address,
    /// Its length in bytes.
    pub len: u64,
    /// Why the walk stopped there.
    pub why: GapKind,
}

/// Why the walk could not parse a stretch of a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GapKind {
    /// A zero word where an object should start: the unused part of an allocation buffer in
    /// a live heap (normal).
    Zero,
    /// A word that is not a map, or a map whose object size cannot be computed or overruns the
    /// page: damage, or a layout that does not fit this V8.
    NotAnObject {
        /// The word.
        word: u64,
    },
    /// The page's bytes are not readable (not in the dump).
    Unreadable {
        /// Why.
        error: String,
    },
}

/// Totals of a walk over one space (or the whole heap).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct WalkTotals {
    /// Objects, free-space and filler objects excluded.
    pub objects: u64,
    /// Their bytes.
    pub object_bytes: u64,
    /// Bytes in FreeSpace and filler objects.
    pub free_bytes: u64,
    /// Stretches skipped because they could not be parsed.
    pub gaps: u64,
    /// Their bytes.
    pub gap_bytes: u64,
    /// Bytes of object area examined.
    pub area_bytes: u64,
    /// Bytes of new-space pages of the semispace not in use (stale copies, not walked).
    pub from_space_bytes: u64,
}

impl WalkTotals {
    /// Add another set of totals to this one.
    pub fn add(&mut self, o: &WalkTotals) {
        self.objects += o.objects;
        self.object_bytes += o.object_bytes;
        self.free_bytes += o.free_bytes;
        self.gaps += o.gaps;
        self.gap_bytes += o.gap_bytes;
        self.area_bytes += o.area_bytes;
        self.from_space_bytes += o.from_space_bytes;
    }
}

#[derive(Debug, Clone, Copy)]
struct MapInfo {
    instance_type: u16,
    words: u8,
}

/// Walks pages with caches keyed by map.
pub struct Walker<'p> {
    p: &'p Process,
    types: &'p InstanceTypes,
    meta_maps: FxHashSet<u64>,
    maps: FxHashMap<u64, Option<MapInfo>>,
    last_map: (u64, Option<MapInfo>),
    free_types: [u16; 2],
    /// The page being walked, when the core has it in one piece: reads inside it need no
    /// lookup of the backing region.
    view: (u64, &'p [u8]),
}

impl<'p> Walker<'p> {
    /// A walker for `p`.
    pub fn new(p: &'p Process) -> Walker<'p> {
        let types = &p.types;
        let free_types = [
            types.value("FREE_SPACE_TYPE").unwrap_or(u16::MAX),
            types.value("FILLER_TYPE").unwrap_or(u16::MAX),
        ];
        Walker {
            p,
            types,
            meta_maps: FxHashSet::default(),
            maps: FxHashMap::default(),
            last_map: (0, None),
            free_types,
            view: (0, &[]),
        }
    }

    /// The `N` bytes at `a`, from the page view when they lie in it.
    #[inline]
    fn bytes<const N: usize>(&self, a: Address) -> Option<[u8; N]> {
        let off = a.0.wrapping_sub(self.view.0) as usize;
        if let Some(b) = self.view.1.get(off..off.wrapping_add(N)) {
            let mut out = [0u8; N];
            out.copy_from_slice(b);
            return Some(out);
        }
        let mut out = [0u8; N];
        self.p.memory().read_at(a, &mut out).ok()?;
        Some(out)
    }

    #[inline]
    fn word(&self, a: Address) -> Option<u64> {
        self.bytes::<8>(a).map(u64::from_le_bytes)
    }

    fn mem(&self) -> &dyn Memory {
        self.p.memory()
    }

    /// Whether `m` (tagged) is a meta map: a Map whose map is itself. V8 12+ has one per native
    /// context besides the read-only one.
    fn is_meta_map(&mut self, m: u64) -> bool {
        if self.meta_maps.contains(&m) {
            return true;
        }
        if m & 3 != 1 {
            return false;
        }
        let ok = self.p.map_of(m).ok() == Some(m)
            && self.p.instance_type_of_map(m).ok() == Some(self.p.layout.map_type);
        if ok {
            self.meta_maps.insert(m);
        }
        ok
    }

    /// The map info of `w` if it is a map pointer.
    #[inline]
    fn map_info(&mut self, w: u64) -> Option<MapInfo> {
        if self.last_map.0 == w && w != 0 {
            return self.last_map.1;
        }
        let info = self.map_info_slow(w);
        self.last_map = (w, info);
        info
    }

    fn map_info_slow(&mut self, w: u64) -> Option<MapInfo> {
        if let Some(i) = self.maps.get(&w) {
            return *i;
        }
        let info = (|| {
            if w & 3 != 1 {
                return None;
            }
            let mm = self.p.map_of(w).ok()?;
            if !self.is_meta_map(mm) {
                return None;
            }
            let instance_type = self.p.instance_type_of_map(w).ok()?;
            let words = self
                .mem()
                .read_u8(Address(
                    w - 1 + self.p.layout.map_instance_size_in_words as u64,
                ))
                .ok()?;
            Some(MapInfo {
                instance_type,
                words,
            })
        })();
        // Only cache positive answers for pointers and negative ones for words that are not
        // tagged pointers at all would be pointless; cache both, the key space is the map words.
        self.maps.insert(w, info);
        info
    }

    fn smi(&self, addr: Address) -> Option<u64> {
        let w = self.word(addr)?;
        let v = self.p.layout.smi_value(w);
        (self.p.layout.is_smi(w) && v >= 0).then_some(v as u64)
    }

    fn u32_at(&self, addr: Address) -> Option<u64> {
        self.bytes::<4>(addr).map(|b| u32::from_le_bytes(b) as u64)
    }

    /// The size of the object at `a` with map info `mi`, or `None` when it cannot be computed.
    fn size_of(&mut self, a: Address, mi: MapInfo, limit: Address) -> Option<u64> {
        if mi.words != 0 {
            return Some(mi.words as u64 * 8);
        }
        let align8 = |x: u64| (x + 7) & !7;
        let at = |off: u64| a.wrapping_add(off);
        let rule = self.types.rule(mi.instance_type)?;
        Some(match rule {
            SizeRule::SmiLength { header } => header + 8 * self.smi(at(8))?,
            SizeRule::NativeContext => 16 + 8 * self.smi(at(8))? + 8,
            SizeRule::PropertyArray => 16 + 8 * (self.smi(at(8))? & 0x3ff),
            SizeRule::ByteArray => align8(16 + self.smi(at(8))?),
            SizeRule::BytecodeArray { header } => align8(header + self.smi(at(8))?),
            SizeRule::FreeSpace { unit } => self.smi(at(8))? * unit,
            SizeRule::SeqString => {
                let len = self.u32_at(at(self.p.layout.string_length as u64))?;
                let one_byte = mi.instance_type & 8 != 0;
                align8(16 + len * if one_byte { 1 } else { 2 })
            }
            SizeRule::BigInt => 16 + 8 * ((self.u32_at(at(8))? >> 1) & 0x3fff_ffff),
            SizeRule::Descriptors { header } => {
                header + 24 * u16::from_le_bytes(self.bytes::<2>(at(8))?) as u64
            }
            SizeRule::PreparseData => align8(16 + self.u32_at(at(8))?) + 8 * self.u32_at(at(12))?,
            SizeRule::CoverageInfo => 16 + 16 * self.u32_at(at(8))?,
            SizeRule::FeedbackMetadata { closure_bytes } => {
                let slots = self.u32_at(at(8))?;
                let closures = if closure_bytes > 0 {
                    self.u32_at(at(12))?
                } else {
                    0
                };
                align8(16 + 4 * slots.div_ceil(6) + closure_bytes * closures)
            }
            SizeRule::FeedbackVector { header } => header + 8 * self.u32_at(at(8))?,
            SizeRule::Code(CodeSize::InCode {
                header,
                instruction_size,
                metadata_size,
            }) => self.p.arch.align_code(
                header + self.u32_at(at(instruction_size))? + self.u32_at(at(metadata_size))?,
            ),
            SizeRule::Code(CodeSize::StreamSizedByCode {
                header,
                code,
                instruction_size,
                metadata_size,
            }) => {
                let c = Address(self.word(at(code))?.wrapping_sub(1));
                self.p.arch.align_code(
                    header
                        + self.u32_at(c.wrapping_add(instruction_size))?
                        + self.u32_at(c.wrapping_add(metadata_size))?,
                )
            }
            SizeRule::Fixed { size } => size,
            SizeRule::Counted { header, per } => header + per * self.u32_at(at(8))?,
            SizeRule::Code(CodeSize::StreamBody { header, body_size }) => {
                self.p.arch.align_code(header + self.u32_at(at(body_size))?)
            }
            SizeRule::Probe => {
                let mut b = at(8);
                while b < limit {
                    let w = self.word(b)?;
                    if self.map_info(w).is_some() {
                        break;
                    }
                    b = b.wrapping_add(8);
                }
                b.0 - a.0
            }
        })
    }

    /// Walk one page, calling `f` for every object (free space and fillers included, so the
    /// caller sees every byte accounted for). Returns the page's totals and its gaps.
    pub fn walk_page(
        &mut self,
        page: &Page,
        mut f: impl FnMut(&HeapObject),
    ) -> (WalkTotals, Vec<Gap>) {
        let mut t = WalkTotals {
            area_bytes: page.area_end.0 - page.area_start.0,
            ..Default::default()
        };
        let mut gaps = Vec::new();
        let end = page.area_end;
        let mut a = page.area_start;
        let area = (end.0 - a.0) as usize;
        self.view = (a.0, self.p.memory().slice(a, area).unwrap_or(&[]));
        while a < end {
            let w = match self.word(a).ok_or(()).or_else(|_| self.mem().read_u64(a)) {
                Ok(w) => w,
                Err(e) => {
                    gaps.push(Gap {
                        start: a,
                        len: end.0 - a.0,
                        why: GapKind::Unreadable {
                            error: e.to_string(),
                        },
                    });
                    break;
                }
            };
            let obj = self.map_info(w).and_then(|mi| {
                let size = self.size_of(a, mi, end)?;
                (size >= 8 && size % 8 == 0 && a.0 + size <= end.0).then_some(HeapObject {
                    addr: a,
                    map: w,
                    instance_type: mi.instance_type,
                    size,
                })
            });
            match obj {
                Some(o) => {
                    if self.free_types.contains(&o.instance_type) {
                        t.free_bytes += o.size;
                    } else {
                        t.objects += 1;
                        t.object_bytes += o.size;
                    }
                    f(&o);
                    a = a.wrapping_add(o.size);
                }
                None => {
                    // Resynchronize at the next word that is a map pointer.
                    let why = if w == 0 {
                        GapKind::Zero
                    } else {
                        GapKind::NotAnObject { word: w }
                    };
                    let start = a;
                    a = a.wrapping_add(8);
                    while a < end {
                        match self.word(a).ok_or(()).or_else(|_| self.mem().read_u64(a)) {
                            Ok(w) if self.map_info(w).is_some() => break,
                            Ok(_) => a = a.wrapping_add(8),
                            Err(_) => {
                                a = end;
                            }
                        }
                    }
                    gaps.push(Gap {
                        start,
                        len: a.0 - start.0,
                        why,
                    });
                }
            }
        }
        self.view = (0, &[]);
        t.gaps = gaps.len() as u64;
        t.gap_bytes = gaps.iter().map(|g| g.len).sum();
        (t, gaps)
    }

    /// Walk every page; totals per space name.
    pub fn walk_all(&mut self, mut f: impl FnMut(&Page, &HeapObject)) -> HeapWalk {
        let mut per_space: BTreeMap<String, WalkTotals> = BTreeMap::new();
        let mut gaps = Vec::new();
        let pages = self.p.pages.pages.clone();
        let from_flag = self.p.table.page.from_page_flag;
        for page in &pages {
            let s = per_space.entry(page.space.clone()).or_default();
            if page.flags & from_flag != 0 {
                s.from_space_bytes += page.area_end.0 - page.area_start.0;
                continue;
            }
            let (t, g) = self.walk_page(page, |o| f(page, o));
            // Walked: its core pages need not stay resident.
            self.p.dump().release(page.base, page.size);
            per_space.entry(page.space.clone()).or_default().add(&t);
            gaps.extend(g);
        }
        HeapWalk { per_space, gaps }
    }
}

/// The result of a whole-heap walk.
#[derive(Debug, Clone, Default, Serialize, schemars::JsonSchema)]
pub struct HeapWalk {
    /// Totals per space.
    pub per_space: BTreeMap<String, WalkTotals>,
    /// Every gap.
    pub gaps: Vec<Gap>,
}

impl HeapWalk {
    /// Totals over all spaces.
    pub fn total(&self) -> WalkTotals {
        let mut t = WalkTotals::default();
        for s in self.per_space.values() {
            t.add(s);
        }
        t
    }
}
