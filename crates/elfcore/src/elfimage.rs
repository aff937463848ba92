//! An executable or shared library on disk: load segments, build ID, symbols and DWARF lines.
//!
//! The node binaries this tool targets are non-PIE x86-64 executables with full `.symtab`
//! (V8's `v8dbg_*` constants and C++ symbols) and DWARF only for a few C files, so symbol tables
//! carry most of the weight; DWARF lines are used where present.

use crate::core::{elf_type_name, iter_notes, map_file, parse_header, program_headers};
use crate::error::{Error, Result};
use crate::memory::{Address, MemError, Memory};
use memmap2::Mmap;
use object::elf;
use object::read::elf::{FileHeader, ProgramHeader};
use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// A symbol of an ELF image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbol {
    /// Raw (mangled) name (shared with the index by name: a node binary has about 180,000
    /// symbols, most of them long C++ names).
    pub name: Arc<str>,
    /// Address (link-time; add the load bias for a PIE or library).
    pub addr: u64,
    /// Size in bytes (0 when unknown).
    pub size: u64,
    /// Whether this is a thread-local (`STT_TLS`) symbol, whose address is an offset in the
    /// TLS block rather than an address.
    pub tls: bool,
    /// Whether the symbol names code.
    pub text: bool,
}

impl Symbol {
    /// The demangled C++ name, or the raw name when it is not a mangled C++ name.
    pub fn demangled(&self) -> String {
        demangle(&self.name)
    }
}

/// Demangle an Itanium C++ name; anything else comes back unchanged.
pub fn demangle(name: &str) -> String {
    if name.starts_with("_Z") {
        if let Ok(sym) = cpp_demangle::Symbol::new(name) {
            if let Ok(s) = sym.demangle(&cpp_demangle::DemangleOptions::default()) {
                return s;
            }
        }
    }
    name.to_string()
}

/// A PT_LOAD segment of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadSegment {
    /// Link-time virtual address.
    pub vaddr: u64,
    /// Bytes in memory.
    pub memsz: u64,
    /// File offset.
    pub offset: u64,
    /// Bytes in the file (the rest, up to memsz, is zero-filled `.bss`).
    pub filesz: u64,
    /// PF_* flags.
    pub flags: u32,
}

struct SymbolIndex {
    /// Indexes into `all` of the non-TLS symbols with an address, sorted by address (one per
    /// address: the largest).
    by_addr: Vec<u32>,
    /// Name -> index into `all` (the first symbol of that name).
    by_name: HashMap<Arc<str>, u32>,
    all: Vec<Symbol>,
}

type Lines = addr2line::Context<gimli::EndianArcSlice<gimli::LittleEndian>>;

/// An ELF executable or shared object, memory-mapped.
pub struct ElfImage {
    path: PathBuf,
    arch: crate::Arch,
    entry: u64,
    map: Mmap,
    elf_type: u16,
    loads: Vec<LoadSegment>,
    tls: Option<(u64, u64)>,
    build_id: Option<Vec<u8>>,
    symbols: OnceLock<SymbolIndex>,
    // addr2line's context caches with OnceCell (not Sync): one lock keeps the image shareable.
    lines: OnceLock<Option<Mutex<Lines>>>,
    /// `.eh_frame`: (section address, FDE ranges sorted by start as (start, end, offset)).
    eh_frame: OnceLock<Option<EhIndex>>,
}

struct EhIndex {
    addr: u64,
    offset: usize,
    size: usize,
    fdes: Vec<(u64, u64, usize)>,
}

/// How to find a caller's registers from a frame's, at one code address (DWARF CFI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnwindRow {
    /// The CFA is this register plus `cfa_offset`.
    pub cfa_register: CfaBase,
    /// Offset added to the CFA register.
    pub cfa_offset: i64,
    /// The return address is saved at CFA + this offset (`None`: it is still in the link
    /// register, as in an arm64 function before it saves x30).
    pub ra_offset: Option<i64>,
    /// The caller's frame pointer is saved at CFA + this offset (`None`: it is unchanged).
    pub fp_offset: Option<i64>,
}

/// The register the CFA of an [`UnwindRow`] is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CfaBase {
    /// The stack pointer (rsp, sp).
    Sp,
    /// The frame pointer (rbp, x29).
    Fp,
}

impl std::fmt::Debug for ElfImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElfImage")
            .field("path", &self.path)
            .finish()
    }
}

