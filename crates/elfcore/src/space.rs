//! The process address space, layered as the process saw it.
//!
//! Bottom layer: the files the process had mapped (NT_FILE), read from disk: the executable's
//! text and read-only data, which the kernel does not dump. Top layer: the core's own PT_LOAD
//! bytes, which win wherever they exist (they hold the process's private, possibly written pages).
//! What neither covers is reported precisely: unmapped, or mapped but not in the dump.
//!
//! The layers are flattened once into a sorted list of non-overlapping [`Region`]s, so a read is
//! a binary search plus a copy, and a read inside one region can be a borrowed slice of the mmap.

use crate::core::CoreFile;
use crate::elfimage::{build_id_in_memory, hex, ElfImage};
use crate::memory::{read_in_runs, Address, MemError, Memory};
use memmap2::Mmap;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a region's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backing {
    /// The core file, at this file offset.
    Core {
        /// Offset in the core file of the region's first byte.
        offset: u64,
    },
    /// A mapped file on disk (index into [`AddressSpace::files`]), at this file offset.
    File {
        /// Index of the file layer.
        file: usize,
        /// Offset in that file of the region's first byte.
        offset: u64,
    },
    /// Mapped in the process, but the bytes are not available.
    Missing {
        /// Why not.
        why: &'static str,
    },
}

/// A contiguous range of the address space with one backing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// First address.
    pub start: Address,
    /// End (exclusive).
    pub end: Address,
    /// Where the bytes are.
    pub backing: Backing,
    /// Index of the core segment this region belongs to.
    pub segment: usize,
}

/// What became of one file the process had mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileStatus {
    /// Its pages are used for reads.
    Used {
        /// The file on this machine that supplies them.
        path: PathBuf,
        /// Whether its build ID was compared with the copy in the core and matched (false when
        /// either side has none, e.g. a data file).
        build_id_checked: bool,
    },
    /// Not found on this machine.
    NotFound,
    /// Found, but it is not the file the process had: the build IDs differ.
    Mismatch {
        /// The file on this machine.
        path: PathBuf,
        /// Build ID in the core.
        core_id: String,
        /// Build ID of the file on disk.
        file_id: String,
    },
}

/// A file layer: one file on disk mapped into the address space.
#[derive(Debug)]
pub struct FileLayer {
    /// The path the process had (from NT_FILE).
    pub process_path: String,
    /// What happened to it.
    pub status: FileStatus,
    map: Option<Mmap>,
}

/// How to find the files the process had mapped.
#[derive(Debug, Clone, Default)]
pub struct FileLookup {
    /// Replace a process path by a local path (e.g. the executable given with `--executable`).
    /// A substituted file is used even if its build ID differs: the caller checked it.
    pub substitutes: BTreeMap<String, PathBuf>,
    /// Also read other mapped files (libraries) from their original paths when present.
    pub from_disk: bool,
}

/// The address space of the dumped process.
pub struct AddressSpace {
    core: Arc<CoreFile>,
    regions: Vec<Region>,
    files: Vec<FileLayer>,
}

impl std::fmt::Debug for AddressSpace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddressSpace")
            .field("regions", &self.regions.len())
            .finish()
    }
}

impl AddressSpace {
    /// Build the layered address space of `core`, reading mapped files as `lookup` says.
    pub fn new(core: Arc<CoreFile>, lookup: &FileLookup) -> Self {
        // 1. The core's own segments: bytes present, then what is missing.
        let mut regions: Vec<Region> = Vec::new();
        for (i, s) in core.segments().iter().enumerate() {
            let end = s.end();
            let data_end = Address(s.vaddr.0.saturating_add(s.present));
            if s.present > 0 {
                regions.push(Region {
                    start: s.vaddr,
                    end: data_end,
                    backing: Backing::Core { offset: s.offset },
                    segment: i,
                });
            }
            if data_end < end {
                let why = if s.filesz == 0 {
                    "the kernel did not dump this mapping"
                } else {
                    "the core file is truncated"
                };
                regions.push(Region {
                    start: data_end,
                    end,
                    backing: Backing::Missing { why },
                    segment: i,
                });
            }
        }
        let mut space = AddressSpace {
            core,
            regions,
            files: Vec::new(),
        };

        // 2. File layers fill the holes the kernel left.
        let mut by_path: BTreeMap<String, usize> = BTreeMap::new();
        let entries = space.core.mapped_files().to_vec();
        for mf in &entries {
            let idx = match by_path.get(&mf.path) {
                Some(&i) => i,
                None => {
                    let layer = space.open_layer(&mf.path, lookup);
                    space.files.push(layer);
                    by_path.insert(mf.path.clone(), space.files.len() - 1);
                    space.files.len() - 1
                }
            };
            if space.files[idx].map.is_some() {
                space.fill_from_file(idx, mf.start, mf.end, mf.file_offset);
            }
        }
        space
    }

