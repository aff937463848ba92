//! The core file: its PT_LOAD segments and notes, read from a memory map without copying.
//!
//! A Linux x86-64 core is an ELF file of type ET_CORE. One PT_NOTE segment holds the process
//! state (one NT_PRSTATUS per thread, the signalled thread first; NT_PRPSINFO; NT_SIGINFO;
//! NT_AUXV; NT_FILE listing mapped files); each PT_LOAD describes one mapping. A mapping the
//! kernel chose not to dump (file-backed text, per coredump_filter) has `p_filesz == 0`: its
//! bytes must come from the file on disk (see [`crate::space`]).
//!
//! A truncated core is opened as far as it goes: [`CoreFile::truncation`] says what is missing
//! and [`CoreFile::check_complete`] turns that into an error for callers that want all or nothing.

use crate::error::{Error, Result};
use crate::memory::{read_in_runs, Address, MemError, Memory};
use byteorder::{ByteOrder, LittleEndian as LE};
use memmap2::Mmap;
use object::elf;
use object::read::elf::{FileHeader, ProgramHeader};
use std::fs::File;
use std::path::{Path, PathBuf};

/// One PT_LOAD segment of the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Start address in the process.
    pub vaddr: Address,
    /// Size of the mapping in the process.
    pub memsz: u64,
    /// File offset of the dumped bytes.
    pub offset: u64,
    /// Bytes the core says it holds (0 for mappings not dumped).
    pub filesz: u64,
    /// Bytes actually present in the file (less than `filesz` when the core is truncated).
    pub present: u64,
    /// PF_R / PF_W / PF_X bits.
    pub flags: u32,
}

impl Segment {
    /// End address (exclusive) of the mapping.
    pub fn end(&self) -> Address {
        Address(self.vaddr.0.saturating_add(self.memsz))
    }
    /// Whether the process could write the mapping.
    pub fn writable(&self) -> bool {
        self.flags & elf::PF_W != 0
    }
    /// Whether the mapping was executable.
    pub fn executable(&self) -> bool {
        self.flags & elf::PF_X != 0
    }
    /// `rwx`-style permission string.
    pub fn perms(&self) -> String {
        format!(
            "{}{}{}",
            if self.flags & elf::PF_R != 0 {
                'r'
            } else {
                '-'
            },
            if self.writable() { 'w' } else { '-' },
            if self.executable() { 'x' } else { '-' }
        )
    }
}

use crate::arch::Arch;
pub use crate::arch::Regs;

/// One thread, from NT_PRSTATUS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadInfo {
    /// Kernel thread id.
    pub tid: u32,
    /// The signal this thread was handling when the dump was written (`pr_cursig`), 0 if none.
    pub signal: u32,
    /// Registers.
    pub regs: Regs,
}

/// One file mapping from NT_FILE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedFile {
    /// Start address.
    pub start: Address,
    /// End address (exclusive).
    pub end: Address,
    /// Byte offset in the file of `start`.
    pub file_offset: u64,
    /// The path the process had open (as the kernel printed it; may end in " (deleted)").
    pub path: String,
}

/// NT_SIGINFO: the signal that caused the dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigInfo {
    /// Signal number.
    pub signo: i32,
    /// `si_code` (e.g. SI_TKILL = -6 for abort()).
    pub code: i32,
    /// `si_errno`.
    pub errno: i32,
    /// For signals sent by a process (si_code <= 0): the sender's pid.
    pub sender_pid: Option<u32>,
    /// For faults (SIGSEGV, SIGBUS, SIGILL, SIGFPE): the faulting address.
    pub fault_addr: Option<Address>,
}

/// NT_PRPSINFO: the process's name and command line (truncated by the kernel to 80 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// User id.
    pub uid: u32,
    /// Short command name (16 bytes at most).
    pub fname: String,
    /// First 80 bytes of the command line.
    pub psargs: String,
}

/// What a truncated core lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    /// File size.
    pub file_size: u64,
    /// File size the headers call for.
    pub expected_size: u64,
    /// Segments (by index) that are cut short or missing entirely.
    pub segments: Vec<usize>,
}

/// An opened core dump.
pub struct CoreFile {
    path: PathBuf,
    arch: Arch,
    files_inferred: bool,
    pac_insn_mask: Option<u64>,
    map: Mmap,
    segments: Vec<Segment>,
    threads: Vec<ThreadInfo>,
    files: Vec<MappedFile>,
    auxv: Vec<(u64, u64)>,
    siginfo: Option<SigInfo>,
    process: Option<ProcessInfo>,
    truncation: Option<Truncation>,
    /// File ranges holding data (sparse holes left out).
    data_ranges: Vec<(u64, u64)>,
    /// The compression of the file on disk, when it was unpacked.
    compression: Option<crate::unpack::Compression>,
    /// File-backed bytes of the process resident just after [`CoreFile::release_over`] last
    /// let go: what is not this core's (the executables' pages), which its budget is above.
    resident_floor: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for CoreFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreFile")
            .field("path", &self.path)
            .field("segments", &self.segments.len())
            .finish()
    }
}

/// NT_FILE note type (not in every libc's headers).
const NT_FILE: u32 = 0x4649_4c45;
/// NT_SIGINFO note type.
const NT_SIGINFO: u32 = 0x5349_4749;
/// NT_ARM_TLS: an arm64 thread's TPIDR_EL0 (owner "LINUX", after the thread's NT_PRSTATUS).
const NT_ARM_TLS: u32 = 0x401;
/// NT_ARM_PAC_MASK: which bits of an arm64 pointer carry its authentication code
/// (`struct user_pac_mask { data_mask, insn_mask }`, owner "LINUX").
const NT_ARM_PAC_MASK: u32 = 0x406;
/// AT_ENTRY: the program's entry point, in the auxiliary vector.
const AT_ENTRY_KEY: u64 = 9;