impl ElfImage {
    /// Open an executable or shared library.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let map = map_file(path)?;
        let data: &[u8] = &map;
        let (hdr, arch) = parse_header(path, data)?;
        let e = object::LittleEndian;
        let elf_type = hdr.e_type(e);
        if elf_type != elf::ET_EXEC && elf_type != elf::ET_DYN {
            return Err(Error::Malformed {
                path: path.into(),
                what: format!(
                    "expected an executable, found an ELF {}",
                    elf_type_name(elf_type)
                ),
            });
        }
        let phdrs = program_headers(path, hdr, data)?;
        let mut loads = Vec::new();
        let mut tls = None;
        let mut build_id = None;
        for ph in phdrs {
            match ph.p_type(e) {
                elf::PT_LOAD => loads.push(LoadSegment {
                    vaddr: ph.p_vaddr(e),
                    memsz: ph.p_memsz(e),
                    offset: ph.p_offset(e),
                    filesz: ph.p_filesz(e),
                    flags: ph.p_flags(e),
                }),
                elf::PT_TLS => tls = Some((ph.p_memsz(e), ph.p_align(e))),
                elf::PT_NOTE => {
                    let (o, s) = (ph.p_offset(e) as usize, ph.p_filesz(e) as usize);
                    if let Some(notes) = data.get(o..o.saturating_add(s)) {
                        build_id = build_id.or_else(|| find_build_id(notes));
                    }
                }
                _ => {}
            }
        }
        loads.sort_by_key(|l| l.vaddr);
        Ok(ElfImage {
            path: path.into(),
            arch,
            entry: hdr.e_entry(e),
            map,
            elf_type,
            loads,
            tls,
            build_id,
            symbols: OnceLock::new(),
            lines: OnceLock::new(),
            eh_frame: OnceLock::new(),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// The architecture the image is built for.
    pub fn arch(&self) -> crate::Arch {
        self.arch
    }
    /// The link-time entry point (`e_entry`).
    pub fn entry(&self) -> u64 {
        self.entry
    }
    /// The whole file.
    pub fn data(&self) -> &[u8] {
        &self.map
    }
    /// Whether the image is position-independent (ET_DYN) and so loaded at a bias.
    pub fn is_pie(&self) -> bool {
        self.elf_type == elf::ET_DYN
    }
    /// GNU build ID (NT_GNU_BUILD_ID), if the image has one.
    pub fn build_id(&self) -> Option<&[u8]> {
        self.build_id.as_deref()
    }
    /// PT_LOAD segments sorted by address.
    pub fn load_segments(&self) -> &[LoadSegment] {
        &self.loads
    }
    /// PT_TLS (memsz, align), if the image has thread-local storage.
    pub fn tls_segment(&self) -> Option<(u64, u64)> {
        self.tls
    }
    /// Lowest link-time load address (page-aligned), to compute a load bias from a mapping.
    pub fn base_vaddr(&self) -> u64 {
        self.loads.first().map(|l| l.vaddr & !0xfff).unwrap_or(0)
    }

    fn index(&self) -> &SymbolIndex {
        self.symbols.get_or_init(|| {
            let mut all: Vec<Symbol> = Vec::new();
            if let Ok(file) = object::File::parse(&*self.map) {
                for sym in file.symbols().chain(file.dynamic_symbols()) {
                    let Ok(name) = sym.name() else { continue };
                    // `$x`, `$d`, `$x.12`: the ARM ELF ABI's mapping symbols, which mark where
                    // code and data start; `.annobin_*`: the annobin plugin's build notes. Not
                    // functions.
                    if name.is_empty()
                        || sym.is_undefined()
                        || name.starts_with('$')
                        || name.starts_with(".annobin")
                    {
                        continue;
                    }
                    all.push(Symbol {
                        name: Arc::from(name),
                        addr: sym.address(),
                        size: sym.size(),
                        tls: sym.kind() == SymbolKind::Tls,
                        text: sym.kind() == SymbolKind::Text,
                    });
                }
            }
            let mut by_name = HashMap::with_capacity(all.len());
            for (i, s) in all.iter().enumerate() {
                by_name.entry(s.name.clone()).or_insert(i as u32);
            }
            let mut by_addr: Vec<u32> = (0..all.len() as u32)
                .filter(|&i| !all[i as usize].tls && all[i as usize].addr != 0)
                .collect();
            // By address, the largest first (a stable sort: then in table order); the first
            // of each address is kept.
            by_addr.sort_by_key(|&i| {
                let s = &all[i as usize];
                (s.addr, std::cmp::Reverse(s.size))
            });
            by_addr.dedup_by(|a, b| all[*a as usize].addr == all[*b as usize].addr);
            SymbolIndex {
                by_addr,
                by_name,
                all,
            }
        })
    }

    /// A symbol by its exact raw name (`.symtab` first, then `.dynsym`).
    pub fn symbol(&self, name: &str) -> Option<&Symbol> {
        let idx = self.index();
        idx.by_name.get(name).map(|&i| &idx.all[i as usize])
    }

    /// Every symbol whose raw name starts with `prefix`.
    pub fn symbols_with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = &'a Symbol> + 'a {
        let idx = self.index();
        let mut seen = std::collections::HashSet::new();
        idx.all
            .iter()
            .filter(move |s| s.name.starts_with(prefix) && seen.insert(&*s.name))
    }

    /// The symbol containing link-time address `addr` (or the nearest one below it when sizes
    /// are unknown), with the offset into it.
    pub fn symbolize(&self, addr: u64) -> Option<(&Symbol, u64)> {
        let idx = self.index();
        let i = idx
            .by_addr
            .partition_point(|&s| idx.all[s as usize].addr <= addr);
        let s = &idx.all[*idx.by_addr.get(i.checked_sub(1)?)? as usize];
        let off = addr - s.addr;
        if s.size != 0 && off >= s.size {
            return None;
        }
        // An unsized symbol only counts if the address lies in a mapped executable segment.
        if s.size == 0
            && !self
                .loads
                .iter()
                .any(|l| l.vaddr <= addr && addr < l.vaddr + l.memsz)
        {
            return None;
        }
        Some((s, off))
    }

    fn eh_index(&self) -> Option<&EhIndex> {
        self.eh_frame
            .get_or_init(|| {
                use gimli::UnwindSection;
                let file = object::File::parse(&*self.map).ok()?;
                let sec = file.section_by_name(".eh_frame")?;
                let (offset, size) = sec.file_range()?;
                let (offset, size) = (offset as usize, size as usize);
                let data = self.map.get(offset..offset + size)?;
                let eh = gimli::EhFrame::new(data, gimli::LittleEndian);
                let bases = gimli::BaseAddresses::default().set_eh_frame(sec.address());
                let mut fdes = Vec::new();
                let mut entries = eh.entries(&bases);
                while let Ok(Some(entry)) = entries.next() {
                    if let gimli::CieOrFde::Fde(partial) = entry {
                        if let Ok(fde) = partial.parse(|_, b, o| eh.cie_from_offset(b, o)) {
                            let start = fde.initial_address();
                            fdes.push((start, start + fde.len(), fde.offset()));
                        }
                    }
                    if fdes.len() > 4_000_000 {
                        break;
                    }
                }
                fdes.sort_unstable();
                Some(EhIndex {
                    addr: sec.address(),
                    offset,
                    size,
                    fdes,
                })
            })
            .as_ref()
    }

    /// The CFI row for link-time code address `addr`, from `.eh_frame`, when the image has an
    /// entry for it (V8's embedded builtins and JIT code have none).
    pub fn unwind_row(&self, addr: u64) -> Option<UnwindRow> {
        use gimli::UnwindSection;
        let idx = self.eh_index()?;
        let i = idx.fdes.partition_point(|f| f.0 <= addr).checked_sub(1)?;
        let (start, end, off) = idx.fdes[i];
        if addr < start || addr >= end {
            return None;
        }
        let data = self.map.get(idx.offset..idx.offset + idx.size)?;
        let eh = gimli::EhFrame::new(data, gimli::LittleEndian);
        let bases = gimli::BaseAddresses::default().set_eh_frame(idx.addr);
        let fde = eh
            .fde_from_offset(&bases, gimli::EhFrameOffset(off), |s, b, o| {
                s.cie_from_offset(b, o)
            })
            .ok()?;
        let mut ctx = gimli::UnwindContext::new();
        let row = fde
            .unwind_info_for_address(&eh, &bases, &mut ctx, addr)
            .ok()?;
        let d = self.arch.regs().dwarf;
        let (cfa_register, cfa_offset) = match row.cfa() {
            gimli::CfaRule::RegisterAndOffset { register, offset } if register.0 == d.sp => {
                (CfaBase::Sp, *offset)
            }
            gimli::CfaRule::RegisterAndOffset { register, offset } if register.0 == d.fp => {
                (CfaBase::Fp, *offset)
            }
            _ => return None,
        };
        let at = |reg: u16| match row.register(gimli::Register(reg)) {
            gimli::RegisterRule::Offset(o) => Some(Some(o)),
            gimli::RegisterRule::Undefined | gimli::RegisterRule::SameValue => Some(None),
            _ => None,
        };
        let ra_offset = at(d.ra)?;
        // x86-64's return address is always saved (by the call); only a link register can
        // still hold it.
        if ra_offset.is_none() && self.arch.regs().lr.is_none() {
            return None;
        }
        let fp_offset = at(d.fp)?;
        Some(UnwindRow {
            cfa_register,
            cfa_offset,
            ra_offset,
            fp_offset,
        })
    }

    /// Source file and line of a link-time code address, from DWARF, when the image has it.
    pub fn source_line(&self, addr: u64) -> Option<(String, u32)> {
        let ctx = self
            .lines
            .get_or_init(|| self.load_lines().map(Mutex::new))
            .as_ref()?
            .lock()
            .ok()?;
        let loc = ctx.find_location(addr).ok()??;
        Some((loc.file?.to_string(), loc.line?))
    }

    fn load_lines(&self) -> Option<Lines> {
        let file = object::File::parse(&*self.map).ok()?;
        file.section_by_name(".debug_info")?;
        let load = |id: gimli::SectionId| -> std::result::Result<
            gimli::EndianArcSlice<gimli::LittleEndian>,
            gimli::Error,
        > {
            let data = file
                .section_by_name(id.name())
                .and_then(|s| s.uncompressed_data().ok())
                .unwrap_or_default();
            Ok(gimli::EndianArcSlice::new(
                Arc::from(&*data),
                gimli::LittleEndian,
            ))
        };
        let dwarf = gimli::Dwarf::load(load).ok()?;
        addr2line::Context::from_dwarf(dwarf).ok()
    }

    /// Read bytes at a link-time address from the file (`.bss` reads as zeros).
    pub fn read_static(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr + done as u64;
            let seg = self
                .loads
                .iter()
                .find(|l| l.vaddr <= a && a < l.vaddr + l.memsz)
                .ok_or(MemError::Unmapped { addr: Address(a) })?;
            let rel = a - seg.vaddr;
            let n = ((seg.memsz - rel) as usize).min(buf.len() - done);
            for (k, b) in buf[done..done + n].iter_mut().enumerate() {
                let r = rel + k as u64;
                *b = if r < seg.filesz {
                    self.map
                        .get((seg.offset + r) as usize)
                        .copied()
                        .unwrap_or(0)
                } else {
                    0
                };
            }
            done += n;
        }
        Ok(())
    }
}

/// The GNU build ID in a PT_NOTE payload.
fn find_build_id(notes: &[u8]) -> Option<Vec<u8>> {
    iter_notes(notes)
        .find(|(name, ty, _)| *name == b"GNU" && *ty == elf::NT_GNU_BUILD_ID)
        .map(|(_, _, d)| d.to_vec())
}

/// Read the build ID of the ELF image mapped at `base` in target memory (the kernel dumps the
/// first page of every mapped ELF file, which holds its headers and, in practice, its notes).
/// `Ok(None)` when the image has no build ID; an error when its headers cannot be read.
pub fn build_id_in_memory(mem: &dyn Memory, base: Address) -> Result<Option<Vec<u8>>, MemError> {
    let mut hdr = [0u8; 64];
    mem.read_at(base, &mut hdr)?;
    if &hdr[..4] != b"\x7fELF" || hdr[4] != elf::ELFCLASS64 {
        return Ok(None);
    }
    let phoff = u64::from_le_bytes(hdr[32..40].try_into().unwrap_or_default());
    let phnum = u16::from_le_bytes([hdr[56], hdr[57]]) as u64;
    if phnum > 256 || phoff > 1 << 20 {
        return Ok(None);
    }
    let mut phdrs = vec![0u8; (phnum * 56) as usize];
    mem.read_at(base.wrapping_add(phoff), &mut phdrs)?;
    for ph in phdrs.chunks_exact(56) {
        let ty = u32::from_le_bytes(ph[0..4].try_into().unwrap_or_default());
        if ty != elf::PT_NOTE {
            continue;
        }
        let off = u64::from_le_bytes(ph[8..16].try_into().unwrap_or_default());
        let size = u64::from_le_bytes(ph[32..40].try_into().unwrap_or_default()).min(4096);
        let mut notes = vec![0u8; size as usize];
        mem.read_at(base.wrapping_add(off), &mut notes)?;
        if let Some(id) = find_build_id(&notes) {
            return Ok(Some(id));
        }
    }
    Ok(None)
}

/// Lower-case hex of a build ID.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::ByteImage;