    fn open_layer(&self, process_path: &str, lookup: &FileLookup) -> FileLayer {
        let substitute = lookup.substitutes.get(process_path);
        let local: Option<PathBuf> = match substitute {
            Some(p) => Some(p.clone()),
            None if lookup.from_disk => {
                let p = Path::new(process_path.trim_end_matches(" (deleted)"));
                p.is_file().then(|| p.to_path_buf())
            }
            None => None,
        };
        let Some(local) = local else {
            return FileLayer {
                process_path: process_path.into(),
                status: FileStatus::NotFound,
                map: None,
            };
        };
        let Ok(map) = crate::core::map_file(&local) else {
            return FileLayer {
                process_path: process_path.into(),
                status: FileStatus::NotFound,
                map: None,
            };
        };
        // Compare build IDs where both sides are ELF with one.
        let mut checked = false;
        if let Some(base) = self
            .core
            .mapped_files()
            .iter()
            .find(|f| f.path == process_path && f.file_offset == 0)
            .map(|f| f.start)
        {
            let in_core = build_id_in_memory(&*self.core, base).ok().flatten();
            let on_disk = ElfImage::open(&local)
                .ok()
                .and_then(|img| img.build_id().map(|b| b.to_vec()));
            if let (Some(c), Some(d)) = (in_core, on_disk) {
                if c != d && substitute.is_none() {
                    return FileLayer {
                        process_path: process_path.into(),
                        status: FileStatus::Mismatch {
                            path: local,
                            core_id: hex(&c),
                            file_id: hex(&d),
                        },
                        map: None,
                    };
                }
                checked = c == d;
            }
        }
        FileLayer {
            process_path: process_path.into(),
            status: FileStatus::Used {
                path: local,
                build_id_checked: checked,
            },
            map: Some(map),
        }
    }

    /// Replace the Missing parts of [start, end) by bytes of file layer `file` at `file_offset`.
    fn fill_from_file(&mut self, file: usize, start: Address, end: Address, file_offset: u64) {
        let file_len = self.files[file]
            .map
            .as_ref()
            .map(|m| m.len() as u64)
            .unwrap_or(0);
        let mut out = Vec::with_capacity(self.regions.len() + 2);
        for r in self.regions.drain(..) {
            let overlap_start = r.start.max(start);
            let overlap_end = r.end.min(end);
            if !matches!(r.backing, Backing::Missing { .. }) || overlap_start >= overlap_end {
                out.push(r);
                continue;
            }
            // The file can only supply bytes it has.
            let off_at = |a: Address| file_offset + (a.0 - start.0);
            let have_end = if off_at(overlap_start) >= file_len {
                overlap_start
            } else {
                Address(
                    overlap_end
                        .0
                        .min(overlap_start.0 + (file_len - off_at(overlap_start))),
                )
            };
            if have_end == overlap_start {
                out.push(r);
                continue;
            }
            if r.start < overlap_start {
                out.push(Region {
                    start: r.start,
                    end: overlap_start,
                    backing: r.backing.clone(),
                    segment: r.segment,
                });
            }
            out.push(Region {
                start: overlap_start,
                end: have_end,
                backing: Backing::File {
                    file,
                    offset: off_at(overlap_start),
                },
                segment: r.segment,
            });
            if have_end < r.end {
                out.push(Region {
                    start: have_end,
                    end: r.end,
                    backing: r.backing.clone(),
                    segment: r.segment,
                });
            }
        }
        self.regions = out;
    }

    /// The core file underneath.
    pub fn core(&self) -> &Arc<CoreFile> {
        &self.core
    }
    /// All regions, sorted by address.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }
    /// The file layers, one per distinct mapped file.
    pub fn files(&self) -> &[FileLayer] {
        &self.files
    }

    /// Let go of the resident pages behind `addr..addr+len` where the core file backs them
    /// (see [`CoreFile::release`]).
    pub fn release(&self, addr: Address, len: u64) {
        let end = addr.0.saturating_add(len);
        let first = self.regions.partition_point(|r| r.end <= addr);
        for r in self.regions[first..].iter().take_while(|r| r.start.0 < end) {
            if let Backing::Core { offset } = r.backing {
                let lo = addr.0.max(r.start.0);
                let hi = end.min(r.end.0);
                self.core.release(offset + (lo - r.start.0), hi - lo);
            }
        }
    }