/// The ELF type of a file in words, for error messages.
pub(crate) fn elf_type_name(t: u16) -> &'static str {
    match t {
        elf::ET_REL => "relocatable object file",
        elf::ET_EXEC => "executable",
        elf::ET_DYN => "shared object or position-independent executable",
        elf::ET_CORE => "core dump",
        _ => "file of unknown type",
    }
}

/// Check the ELF identification and return the parsed 64-bit little-endian header of an
/// architecture v8dump reads, with that architecture.
pub(crate) fn parse_header<'d>(
    path: &Path,
    data: &'d [u8],
) -> Result<(&'d elf::FileHeader64<object::LittleEndian>, Arch)> {
    if data.len() < 4 || &data[..4] != b"\x7fELF" {
        return Err(Error::NotElf { path: path.into() });
    }
    if data.len() < 64 {
        return Err(Error::Truncated {
            path: path.into(),
            what: "the ELF header".into(),
            needed: 64,
            actual: data.len() as u64,
        });
    }
    if data[4] != elf::ELFCLASS64 || data[5] != elf::ELFDATA2LSB {
        let what = format!(
            "{}-bit {}",
            if data[4] == elf::ELFCLASS32 { 32 } else { 64 },
            if data[5] == elf::ELFDATA2MSB {
                "big-endian"
            } else {
                "little-endian"
            }
        );
        return Err(Error::UnsupportedElf {
            path: path.into(),
            what,
        });
    }
    let hdr =
        elf::FileHeader64::<object::LittleEndian>::parse(data).map_err(|e| Error::Malformed {
            path: path.into(),
            what: e.to_string(),
        })?;
    let machine = hdr.e_machine(object::LittleEndian);
    let arch = Arch::from_machine(machine).ok_or_else(|| Error::UnsupportedElf {
        path: path.into(),
        what: Arch::machine_name(machine),
    })?;
    Ok((hdr, arch))
}

/// The program header table of a parsed ELF header, or a `Malformed` error naming the file.
pub(crate) fn program_headers<'d>(
    path: &Path,
    hdr: &elf::FileHeader64<object::LittleEndian>,
    data: &'d [u8],
) -> Result<&'d [elf::ProgramHeader64<object::LittleEndian>]> {
    hdr.program_headers(object::LittleEndian, data)
        .map_err(|err| Error::Malformed {
            path: path.into(),
            what: err.to_string(),
        })
}

/// Map a file read-only.
/// The byte ranges of a file that hold data, as (offset, end): sparse holes (never written,
/// read as zeros) left out, from `lseek(SEEK_DATA / SEEK_HOLE)`. The whole file when the
/// filesystem cannot say. At most 1 << 20 ranges; past that the rest counts as data.
pub(crate) fn data_ranges(f: &File, len: u64) -> Vec<(u64, u64)> {
    use std::os::fd::AsRawFd;
    let fd = f.as_raw_fd();
    let mut out = Vec::new();
    let mut off: i64 = 0;
    while (off as u64) < len {
        if out.len() >= 1 << 20 {
            out.push((off as u64, len));
            break;
        }
        // SAFETY: lseek on a descriptor this function owns; no memory is passed.
        let d = unsafe { libc::lseek(fd, off, libc::SEEK_DATA) };
        if d < 0 {
            if std::io::Error::last_os_error().raw_os_error() != Some(libc::ENXIO) && out.is_empty()
            {
                return vec![(0, len)]; // SEEK_DATA unsupported: all data
            }
            break; // ENXIO: no data after `off`
        }
        // SAFETY: as above.
        let h = unsafe { libc::lseek(fd, d, libc::SEEK_HOLE) };
        let h = if h < 0 { len as i64 } else { h };
        if h <= d {
            break;
        }
        out.push((d as u64, (h as u64).min(len)));
        off = h;
    }
    out
}

pub(crate) fn map_file(path: &Path) -> Result<Mmap> {
    let f = File::open(path).map_err(|source| Error::Io {
        path: path.into(),
        source,
    })?;
    // SAFETY: the map is read-only; a file changed under us gives wrong bytes, not unsoundness
    // in safe Rust reading of a `&[u8]` (the same contract every mmap-based reader accepts).
    unsafe { Mmap::map(&f) }.map_err(|source| Error::Io {
        path: path.into(),
        source,
    })
}

/// Iterate the notes in a PT_NOTE payload: (name, type, desc). Stops at the first malformed note.
pub(crate) fn iter_notes(mut data: &[u8]) -> impl Iterator<Item = (&[u8], u32, &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < 12 {
            return None;
        }
        let namesz = LE::read_u32(&data[0..]) as usize;
        let descsz = LE::read_u32(&data[4..]) as usize;
        let ty = LE::read_u32(&data[8..]);
        let name_end = 12usize.checked_add(namesz)?;
        let desc_start = 12usize.checked_add(namesz.checked_add(3)? & !3)?;
        let desc_end = desc_start.checked_add(descsz)?;
        let next = desc_start.checked_add(descsz.checked_add(3)? & !3)?;
        if desc_end > data.len() || name_end > data.len() {
            return None;
        }
        let mut name = &data[12..name_end];
        if let Some(z) = name.iter().position(|&c| c == 0) {
            name = &name[..z];
        }
        let desc = &data[desc_start..desc_end];
        data = data.get(next..).unwrap_or(&[]);
        Some((name, ty, desc))
    })
}