    fn note(name: &[u8], ty: u32, desc: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((name.len() + 1) as u32).to_le_bytes());
        v.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        v.extend_from_slice(&ty.to_le_bytes());
        v.extend_from_slice(name);
        v.push(0);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v.extend_from_slice(desc);
        v
    }

    #[test]
    fn build_id_from_an_in_memory_header() {
        // ELF header with one PT_NOTE at file offset 0x100.
        let mut page = vec![0u8; 0x200];
        page[..4].copy_from_slice(b"\x7fELF");
        page[4] = 2;
        page[32..40].copy_from_slice(&64u64.to_le_bytes());
        page[56..58].copy_from_slice(&1u16.to_le_bytes());
        let n = note(b"GNU", elf::NT_GNU_BUILD_ID, &[0xde, 0xad, 0xbe, 0xef]);
        let ph = &mut page[64..120];
        ph[0..4].copy_from_slice(&elf::PT_NOTE.to_le_bytes());
        ph[8..16].copy_from_slice(&0x100u64.to_le_bytes());
        ph[32..40].copy_from_slice(&(n.len() as u64).to_le_bytes());
        page[0x100..0x100 + n.len()].copy_from_slice(&n);
        let mem = ByteImage::new().with(Address(0x400000), page);
        assert_eq!(
            build_id_in_memory(&mem, Address(0x400000)).unwrap(),
            Some(vec![0xde, 0xad, 0xbe, 0xef])
        );
        assert_eq!(hex(&[0xde, 0xad]), "dead");
        // Not an ELF header: no build ID, no error.
        let mem = ByteImage::new().with(Address(0x1000), vec![0u8; 64]);
        assert_eq!(build_id_in_memory(&mem, Address(0x1000)).unwrap(), None);
        // Unreadable: an error naming the address.
        assert_eq!(
            build_id_in_memory(&mem, Address(0x9000))
                .unwrap_err()
                .addr(),
            Address(0x9000)
        );
    }

    #[test]
    fn demangles_cpp_and_leaves_c_alone() {
        assert_eq!(
            demangle("_ZN2v88internal7Version6major_E"),
            "v8::internal::Version::major_"
        );
        assert_eq!(demangle("main"), "main");
    }

    #[test]
    fn opens_this_test_binary_and_finds_its_symbols() {
        let exe = std::env::current_exe().unwrap();
        let img = ElfImage::open(&exe).unwrap();
        assert!(!img.load_segments().is_empty());
        let main = img.symbols_with_prefix("main").next().is_some() || img.symbol("main").is_some();
        assert!(main, "a test binary has a main symbol");
    }
}

/// The class a vtable symbol (`_ZTV...`) belongs to: `node::TCPWrap` for `_ZTVN4node7TCPWrapE`.
pub fn vtable_class(raw: &str) -> Option<String> {
    let d = demangle(raw.strip_prefix("_ZTV").map(|_| raw)?);
    d.strip_prefix("{vtable(")
        .and_then(|x| x.strip_suffix(")}"))
        .or_else(|| d.strip_prefix("vtable for "))
        .map(str::to_string)
}

#[cfg(test)]
mod demangle_tests {
    #[test]
    fn vtables_name_their_class() {
        assert_eq!(
            super::vtable_class("_ZTVN4node7TCPWrapE").as_deref(),
            Some("node::TCPWrap")
        );
        assert_eq!(
            super::vtable_class("_ZTVN4node12_GLOBAL__N_111FSEventWrapE").as_deref(),
            Some("node::(anonymous namespace)::FSEventWrap")
        );
        assert_eq!(super::vtable_class("_ZN4node5AbortEv"), None);
    }
}