    fn region_index(&self, addr: Address) -> Option<usize> {
        // Reads cluster by page: each thread keeps a small direct-mapped cache from 256 KiB
        // block to region index (for one address space at a time), checked before trusting it.
        const SLOTS: usize = 256;
        thread_local! {
            static CACHE: std::cell::RefCell<(usize, [u32; SLOTS])> =
                const { std::cell::RefCell::new((0, [u32::MAX; SLOTS])) };
        }
        let me = self as *const AddressSpace as usize;
        let slot = ((addr.0 >> 18) as usize) % SLOTS;
        let hint = CACHE.with(|c| {
            let c = c.borrow();
            if c.0 == me {
                c.1[slot]
            } else {
                u32::MAX
            }
        });
        if let Some(r) = self.regions.get(hint as usize) {
            if r.start <= addr && addr < r.end {
                return Some(hint as usize);
            }
        }
        let i = self.regions.partition_point(|r| r.start <= addr);
        let i = i.checked_sub(1)?;
        let found = (addr < self.regions[i].end).then_some(i)?;
        CACHE.with(|c| {
            let mut c = c.borrow_mut();
            if c.0 != me {
                *c = (me, [u32::MAX; SLOTS]);
            }
            c.1[slot] = found as u32;
        });
        Some(found)
    }

    /// The start and the bytes of the whole backed region containing `addr`: callers that read
    /// many nearby objects keep it and slice it themselves.
    pub fn region_bytes(&self, addr: Address) -> Option<(Address, &[u8])> {
        let r = &self.regions[self.region_index(addr)?];
        Some((r.start, self.bytes_of(r)?))
    }

    /// Where the core file holds the region containing `addr`: the region's start, its offset in
    /// the core file and its length (`None` if the core does not back it).
    pub fn core_range(&self, addr: Address) -> Option<(Address, u64, u64)> {
        let r = &self.regions[self.region_index(addr)?];
        match r.backing {
            Backing::Core { offset } => Some((r.start, offset, r.end.0 - r.start.0)),
            _ => None,
        }
    }

    /// The region containing `addr`.
    pub fn region(&self, addr: Address) -> Option<&Region> {
        self.region_index(addr).map(|i| &self.regions[i])
    }

    fn bytes_of(&self, r: &Region) -> Option<&[u8]> {
        let len = (r.end.0 - r.start.0) as usize;
        match r.backing {
            Backing::Core { offset } => self
                .core
                .data()
                .get(offset as usize..(offset as usize).checked_add(len)?),
            Backing::File { file, offset } => self.files[file]
                .map
                .as_ref()?
                .get(offset as usize..(offset as usize).checked_add(len)?),
            Backing::Missing { .. } => None,
        }
    }
}

impl Memory for AddressSpace {
    fn read_at(&self, addr: Address, buf: &mut [u8]) -> Result<(), MemError> {
        // Fast path: the whole read inside one backed region.
        if let Some(b) = self.slice(addr, buf.len()) {
            buf.copy_from_slice(b);
            return Ok(());
        }
        read_in_runs(addr, buf, |a| {
            let r = &self.regions[self.region_index(a).ok_or(MemError::Unmapped { addr: a })?];
            if let Backing::Missing { why } = r.backing {
                return Err(MemError::NotInDump { addr: a, why });
            }
            let bytes = self.bytes_of(r).ok_or(MemError::Io {
                addr: a,
                message: "backing file is shorter than its mapping".into(),
            })?;
            Ok(&bytes[(a.0 - r.start.0) as usize..])
        })
    }

    fn slice(&self, addr: Address, len: usize) -> Option<&[u8]> {
        let r = &self.regions[self.region_index(addr)?];
        let bytes = self.bytes_of(r)?;
        let off = (addr.0 - r.start.0) as usize;
        bytes.get(off..off.checked_add(len)?)
    }

    // The small reads every object read is made of, from the borrowed bytes when they are in
    // one region: the default methods copy through `read_at` (a call to `memcpy` for a few
    // bytes, which the heap export spent a tenth of its time in).
    fn read_u8(&self, addr: Address) -> Result<u8, MemError> {
        self.fixed::<1>(addr).map(|b| b[0])
    }
    fn read_u16(&self, addr: Address) -> Result<u16, MemError> {
        self.fixed(addr).map(u16::from_le_bytes)
    }
    fn read_u32(&self, addr: Address) -> Result<u32, MemError> {
        self.fixed(addr).map(u32::from_le_bytes)
    }
    fn read_u64(&self, addr: Address) -> Result<u64, MemError> {
        self.fixed(addr).map(u64::from_le_bytes)
    }
}