/// How much of a compressed core is unpacked to check it before the rest: enough for the ELF
/// header and the program headers of a core of about a thousand segments.
const HEAD_BYTES: usize = 256 << 10;

/// The size a core's file has, from its program headers in `head` (the end of the segment that
/// ends last, or of the headers), if they are all in `head`.
fn size_from_headers(head: &[u8]) -> Option<u64> {
    let u16_at = |o: usize| Some(u16::from_le_bytes(head.get(o..o + 2)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(head.get(o..o + 8)?.try_into().ok()?));
    let phoff = usize::try_from(u64_at(32)?).ok()?;
    let entsize = u16_at(54)? as usize;
    let count = u16_at(56)? as usize;
    // PN_XNUM (more than 65534 segments: the count is elsewhere) or a strange entry size:
    // no bound from here.
    if entsize != 56 || count == 0xffff {
        return None;
    }
    let mut end = (phoff + count * entsize) as u64;
    for k in 0..count {
        let ph = phoff + k * entsize;
        let (off, filesz) = (u64_at(ph + 8)?, u64_at(ph + 32)?);
        end = end.max(off.checked_add(filesz)?);
    }
    Some(end)
}

fn cstr(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&c| c == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

impl CoreFile {
    /// Open and parse a core file. Fails if the file is not an x86-64 ELF core or its notes are
    /// unreadable; a core whose memory segments are cut short opens, with [`Self::truncation`] set.
    ///
    /// A core compressed with zstd, gzip or lz4 is unpacked first into an unnamed temporary
    /// file (see [`crate::unpack`]); [`Self::compression`] says so.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let compression = crate::unpack::detect_file(path)?;
        let file = match compression {
            Some(c) => {
                // What it unpacks to must start as a core, and cannot be longer than its own
                // headers say: checked on the first bytes, before anything is written.
                let head = crate::unpack::head(path, c, HEAD_BYTES)?;
                let (hdr, _) = parse_header(path, &head)?;
                let ty = hdr.e_type(object::LittleEndian);
                if ty != elf::ET_CORE {
                    return Err(Error::NotACore {
                        path: path.into(),
                        kind: elf_type_name(ty),
                    });
                }
                // A MiB of slack: a stray trailer is not worth refusing a core for.
                let limit = size_from_headers(&head).map(|n| n.saturating_add(1 << 20));
                crate::unpack::unpack(path, c, limit)?
            }
            None => File::open(path).map_err(|source| Error::Io {
                path: path.into(),
                source,
            })?,
        };
        // SAFETY: as in `map_file`: a read-only map of a file this process does not write.
        let map = unsafe { Mmap::map(&file) }.map_err(|source| Error::Io {
            path: path.into(),
            source,
        })?;
        let ranges = data_ranges(&file, map.len() as u64);
        let mut core = Self::from_map(path, map, ranges)?;
        core.compression = compression;
        Ok(core)
    }

    /// The compression the core file had (it was unpacked to a temporary file), if any.
    pub fn compression(&self) -> Option<crate::unpack::Compression> {
        self.compression
    }

    fn from_map(path: &Path, map: Mmap, data_ranges: Vec<(u64, u64)>) -> Result<Self> {
        let data: &[u8] = &map;
        let (hdr, arch) = parse_header(path, data)?;
        let e = object::LittleEndian;
        let ty = hdr.e_type(e);
        if ty != elf::ET_CORE {
            return Err(Error::NotACore {
                path: path.into(),
                kind: elf_type_name(ty),
            });
        }
        let phoff = hdr.e_phoff(e);
        let phnum = hdr.e_phnum(e) as u64;
        let ph_end = phoff.saturating_add(phnum.saturating_mul(56));
        if ph_end > data.len() as u64 {
            return Err(Error::Truncated {
                path: path.into(),
                what: "the program header table".into(),
                needed: ph_end,
                actual: data.len() as u64,
            });
        }
        let phdrs = program_headers(path, hdr, data)?;
        let file_size = data.len() as u64;
        let mut segments = Vec::new();
        let mut note_ranges = Vec::new();
        let mut expected_size = 0u64;
        for ph in phdrs {
            let (offset, filesz) = (ph.p_offset(e), ph.p_filesz(e));
            let end = offset.saturating_add(filesz);
            expected_size = expected_size.max(end);
            match ph.p_type(e) {
                elf::PT_NOTE => note_ranges.push((offset, filesz)),
                elf::PT_LOAD => {
                    let present = if offset >= file_size {
                        0
                    } else {
                        filesz.min(file_size - offset)
                    };
                    segments.push(Segment {
                        vaddr: Address(ph.p_vaddr(e)),
                        memsz: ph.p_memsz(e),
                        offset,
                        filesz,
                        present,
                        flags: ph.p_flags(e),
                    });
                }
                _ => {}
            }
        }
        if note_ranges.is_empty() {
            return Err(Error::Malformed {
                path: path.into(),
                what: "the core has no PT_NOTE segment (no threads, no registers)".into(),
            });
        }
        segments.sort_by_key(|s| s.vaddr);
        let segments_cut: Vec<usize> = segments
            .iter()
            .enumerate()
            .filter(|(_, s)| s.present < s.filesz)
            .map(|(i, _)| i)
            .collect();
        let truncation =
            (!segments_cut.is_empty() || expected_size > file_size).then_some(Truncation {
                file_size,
                expected_size,
                segments: segments_cut,
            });

        let mut core = CoreFile {
            arch,
            files_inferred: false,
            pac_insn_mask: None,
            compression: None,
            path: path.into(),
            data_ranges,
            map,
            segments,
            threads: Vec::new(),
            files: Vec::new(),
            auxv: Vec::new(),
            siginfo: None,
            process: None,
            truncation,
            resident_floor: Default::default(),
        };
        for (offset, size) in note_ranges {
            let end = offset.saturating_add(size);
            if end > file_size {
                return Err(Error::Truncated {
                    path: path.into(),
                    what: "the notes segment (threads and registers)".into(),
                    needed: end,
                    actual: file_size,
                });
            }
            core.parse_notes(offset as usize, size as usize)?;
        }
        if core.threads.is_empty() {
            return Err(Error::Malformed {
                path: path.into(),
                what: "the core has no NT_PRSTATUS note (no threads)".into(),
            });
        }
        Ok(core)
    }

    fn parse_notes(&mut self, offset: usize, size: usize) -> Result<()> {
        let data = &self.map[offset..offset + size];
        let mut threads = Vec::new();
        let mut files = Vec::new();
        let mut auxv = Vec::new();
        let mut siginfo = None;
        let mut process = None;
        for (name, ty, desc) in iter_notes(data) {
            if name == b"LINUX" && ty == NT_ARM_TLS && desc.len() >= 8 {
                if let Some(t) = threads.last_mut() {
                    let t: &mut ThreadInfo = t;
                    t.regs = t.regs.with_thread_pointer(LE::read_u64(desc));
                }
                continue;
            }
            if name == b"LINUX" && ty == NT_ARM_PAC_MASK && desc.len() >= 16 {
                let m = LE::read_u64(&desc[8..]);
                self.pac_insn_mask = self.pac_insn_mask.or((m != 0).then_some(m));
                continue;
            }
            if name != b"CORE" {
                continue;
            }
            let nregs = self.arch.regs().names.len();
            match ty {
                elf::NT_PRSTATUS if desc.len() >= 112 + nregs * 8 => {
                    let values: Vec<u64> = (0..nregs)
                        .map(|i| LE::read_u64(&desc[112 + i * 8..]))
                        .collect();
                    threads.push(ThreadInfo {
                        tid: LE::read_u32(&desc[32..]),
                        signal: LE::read_u16(&desc[12..]) as u32,
                        regs: Regs::new(self.arch, &values),
                    });
                }
                elf::NT_PRPSINFO if desc.len() >= 136 => {
                    process = Some(ProcessInfo {
                        uid: LE::read_u32(&desc[16..]),
                        pid: LE::read_u32(&desc[24..]),
                        ppid: LE::read_u32(&desc[28..]),
                        fname: cstr(&desc[40..56]),
                        psargs: cstr(&desc[56..136]),
                    });
                }
                NT_SIGINFO if desc.len() >= 24 => {
                    let signo = LE::read_i32(&desc[0..]);
                    let code = LE::read_i32(&desc[8..]);
                    let fault = matches!(signo, 4 | 7 | 8 | 11);
                    siginfo = Some(SigInfo {
                        signo,
                        errno: LE::read_i32(&desc[4..]),
                        code,
                        sender_pid: (!fault && code <= 0).then(|| LE::read_u32(&desc[16..])),
                        fault_addr: fault.then(|| Address(LE::read_u64(&desc[16..]))),
                    });
                }
                elf::NT_AUXV => {
                    for pair in desc.chunks_exact(16) {
                        let (k, v) = (LE::read_u64(pair), LE::read_u64(&pair[8..]));
                        if k == 0 {
                            break;
                        }
                        auxv.push((k, v));
                    }
                }
                NT_FILE if desc.len() >= 16 => files = parse_nt_file(desc),
                _ => {}
            }
        }
        self.threads.extend(threads);
        self.files.extend(files);
        self.auxv.extend(auxv);
        self.siginfo = self.siginfo.or(siginfo);
        self.process = self.process.take().or(process);
        Ok(())
    }

    /// The architecture of the process (the core's `e_machine`).
    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// The path the core was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// The whole file, memory-mapped.
    pub fn data(&self) -> &[u8] {
        &self.map
    }

    /// Let go of the resident pages of `offset..offset+len` of the mapping (they stay in the
    /// page cache and are read again on the next access). Keeps the resident set of a pass over
    /// a large core small; a hint only, so errors are ignored.
    ///
    /// The range is widened to whole windows of what one read maps (2 MiB, file aligned): a
    /// fault maps the cached pages around it, also those before a segment's start, which a
    /// release of the segment alone would leave (a quarter of a Node 24 heap of one-page
    /// segments stayed resident that way). The kernel's fault-around maps 64 KiB, and from
    /// Linux 6.18 a whole large folio of the page cache: up to 2 MiB, aligned to its size.
    pub fn release(&self, offset: u64, len: u64) {
        const WINDOW: u64 = 2 << 20;
        let end = offset.saturating_add(len).saturating_add(WINDOW - 1) / WINDOW * WINDOW;
        let end = end.min(self.map.len() as u64);
        let offset = offset / WINDOW * WINDOW;
        if offset >= end {
            return;
        }
        // SAFETY: the mapping is a read-only private file mapping that this process never
        // writes, so MADV_DONTNEED drops nothing but the page table entries: the next read of
        // these pages reads the file again and sees the same bytes.
        let _ = unsafe {
            self.map.unchecked_advise_range(
                memmap2::UncheckedAdvice::DontNeed,
                offset as usize,
                (end - offset) as usize,
            )
        };
    }

    /// Let go of every resident page of the mapping ([`CoreFile::release_all`]) when more than
    /// `budget` bytes of this process's file-backed memory are resident, as the kernel counts
    /// them (`/proc/self/statm`), beyond what stayed resident after the last time it let go
    /// (the executables' pages, which a release of the core does not touch). For passes that
    /// read all over a large core: how much one read maps is the kernel's business (64 KiB of
    /// fault-around, or a whole large folio of up to 2 MiB from Linux 6.18), so they ask every
    /// so often instead of counting. Returns whether it let go; false where the count cannot
    /// be read.
    pub fn release_over(&self, budget: u64) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let floor = self.resident_floor.load(Relaxed);
        match file_resident_bytes() {
            Some(b) if b > floor.saturating_add(budget) => {
                self.release_all();
                if let Some(after) = file_resident_bytes() {
                    self.resident_floor.store(after, Relaxed);
                }
                true
            }
            _ => false,
        }
    }

    /// The parts of file range `offset..offset+len` that hold data: sparse holes (never
    /// written: zeros, so no pointers) are left out. Returned as (offset, length).
    pub fn data_within(&self, offset: u64, len: u64) -> Vec<(u64, u64)> {
        let end = offset.saturating_add(len);
        let first = self.data_ranges.partition_point(|r| r.1 <= offset);
        self.data_ranges[first..]
            .iter()
            .take_while(|r| r.0 < end)
            .map(|&(a, b)| {
                let (a, b) = (a.max(offset), b.min(end));
                (a, b - a)
            })
            .filter(|r| r.1 > 0)
            .collect()
    }

    /// Let go of every resident page of the mapping (see [`CoreFile::release`]).
    pub fn release_all(&self) {
        self.release(0, self.map.len() as u64);
    }
    /// PT_LOAD segments, sorted by address.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }
    /// Threads in note order: the thread that received the fatal signal comes first.
    pub fn threads(&self) -> &[ThreadInfo] {
        &self.threads
    }
    /// Mapped files (NT_FILE).
    pub fn mapped_files(&self) -> &[MappedFile] {
        &self.files
    }

    /// The bits of a code pointer that hold its pointer authentication code, when the core
    /// says (arm64's NT_ARM_PAC_MASK, written where the kernel enabled pointer
    /// authentication).
    pub fn pointer_auth_mask(&self) -> Option<u64> {
        self.pac_insn_mask
    }

    /// Whether the mapped files were inferred ([`Self::infer_executable_mappings`]) rather
    /// than read from NT_FILE.
    pub fn mappings_inferred(&self) -> bool {
        self.files_inferred
    }

    /// For a core without NT_FILE (qemu-user writes none): the executable's file-backed
    /// mappings, as the loader made them from its PT_LOAD headers, placed by the load bias
    /// that the entry point in the core's auxv gives (`AT_ENTRY - e_entry`, 0 for a non-PIE
    /// executable), under the path `path`. Returns the bias, or `None` (nothing changed) when
    /// the core has NT_FILE, or no AT_ENTRY and the image is position-independent, or the
    /// bias is not page-aligned (the image is not the one the process ran).
    pub fn infer_executable_mappings(&mut self, exe: &crate::ElfImage, path: &str) -> Option<u64> {
        if !self.files.is_empty() {
            return None;
        }
        let bias = match self.auxv_value(AT_ENTRY_KEY) {
            Some(e) => e.wrapping_sub(exe.entry()),
            None if !exe.is_pie() => 0,
            None => return None,
        };
        if bias % 4096 != 0 {
            return None;
        }
        let page = |a: u64| a & !4095;
        self.files = exe
            .load_segments()
            .iter()
            .filter(|l| l.filesz > 0)
            .map(|l| MappedFile {
                start: Address(page(l.vaddr.wrapping_add(bias))),
                end: Address(
                    l.vaddr
                        .wrapping_add(bias)
                        .saturating_add(l.filesz)
                        .saturating_add(4095)
                        & !4095,
                ),
                file_offset: page(l.offset),
                path: path.to_string(),
            })
            .collect();
        self.files_inferred = !self.files.is_empty();
        Some(bias)
    }
    /// The auxiliary vector (NT_AUXV) as (key, value) pairs.
    pub fn auxv(&self) -> &[(u64, u64)] {
        &self.auxv
    }
    /// One auxv entry.
    pub fn auxv_value(&self, key: u64) -> Option<u64> {
        self.auxv.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
    /// NT_SIGINFO, when present.
    pub fn siginfo(&self) -> Option<SigInfo> {
        self.siginfo
    }
    /// NT_PRPSINFO, when present.
    pub fn process(&self) -> Option<&ProcessInfo> {
        self.process.as_ref()
    }
    /// What is missing from a truncated core, if anything.
    pub fn truncation(&self) -> Option<&Truncation> {
        self.truncation.as_ref()
    }
    /// Fail with [`Error::Truncated`] if any segment is cut short.
    pub fn check_complete(&self) -> Result<()> {
        match &self.truncation {
            None => Ok(()),
            Some(t) => Err(Error::Truncated {
                path: self.path.clone(),
                what: format!(
                    "the memory dump ({} of {} segments cut short; --allow-truncated reads what is there)",
                    t.segments.len(),
                    self.segments.len()
                ),
                needed: t.expected_size,
                actual: t.file_size,
            }),
        }
    }
    /// The signal that killed the process: NT_SIGINFO's, else the first thread's `pr_cursig`.
    pub fn signal(&self) -> Option<i32> {
        self.siginfo
            .map(|s| s.signo)
            .filter(|&s| s != 0)
            .or_else(|| {
                self.threads
                    .first()
                    .map(|t| t.signal as i32)
                    .filter(|&s| s != 0)
            })
    }
    /// The mapped file that covers `addr`.
    pub fn mapped_file_at(&self, addr: Address) -> Option<&MappedFile> {
        self.files.iter().find(|f| f.start <= addr && addr < f.end)
    }
}

/// The core's own dumped bytes, without any file layer: what the process really had in memory,
/// where the dump has it. Use [`crate::AddressSpace`] to see file-backed pages too.
impl Memory for CoreFile {
    fn read_at(&self, addr: Address, buf: &mut [u8]) -> Result<(), MemError> {
        read_in_runs(addr, buf, |a| {
            let i = self
                .segments
                .partition_point(|s| s.vaddr <= a)
                .checked_sub(1)
                .ok_or(MemError::Unmapped { addr: a })?;
            let s = &self.segments[i];
            let rel = a.0 - s.vaddr.0;
            if rel >= s.memsz {
                return Err(MemError::Unmapped { addr: a });
            }
            if rel >= s.present {
                let why = if s.filesz == 0 {
                    "the kernel did not dump this mapping"
                } else {
                    "the core file is truncated"
                };
                return Err(MemError::NotInDump { addr: a, why });
            }
            Ok(&self.map[(s.offset + rel) as usize..(s.offset + s.present) as usize])
        })
    }
}

/// Parse the NT_FILE payload: count, page size, `count` (start, end, page offset) triples, then
/// `count` NUL-terminated names. Entries beyond what the payload holds are dropped.
fn parse_nt_file(desc: &[u8]) -> Vec<MappedFile> {
    let count = LE::read_u64(desc) as usize;
    let page = LE::read_u64(&desc[8..]);
    let table_end = 16usize.saturating_add(count.saturating_mul(24));
    if table_end > desc.len() {
        return Vec::new();
    }
    let mut names = desc[table_end..].split(|&c| c == 0);
    (0..count)
        .map_while(|i| {
            let t = &desc[16 + i * 24..];
            let name = names.next()?;
            Some(MappedFile {
                start: Address(LE::read_u64(t)),
                end: Address(LE::read_u64(&t[8..])),
                file_offset: LE::read_u64(&t[16..]).saturating_mul(page),
                path: String::from_utf8_lossy(name).into_owned(),
            })
        })
        .collect()
}

/// Human name of a Linux signal number.
pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        10 => "SIGUSR1",
        11 => "SIGSEGV",
        12 => "SIGUSR2",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        31 => "SIGSYS",
        _ => "signal",
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Build a minimal ELF core image: one PT_NOTE with the given notes, then the PT_LOADs.
    pub fn build_core(
        notes: &[(&[u8], u32, Vec<u8>)],
        loads: &[(u64, u64, Vec<u8>, u32)],
    ) -> Vec<u8> {
        build_core_for(elf::EM_X86_64, notes, loads)
    }

    /// [`build_core`] for another `e_machine`.
    pub fn build_core_for(
        machine: u16,
        notes: &[(&[u8], u32, Vec<u8>)],
        loads: &[(u64, u64, Vec<u8>, u32)],
    ) -> Vec<u8> {
        let mut note_bytes = Vec::new();
        for (name, ty, desc) in notes {
            let mut n = name.to_vec();
            n.push(0);
            note_bytes.extend_from_slice(&(n.len() as u32).to_le_bytes());
            note_bytes.extend_from_slice(&(desc.len() as u32).to_le_bytes());
            note_bytes.extend_from_slice(&ty.to_le_bytes());
            note_bytes.extend_from_slice(&n);
            while note_bytes.len() % 4 != 0 {
                note_bytes.push(0);
            }
            note_bytes.extend_from_slice(desc);
            while note_bytes.len() % 4 != 0 {
                note_bytes.push(0);
            }
        }
        let phnum = 1 + loads.len();
        let mut off = 64 + 56 * phnum as u64;
        let mut out = vec![0u8; 64];
        out[..4].copy_from_slice(b"\x7fELF");
        out[4] = 2; // 64-bit
        out[5] = 1; // little-endian
        out[6] = 1;
        out[16..18].copy_from_slice(&4u16.to_le_bytes()); // ET_CORE
        out[18..20].copy_from_slice(&machine.to_le_bytes());
        out[20..24].copy_from_slice(&1u32.to_le_bytes());
        out[32..40].copy_from_slice(&64u64.to_le_bytes()); // phoff
        out[52..54].copy_from_slice(&64u16.to_le_bytes());
        out[54..56].copy_from_slice(&56u16.to_le_bytes());
        out[56..58].copy_from_slice(&(phnum as u16).to_le_bytes());
        let mut ph = |ty: u32, flags: u32, offset: u64, vaddr: u64, filesz: u64, memsz: u64| {
            let mut p = Vec::new();
            p.extend_from_slice(&ty.to_le_bytes());
            p.extend_from_slice(&flags.to_le_bytes());
            p.extend_from_slice(&offset.to_le_bytes());
            p.extend_from_slice(&vaddr.to_le_bytes());
            p.extend_from_slice(&0u64.to_le_bytes());
            p.extend_from_slice(&filesz.to_le_bytes());
            p.extend_from_slice(&memsz.to_le_bytes());
            p.extend_from_slice(&8u64.to_le_bytes());
            out.extend_from_slice(&p);
        };
        ph(elf::PT_NOTE, 0, off, 0, note_bytes.len() as u64, 0);
        off += note_bytes.len() as u64;
        for (vaddr, memsz, bytes, flags) in loads {
            ph(
                elf::PT_LOAD,
                *flags,
                off,
                *vaddr,
                bytes.len() as u64,
                *memsz,
            );
            off += bytes.len() as u64;
        }
        out.extend_from_slice(&note_bytes);
        for (_, _, bytes, _) in loads {
            out.extend_from_slice(bytes);
        }
        out
    }

    pub fn prstatus(tid: u32, sig: u16, rip: u64) -> Vec<u8> {
        let mut d = vec![0u8; 336];
        d[12..14].copy_from_slice(&sig.to_le_bytes());
        d[32..36].copy_from_slice(&tid.to_le_bytes());
        d[112 + 16 * 8..112 + 17 * 8].copy_from_slice(&rip.to_le_bytes());
        d
    }

    pub fn nt_file(entries: &[(u64, u64, u64, &str)]) -> Vec<u8> {
        let mut d = Vec::new();
        d.extend_from_slice(&(entries.len() as u64).to_le_bytes());
        d.extend_from_slice(&4096u64.to_le_bytes());
        for (s, e, pgoff, _) in entries {
            d.extend_from_slice(&s.to_le_bytes());
            d.extend_from_slice(&e.to_le_bytes());
            d.extend_from_slice(&pgoff.to_le_bytes());
        }
        for (_, _, _, name) in entries {
            d.extend_from_slice(name.as_bytes());
            d.push(0);
        }
        d
    }

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        use std::io::Write;
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    #[test]
    fn parses_threads_files_and_segments() {
        let img = build_core(
            &[
                (b"CORE", elf::NT_PRSTATUS, prstatus(101, 6, 0x401000)),
                (b"CORE", elf::NT_PRSTATUS, prstatus(102, 0, 0x402000)),
                (
                    b"CORE",
                    NT_FILE,
                    nt_file(&[
                        (0x400000, 0x401000, 0, "/usr/bin/node"),
                        (0x401000, 0x403000, 1, "/usr/bin/node"),
                    ]),
                ),
                (
                    b"CORE",
                    elf::NT_AUXV,
                    [
                        9u64.to_le_bytes(),
                        0x401234u64.to_le_bytes(),
                        [0; 8],
                        [0; 8],
                    ]
                    .concat(),
                ),
                (b"LINUX", 0x202, vec![1, 2, 3]),
            ],
            &[
                (0x7000, 0x1000, vec![0xaa; 0x1000], elf::PF_R | elf::PF_W),
                (0x400000, 0x1000, vec![], elf::PF_R | elf::PF_X),
            ],
        );
        let f = write(&img);
        let core = CoreFile::open(f.path()).unwrap();
        assert_eq!(core.threads().len(), 2);
        assert_eq!(core.threads()[0].tid, 101);
        assert_eq!(core.threads()[0].signal, 6);
        assert_eq!(core.threads()[1].regs.pc(), 0x402000);
        assert_eq!(core.signal(), Some(6));
        assert_eq!(core.mapped_files().len(), 2);
        assert_eq!(core.mapped_files()[1].file_offset, 4096);
        assert_eq!(core.mapped_files()[1].path, "/usr/bin/node");
        assert_eq!(core.auxv_value(9), Some(0x401234));
        assert_eq!(core.segments().len(), 2);
        assert_eq!(core.segments()[0].vaddr, Address(0x7000));
        assert_eq!(core.segments()[0].perms(), "rw-");
        assert_eq!(core.segments()[1].filesz, 0);
        assert!(core.truncation().is_none());
        core.check_complete().unwrap();
    }

    /// An arm64 core: 34 registers per thread in `user_pt_regs` order, the thread pointer from
    /// NT_ARM_TLS after its thread's NT_PRSTATUS, the code pointers' authentication bits from
    /// NT_ARM_PAC_MASK (layouts from the Linux UAPI headers).
    #[test]
    fn parses_arm64_registers_thread_pointer_and_pac_mask() {
        let regs = |tid: u32, pc: u64| {
            let mut d = vec![0u8; 112 + 34 * 8 + 8];
            d[32..36].copy_from_slice(&tid.to_le_bytes());
            d[12..14].copy_from_slice(&6u16.to_le_bytes());
            for (i, v) in [(29usize, 0x7ff0u64), (30, 0x1234), (31, 0x7fe0), (32, pc)] {
                d[112 + i * 8..120 + i * 8].copy_from_slice(&v.to_le_bytes());
            }
            d
        };
        let mut pac = 0x007f_0000_0000_0000u64.to_le_bytes().to_vec();
        pac.extend_from_slice(&0x007f_0000_0000_0000u64.to_le_bytes());
        let img = build_core_for(
            elf::EM_AARCH64,
            &[
                (b"CORE", elf::NT_PRSTATUS, regs(7, 0x40_0000)),
                (b"LINUX", NT_ARM_TLS, 0xaaaa_0000u64.to_le_bytes().to_vec()),
                (b"LINUX", NT_ARM_PAC_MASK, pac),
                (b"CORE", elf::NT_PRSTATUS, regs(8, 0x40_1000)),
            ],
            &[(0x7000, 0x1000, vec![0; 0x1000], elf::PF_R | elf::PF_W)],
        );
        let f = write(&img);
        let core = CoreFile::open(f.path()).unwrap();
        assert_eq!(core.arch(), Arch::Aarch64);
        let t = core.threads();
        assert_eq!(t.len(), 2);
        let r = &t[0].regs;
        assert_eq!(
            (r.pc(), r.sp(), r.fp(), r.lr()),
            (0x40_0000, 0x7fe0, 0x7ff0, Some(0x1234))
        );
        assert_eq!(r.get("x30"), Some(0x1234));
        assert_eq!(r.values().len(), 34);
        assert_eq!(r.thread_pointer(), Some(0xaaaa_0000));
        assert_eq!(
            t[1].regs.thread_pointer(),
            None,
            "the note belongs to the thread before it"
        );
        assert_eq!(t[1].regs.pc(), 0x40_1000);
        assert_eq!(core.pointer_auth_mask(), Some(0x007f_0000_0000_0000));
    }

    #[test]
    fn truncated_core_opens_but_reports_what_is_missing() {
        let img = build_core(
            &[(b"CORE", elf::NT_PRSTATUS, prstatus(1, 11, 0))],
            &[(0x7000, 0x2000, vec![0x55; 0x2000], elf::PF_R)],
        );
        let f = write(&img[..img.len() - 0x1800]);
        let core = CoreFile::open(f.path()).unwrap();
        let t = core.truncation().expect("truncation noticed");
        assert_eq!(t.segments, vec![0]);
        assert_eq!(core.segments()[0].present, 0x800);
        let msg = core.check_complete().unwrap_err().to_string();
        assert!(msg.contains("truncated"), "{msg}");
    }

    #[test]
    fn rejects_non_elf_non_core_and_cut_headers() {
        let f = write(b"this is not an ELF file at all, just text");
        assert!(matches!(
            CoreFile::open(f.path()),
            Err(Error::NotElf { .. })
        ));

        let mut img = build_core(&[(b"CORE", elf::NT_PRSTATUS, prstatus(1, 6, 0))], &[]);
        img[16] = 2; // ET_EXEC
        let f = write(&img);
        let e = CoreFile::open(f.path()).unwrap_err();
        assert!(
            matches!(
                e,
                Error::NotACore {
                    kind: "executable",
                    ..
                }
            ),
            "{e}"
        );

        let img = build_core(
            &[(b"CORE", elf::NT_PRSTATUS, prstatus(1, 6, 0))],
            &[(0x1000, 0x1000, vec![0; 0x1000], 4)],
        );
        let f = write(&img[..100]);
        assert!(matches!(
            CoreFile::open(f.path()),
            Err(Error::Truncated { .. })
        ));

        let f = write(&img[..30]);
        assert!(matches!(
            CoreFile::open(f.path()),
            Err(Error::Truncated { .. })
        ));

        let mut img32 = img.clone();
        img32[4] = 1;
        let f = write(&img32);
        assert!(matches!(
            CoreFile::open(f.path()),
            Err(Error::UnsupportedElf { .. })
        ));
    }

    #[test]
    fn release_over_lets_go_of_what_a_pass_mapped_beyond_the_budget() {
        const LEN: usize = 16 << 20;
        let img = build_core(
            &[(b"CORE", elf::NT_PRSTATUS, prstatus(101, 6, 0x401000))],
            &[(0x10_0000, LEN as u64, vec![7u8; LEN], 6)],
        );
        let f = write(&img);
        let core = CoreFile::open(f.path()).unwrap();
        // Nothing of the core is resident: far below any budget.
        core.release_all();
        assert!(!core.release_over(u64::MAX / 2));
        let before = file_resident_bytes().unwrap();
        let sum: u64 = core.data().iter().step_by(4096).map(|&b| b as u64).sum();
        assert!(sum >= 7 * (LEN as u64 / 4096));
        let mapped = file_resident_bytes().unwrap();
        assert!(mapped >= before + LEN as u64 / 2, "{before} -> {mapped}");
        // More than the budget resident: it lets go, and what stays is far below what was
        // mapped.
        assert!(core.release_over(1 << 20));
        let after = file_resident_bytes().unwrap();
        assert!(after + LEN as u64 / 2 <= mapped, "{mapped} -> {after}");
        // What stayed (not the core's) is the floor: the next call does not let go again.
        assert!(!core.release_over(8 << 20));
    }

    #[test]
    fn note_iterator_stops_at_garbage() {
        let mut d = Vec::new();
        d.extend_from_slice(&5u32.to_le_bytes());
        d.extend_from_slice(&0xffff_fff0u32.to_le_bytes()); // absurd desc size
        d.extend_from_slice(&1u32.to_le_bytes());
        d.extend_from_slice(b"CORE\0\0\0\0");
        assert_eq!(iter_notes(&d).count(), 0);
    }
}

/// Bytes of this process's resident file-backed (and shared) memory: `/proc/self/statm`'s
/// third field, in pages.
fn file_resident_bytes() -> Option<u64> {
    use std::io::Read;
    let mut buf = [0u8; 128];
    let n = std::fs::File::open("/proc/self/statm")
        .and_then(|mut f| f.read(&mut buf))
        .ok()?;
    let pages: u64 = std::str::from_utf8(&buf[..n])
        .ok()?
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok().filter(|&p| p > 0)?)
}
