//! Native code addresses to names: which mapped file an address is in (NT_FILE), and which
//! symbol of that file, with the file's load bias applied.
//!
//! The executable is given (it was already opened and checked against the core); libraries
//! are opened from the paths the core recorded, lazily, and only used when their build ID
//! matches the one in the dumped ELF header (a library upgraded since the crash would give
//! wrong names).

use crate::core::MappedFile;
use crate::elfimage::{build_id_in_memory, ElfImage};
use crate::memory::{Address, Memory};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// One mapping of an ELF file (a file can be mapped several times: V8 maps the embedded
/// builtins of the node binary a second time, next to its JIT code).
#[derive(Debug, Clone)]
struct Module {
    path: String,
    /// Start of the mapping.
    start: u64,
    /// Its end.
    end: u64,
    /// File offset of `start`.
    file_offset: u64,
    /// Lowest mapped address of the file (its ELF header), for the build ID.
    header: u64,
}

/// What a native address is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct NativeSymbol {
    /// File name of the module (`node`, `libc.so.6`).
    pub module: String,
    /// Demangled symbol, when the module's symbols are known.
    pub symbol: Option<String>,
    /// Offset into the symbol (or into the module when there is no symbol).
    pub offset: u64,
    /// Source file and line from DWARF, when present.
    pub source: Option<(String, u32)>,
}

/// Symbolizes addresses of one core.
pub struct Modules {
    modules: Vec<Module>,
    exe: Option<(String, Arc<ElfImage>)>,
    opened: Mutex<HashMap<String, Option<Arc<ElfImage>>>>,
}

impl Modules {
    /// The mapped files of a process; `exe` is the executable already opened for it, with the
    /// path the process had for it (it may have been substituted by another file).
    pub fn new(files: &[MappedFile], exe: Option<(Option<String>, Arc<ElfImage>)>) -> Modules {
        let mut header: HashMap<&str, u64> = HashMap::new();
        for f in files {
            let h = header.entry(f.path.as_str()).or_insert(f.start.0);
            *h = (*h).min(f.start.0);
        }
        let mut modules: Vec<Module> = files
            .iter()
            .map(|f| Module {
                path: f.path.clone(),
                start: f.start.0,
                end: f.end.0,
                file_offset: f.file_offset,
                header: header.get(f.path.as_str()).copied().unwrap_or(f.start.0),
            })
            .collect();
        modules.sort_by_key(|m| m.start);
        let exe = exe.map(|(recorded, e)| {
            let path = recorded
                .filter(|r| modules.iter().any(|m| &m.path == r))
                .or_else(|| {
                    modules
                        .iter()
                        .find(|m| same_file(&m.path, e.path()))
                        .map(|m| m.path.clone())
                })
                .unwrap_or_else(|| e.path().display().to_string());
            (path, e)
        });
        Modules {
            modules,
            exe,
            opened: Mutex::new(HashMap::new()),
        }
    }

    fn module_at(&self, addr: u64) -> Option<&Module> {
        let i = self
            .modules
            .partition_point(|m| m.start <= addr)
            .checked_sub(1)?;
        let m = &self.modules[i];
        (addr < m.end).then_some(m)
    }

    /// The image of module `m`, opened once; `None` when it is missing on disk or its build ID
    /// differs from the dumped one.
    fn image(&self, m: &Module, mem: &dyn Memory) -> Option<Arc<ElfImage>> {
        if let Some((p, e)) = &self.exe {
            if *p == m.path {
                return Some(e.clone());
            }
        }
        let mut opened = self.opened.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(x) = opened.get(&m.path) {
            return x.clone();
        }
        let img = ElfImage::open(&m.path).ok().filter(|img| {
            match build_id_in_memory(mem, Address(m.header)) {
                Ok(Some(id)) => img.build_id() == Some(id.as_slice()),
                // Not dumped: trust the path.
                _ => true,
            }
        });
        let img = img.map(Arc::new);
        opened.insert(m.path.clone(), img.clone());
        img
    }

    /// The CFI row for runtime code address `addr`, from its module's `.eh_frame`.
    pub fn unwind_row(&self, addr: u64, mem: &dyn Memory) -> Option<crate::elfimage::UnwindRow> {
        let m = self.module_at(addr)?;
        let img = self.image(m, mem)?;
        img.unwind_row(link_address(&img, m, addr)?)
    }

    /// Whether `addr` lies in a mapped file.
    pub fn contains(&self, addr: u64) -> bool {
        self.module_at(addr).is_some()
    }

    /// Name the native address `addr` (`mem` reads the dumped ELF headers for build IDs).
    pub fn symbolize(&self, addr: u64, mem: &dyn Memory) -> Option<NativeSymbol> {
        let m = self.module_at(addr)?;
        let module = Path::new(&m.path)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| m.path.clone());
        let unnamed = NativeSymbol {
            module: module.clone(),
            symbol: None,
            offset: addr - m.start + m.file_offset,
            source: None,
        };
        let Some(img) = self.image(m, mem) else {
            return Some(unnamed);
        };
        let Some(link) = link_address(&img, m, addr) else {
            return Some(unnamed);
        };
        match img.symbolize(link) {
            Some((s, off)) => Some(NativeSymbol {
                module,
                symbol: Some(s.demangled()),
                offset: off,
                source: img.source_line(link),
            }),
            None => Some(unnamed),
        }
    }
}

/// The link-time address of runtime address `addr` in mapping `m` of `img`: through the file
/// offset, so that a second mapping of the same bytes names the same code.
fn link_address(img: &ElfImage, m: &Module, addr: u64) -> Option<u64> {
    let off = m.file_offset + (addr - m.start);
    img.load_segments()
        .iter()
        .find(|l| l.offset <= off && off < l.offset + l.filesz)
        .map(|l| l.vaddr + (off - l.offset))
}

fn same_file(recorded: &str, path: &Path) -> bool {
    let r = Path::new(recorded.trim_end_matches(" (deleted)"));
    r == path
        || std::fs::canonicalize(r).ok() == std::fs::canonicalize(path).ok()
            && std::fs::canonicalize(path).is_ok()
}