impl AddressSpace {
    /// The `N` bytes at `addr`.
    #[inline]
    fn fixed<const N: usize>(&self, addr: Address) -> Result<[u8; N], MemError> {
        if let Some(b) = self
            .slice(addr, N)
            .and_then(|b| <[u8; N]>::try_from(b).ok())
        {
            return Ok(b);
        }
        let mut b = [0u8; N];
        self.read_at(addr, &mut b)?;
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::tests::{build_core, nt_file, prstatus};
    use object::elf;
    use std::io::Write;

    #[test]
    fn layers_core_over_files_and_reads_across_boundaries() {
        // A "library" file on disk: 3 pages of 0x11, 0x22, 0x33.
        let mut lib = tempfile::NamedTempFile::new().unwrap();
        for b in [0x11u8, 0x22, 0x33] {
            lib.write_all(&[b; 0x1000]).unwrap();
        }
        let lib_path = lib.path().to_str().unwrap().to_string();
        // The process mapped pages 1..3 of it at 0x10000 (offset 1 page), and the core dumped
        // only the first of those two pages (with modified bytes); then an anonymous page.
        let img = build_core(
            &[
                (b"CORE", elf::NT_PRSTATUS, prstatus(1, 6, 0)),
                (
                    b"CORE",
                    0x4649_4c45,
                    nt_file(&[(0x10000, 0x12000, 1, &lib_path)]),
                ),
            ],
            &[
                (0x10000, 0x1000, vec![0xee; 0x1000], elf::PF_R),
                (0x11000, 0x1000, vec![], elf::PF_R),
                (0x12000, 0x1000, vec![0x77; 0x1000], elf::PF_R | elf::PF_W),
                (0x20000, 0x1000, vec![], 4),
            ],
        );
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&img).unwrap();
        let core = Arc::new(CoreFile::open(f.path()).unwrap());
        let space = AddressSpace::new(
            core.clone(),
            &FileLookup {
                from_disk: true,
                ..Default::default()
            },
        );

        // Core bytes win over the file.
        assert_eq!(space.read_u8(Address(0x10000)).unwrap(), 0xee);
        // The undumped page comes from the file at the right offset (file page 2 = 0x33).
        assert_eq!(space.read_u8(Address(0x11000)).unwrap(), 0x33);
        // A read across three regions: core, file, core.
        let mut buf = [0u8; 4];
        space.read_at(Address(0x10ffe), &mut buf[..2]).unwrap();
        assert_eq!(buf[..2], [0xee, 0xee]);
        let mut buf = vec![0u8; 0x1002];
        space.read_at(Address(0x10fff), &mut buf).unwrap();
        assert_eq!(
            (buf[0], buf[1], buf[0x1000], buf[0x1001]),
            (0xee, 0x33, 0x33, 0x77)
        );
        // Slices only within one region.
        assert!(space.slice(Address(0x12000), 0x1000).is_some());
        assert!(space.slice(Address(0x11fff), 2).is_none());
        // Mapped, not dumped, no file: NotInDump. Outside every mapping: Unmapped.
        assert!(matches!(
            space.read_u8(Address(0x20010)),
            Err(MemError::NotInDump {
                addr: Address(0x20010),
                ..
            })
        ));
        assert_eq!(
            space.read_u8(Address(0x30000)),
            Err(MemError::Unmapped {
                addr: Address(0x30000)
            })
        );
        assert!(matches!(space.files()[0].status, FileStatus::Used { .. }));

        // Without file lookup, the hole stays a hole.
        let bare = AddressSpace::new(core, &FileLookup::default());
        assert!(matches!(
            bare.read_u8(Address(0x11000)),
            Err(MemError::NotInDump { .. })
        ));
        assert_eq!(bare.files()[0].status, FileStatus::NotFound);
    }

    #[test]
    fn truncated_segment_reads_report_truncation() {
        let img = build_core(
            &[(b"CORE", elf::NT_PRSTATUS, prstatus(1, 6, 0))],
            &[(0x5000, 0x2000, vec![0x42; 0x2000], elf::PF_R)],
        );
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&img[..img.len() - 0x1000]).unwrap();
        let core = Arc::new(CoreFile::open(f.path()).unwrap());
        let space = AddressSpace::new(core, &FileLookup::default());
        assert_eq!(space.read_u8(Address(0x5fff)).unwrap(), 0x42);
        match space.read_u64(Address(0x5ffc)) {
            Err(MemError::NotInDump { addr, why }) => {
                assert_eq!(addr, Address(0x6000));
                assert!(why.contains("truncated"));
            }
            other => panic!("expected NotInDump, got {other:?}"),
        }
    }
}
