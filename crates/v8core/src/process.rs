//! Opening a Node.js core: the core, its executable, V8's metadata and heap pages, checked.
//!
//! [`Process::open`] is the one entry point. It runs, in order: open the core; find the
//! executable (given, or the file the core says was mapped at the program entry); verify its
//! build ID against the copy of its ELF header the kernel dumped; load the `v8dbg_` metadata;
//! read the V8 and Node versions; pick the version table; resolve the layout; find the heap
//! pages; locate the Isolate and its roots and check that the meta map is its own map. Each step
//! fails with an error that names the file or address concerned; checks that fail without making
//! the rest meaningless are recorded in [`Process::checks`] instead.

use crate::calibrate::{calibrate, choose_table, RootsProbe, TableChoice};
use crate::error::{Error, Result};
use crate::heap::pages::{find_pages, PageScan};
use crate::heap::walk::{GapKind, Walker};
use crate::meta::enum_decode::decode_instance_types;
use crate::meta::fields::Fields;
use crate::meta::kinds::Kind;
use crate::meta::kinds::KindTable;
use crate::meta::layout::{Layout, Resolved, Source, Tagged};
use crate::meta::metadata::Metadata;
use crate::meta::tables::{PositionTable, V8Version, VersionTable};
use crate::meta::types::InstanceTypes;
use crate::objects::naming::Namer;
use crate::objects::position;
use crate::objects::reader::Reader;
use elfcore::elfimage::{build_id_in_memory, hex};
use elfcore::space::FileLookup;
use elfcore::{
    Address, AddressSpace, CoreDump, CoreFile, Dump, ElfImage, LiveProcess, MappedFile, Memory,
};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How to open a core.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// The node executable; found from the core's mapped files when `None`.
    pub executable: Option<PathBuf>,
    /// Use the executable even if its build ID differs from the core's.
    pub force: bool,
    /// Open a truncated core, answering what its remaining bytes allow.
    pub allow_truncated: bool,
    /// Directories searched (two levels deep) for a node executable whose build ID matches
    /// the core's, when the recorded path is missing or holds another build.
    pub exe_dirs: Vec<PathBuf>,
    /// Use this V8 version's table (`--layout X.Y`), calibrated on the core, instead of the
    /// binary's own.
    pub layout: Option<(u32, u32)>,
    /// Act as if these versions had no table (to see what a future version would get).
    pub hide_tables: Vec<(u32, u32)>,
}

/// The outcome of matching the executable to the core.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExeMatch {
    /// Build IDs equal.
    Verified,
    /// Build IDs differ; used anyway because of `--force`.
    MismatchForced,
    /// Could not compare (no build ID on one side, or its page not in the dump).
    Unverified,
}

/// Which executable is used and how it was checked.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ExeCheck {
    /// The executable's path as the process had it (from NT_FILE), if the core lists it.
    pub recorded_path: Option<String>,
    /// The file used.
    pub path: PathBuf,
    /// Build ID in the core (hex).
    pub core_build_id: Option<String>,
    /// Build ID of the file (hex).
    pub exe_build_id: Option<String>,
    /// Result.
    pub status: ExeMatch,
    /// Why it could not be verified, when it could not.
    pub note: Option<String>,
    /// How the file was chosen: `--executable`, the path the core recorded, or a search of the
    /// executable directories by build ID.
    pub found_by: String,
}

/// One sanity check and its outcome.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Check {
    /// Name.
    pub name: &'static str,
    /// Passed?
    pub ok: bool,
    /// What was seen.
    pub detail: String,
}

/// The Isolate and its roots, as located in the core.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct IsolateInfo {
    /// The Isolate.
    pub isolate: Address,
    /// Its roots table.
    pub roots: Address,
    /// The meta map (map of all maps).
    pub meta_map: Address,
    /// `undefined`.
    pub undefined: Address,
}

/// Versions of the dumped process.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Versions {
    /// V8.
    pub v8: V8Version,
    /// Node.js (`20.20.2`), from `node::per_process::metadata`, when readable.
    pub node: Option<String>,
}

/// An opened, checked Node.js process: a core file, or a stopped live process.
pub struct Process {
    dump: Arc<dyn Dump>,
    exe: Arc<ElfImage>,
    /// Native code symbolization (executable and libraries).
    modules: elfcore::Modules,
    /// How the executable was matched.
    pub exe_check: ExeCheck,
    /// All `v8dbg_` constants.
    pub metadata: Metadata,
    /// Versions.
    pub versions: Versions,
    /// The version table in use (for a version without one: the nearest, calibrated).
    pub table: VersionTable,
    /// What differs between processor architectures (the executable's).
    pub arch: &'static crate::meta::arch::ArchTable,
    /// How the table was chosen.
    pub table_choice: TableChoice,
    /// Table values measured in the core instead (versions without a verified table).
    pub calibrated: Vec<Resolved>,
    /// Resolved object layout.
    pub layout: Layout,
    /// Offsets and encodings for decoding JS values.
    pub fields: Fields,
    /// The complete instance-type enum of this V8 version.
    pub types: InstanceTypes,
    /// Kind and body rule per instance type.
    pub kinds: KindTable,
    /// Heap pages.
    pub pages: PageScan,
    /// The Isolate, if located and verified.
    pub isolate: Option<IsolateInfo>,
    /// Sanity checks run while opening.
    pub checks: Vec<Check>,
}

impl std::fmt::Debug for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("dump", &self.dump.name())
            .field("exe", &self.exe.path())
            .finish()
    }
}

/// `AT_ENTRY`: the program's entry point, inside the executable's text mapping.
const AT_ENTRY: u64 = 9;

/// Old-space pages the checks walk from each end of the list looking for the global object.
const GLOBAL_SEARCH_PAGES: usize = 512;

/// What the sanity checks saw on the old-space pages they walked (one page's, or the sum).
#[derive(Default)]
struct Sample {
    /// Bytes of the pages' areas, and of what in them is neither an object nor unused.
    area: u64,
    bad: u64,
    walked: usize,
    /// Bytecode arrays (at most 64), a global object, constructor names (at most 4096).
    bytecodes: Vec<u64>,
    global: Option<u64>,
    names: std::collections::HashSet<String>,
}

impl Sample {
    fn add(&mut self, o: Sample) {
        self.area += o.area;
        self.bad += o.bad;
        self.walked += o.walked;
        let room = 64usize.saturating_sub(self.bytecodes.len());
        self.bytecodes.extend(o.bytecodes.into_iter().take(room));
        self.global = self.global.or(o.global);
        for n in o.names {
            if self.names.len() < 4096 {
                self.names.insert(n);
            }
        }
    }

    /// Notes object `obj` of `kind` with map `map`: the first global object, and its
    /// snapshot name (at most 4096 names).
    fn note(&mut self, obj: u64, kind: Kind, map: u64, namer: &mut Namer) {
        if kind == Kind::JSGlobalObject && self.global.is_none() {
            self.global = Some(obj);
        }
        if kind.is_snapshot_object() && self.names.len() < 4096 {
            if let Some(n) = namer.snapshot_name(obj, kind, map) {
                self.names.insert(n.to_string());
            }
        }
    }

    /// Whether the global object and the common constructor names were seen.
    fn complete(&self) -> bool {
        self.global.is_some() && self.names.contains("Object") && self.names.contains("Array")
    }
}

/// The executable's path as recorded in the dump: the mapped file holding the entry point,
/// else the first mapped file.
fn recorded_executable_in(entry: Option<u64>, files: &[MappedFile]) -> Option<String> {
    let by_entry = entry
        .and_then(|e| files.iter().find(|f| f.start.0 <= e && e < f.end.0))
        .map(|f| f.path.clone());
    by_entry.or_else(|| files.first().map(|f| f.path.clone()))
}

/// The first file under `dirs` (the directories and their subdirectories, two levels) that
/// `matches`: regular files named `node*` first, then any other file.
fn search_exe_dirs(dirs: &[PathBuf], matches: &dyn Fn(&Path) -> bool) -> Option<PathBuf> {
    let mut files = Vec::new();
    let mut todo: Vec<(PathBuf, usize)> = dirs.iter().map(|d| (d.clone(), 0)).collect();
    while let Some((d, depth)) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() && depth < 2 {
                todo.push((p, depth + 1));
            } else if p.is_file() {
                files.push(p);
            }
            if files.len() > 10_000 {
                break;
            }
        }
    }
    files.sort_by_key(|p| {
        let named_node = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("node"));
        (!named_node, p.clone())
    });
    files.into_iter().find(|p| matches(p))
}

impl Process {
    /// Open `core_path` as options say. See the module docs for the steps.
    pub fn open(core_path: impl AsRef<Path>, opts: &OpenOptions) -> Result<Process> {
        Process::open_wrapped(core_path, opts, |d| d)
    }

    /// [`Process::open`], reading the core's memory through what `wrap` makes of it: the fuzz
    /// targets put a layer of damaged bytes over a real core's heap this way.
    pub fn open_wrapped(
        core_path: impl AsRef<Path>,
        opts: &OpenOptions,
        wrap: impl FnOnce(Arc<dyn Dump>) -> Arc<dyn Dump>,
    ) -> Result<Process> {
        let core_path = core_path.as_ref();
        let mut core = CoreFile::open(core_path)?;
        if !opts.allow_truncated {
            core.check_complete()?;
        }
        // The executable given, opened once.
        let given = opts.executable.as_ref().map(ElfImage::open).transpose()?;
        if let Some(img) = &given {
            check_arch(&core, img)?;
            // A core without NT_FILE (qemu-user's) does not say where the executable was
            // mapped: the one given is placed where its entry point was.
            if core.mapped_files().is_empty() {
                core.infer_executable_mappings(img, &img.path().to_string_lossy());
            }
        }
        let core = Arc::new(core);
        let files = core.mapped_files();
        let recorded = recorded_executable_in(core.auxv_value(AT_ENTRY), files);
        let recorded_file = recorded
            .as_ref()
            .map(|r| PathBuf::from(r.trim_end_matches(" (deleted)")))
            .filter(|p| p.is_file());
        // Which file: --executable as given; else the recorded path when it holds the same
        // build; else a file of the executable directories with the core's build ID.
        let mut found_by = "the path the core recorded".to_string();
        let exe_path = match (&opts.executable, &recorded) {
            (Some(p), _) => {
                found_by = "--executable".into();
                p.clone()
            }
            (None, Some(r)) => {
                let matches = |p: &Path| {
                    ElfImage::open(p)
                        .ok()
                        .map(|img| {
                            check_build_id(&*core, files, core_path, &img, Some(r), false).is_ok()
                        })
                        .unwrap_or(false)
                };
                match recorded_file.filter(|p| opts.exe_dirs.is_empty() || matches(p)) {
                    Some(p) => p,
                    None => match search_exe_dirs(&opts.exe_dirs, &matches) {
                        Some(p) => {
                            found_by = format!("build ID search of {}", p.display());
                            p
                        }
                        None => {
                            return Err(Error::ExecutableNotFound {
                                core: core_path.into(),
                                recorded: r.clone(),
                            })
                        }
                    },
                }
            }
            (None, None) => {
                return Err(Error::NoExecutableInCore {
                    core: core_path.into(),
                })
            }
        };
        let exe = match given {
            Some(img) => img,
            None => ElfImage::open(&exe_path)?,
        };
        check_arch(&core, &exe)?;
        // The build ID in the core's own bytes (the layered space would read it from the very
        // file it is compared with).
        let mut exe_check = check_build_id(
            &*core,
            files,
            core_path,
            &exe,
            recorded.as_deref(),
            opts.force,
        )?;
        exe_check.found_by = found_by;

        let mut lookup = FileLookup {
            from_disk: true,
            ..Default::default()
        };
        if let Some(r) = &recorded {
            lookup.substitutes.insert(r.clone(), exe_path.clone());
        }
        let space = AddressSpace::new(core.clone(), &lookup);
        Process::from_dump(wrap(Arc::new(CoreDump::new(space))), exe, exe_check, opts)
    }

    /// Open a stopped live process (its memory read from `/proc/PID/mem`): `exe` when given,
    /// else the file the process has mapped at its entry point.
    pub fn open_live(
        live: LiveProcess,
        exe: Option<PathBuf>,
        opts: &OpenOptions,
    ) -> Result<Process> {
        let recorded = recorded_executable_in(live.auxv_value(AT_ENTRY), live.mapped_files());
        let exe_path = exe
            .or_else(|| recorded.as_ref().map(PathBuf::from))
            .ok_or_else(|| Error::NoExecutableInCore {
                core: live.name().into(),
            })?;
        let image = ElfImage::open(&exe_path)?;
        let mut exe_check = check_build_id(
            live.memory(),
            live.mapped_files(),
            Path::new(&live.name()),
            &image,
            recorded.as_deref(),
            opts.force,
        )?;
        exe_check.found_by = "the process's own mapping".into();
        Process::from_dump(Arc::new(live), image, exe_check, opts)
    }

    /// Everything after the dump and its executable are known: metadata, version table,
    /// layout, instance types, pages, isolate, checks.
    fn from_dump(
        dump: Arc<dyn Dump>,
        exe: ElfImage,
        exe_check: ExeCheck,
        opts: &OpenOptions,
    ) -> Result<Process> {
        let exe_path = exe.path().to_path_buf();
        let core_path = PathBuf::from(dump.name());
        let space = dump.memory();
        let metadata = Metadata::load(&exe);
        if metadata.is_empty() {
            return Err(Error::NoMetadata { exe: exe_path });
        }
        let v8 = read_v8_version(&exe)?;
        let (mut table, table_choice) =
            choose_table(v8, opts.layout, &opts.hide_tables, &exe_path)?;
        let layout = Layout::resolve(&metadata, &table, v8, &exe_path)?;
        // Another version's enum would be wrong: every minor renumbers the types.
        let decoded = if table_choice.verified() {
            None
        } else {
            Some(
                decode_instance_types(&exe).map_err(|e| Error::UnverifiedTableFailed {
                    version: v8.to_string(),
                    table: table.name(),
                    check: "instance types",
                    detail: format!("the enum cannot be decoded from the binary: {e}"),
                })?,
            )
        };
        let types_for = |table: &VersionTable| match &decoded {
            None => InstanceTypes::load(table, &metadata),
            Some(d) => InstanceTypes::from_names(d.iter().cloned().collect(), table, &metadata),
        };
        let mut types = types_for(&table);
        let node = read_node_version(space, &exe);
        let mut pages = find_pages(&*dump, &table);
        if pages.pages.is_empty() {
            if !table_choice.verified() {
                return Err(Error::UnverifiedTableFailed {
                    version: v8.to_string(),
                    table: table.name(),
                    check: "page headers",
                    detail: "no V8 page header of that table's layout is in the core (the page layout changed between the versions)".into(),
                });
            }
            return Err(Error::NoHeap {
                core: core_path,
                why: no_heap_reason(&*dump, &exe_check, v8),
            });
        }
        let mut calibrated = Vec::new();
        if !table_choice.verified() {
            calibrated = calibrate(&mut table, &*dump, &exe, &metadata, &pages, &layout, &types);
            pages = find_pages(&*dump, &table);
            // The size rules come from the table's sizes, which calibration may have measured.
            types = types_for(&table);
        }
        let fields = Fields::resolve(&metadata, &table, v8, &exe_path)?;
        let exe = Arc::new(exe);
        let modules = elfcore::Modules::new(
            dump.mapped_files(),
            Some((exe_check.recorded_path.clone(), exe.clone())),
        );
        let mut p = Process {
            arch: crate::meta::arch::table(exe.arch()),
            dump,
            exe,
            modules,
            exe_check,
            metadata,
            versions: Versions { v8, node },
            table,
            table_choice,
            calibrated,
            layout,
            fields,
            kinds: KindTable::new(&types),
            types,
            pages,
            isolate: None,
            checks: Vec::new(),
        };
        p.locate_isolate();
        let conflicts = &p.types.conflicts;
        p.checks.push(Check {
            name: "instance types",
            ok: conflicts.is_empty(),
            detail: if conflicts.is_empty() {
                format!(
                    "{} types known; all {} the metadata names agree",
                    p.types.len(),
                    p.metadata.instance_types().count()
                )
            } else {
                format!("the metadata disagrees with the instance types on {conflicts:?}",)
            },
        });
        p.check_heap_sample();
        if !p.table_choice.verified() {
            if let Some(c) = p.checks.iter().find(|c| !c.ok) {
                return Err(Error::UnverifiedTableFailed {
                    version: p.versions.v8.to_string(),
                    table: p.table.name(),
                    check: c.name,
                    detail: c.detail.clone(),
                });
            }
        }
        // Opening read a little of every heap page (the page lists, the checks' sample); each
        // such read maps up to 2 MiB of the core (see `CoreFile::release`). Let them go: the
        // commands read what they need again.
        p.dump().release_all();
        Ok(p)
    }

    /// Every value that came from the version table rather than the binary's own `v8dbg_`
    /// metadata: the class-field and frame-slot fallbacks this binary needed, then the table's
    /// own facts (page header, isolate and roots, ScopeInfo, code kinds, size rules).
    pub fn table_values(&self) -> Vec<Resolved> {
        let table = self.table.name();
        // Measured in the core first (a version without a verified table), then fallbacks.
        let mut out: Vec<Resolved> = self.calibrated.clone();
        out.extend(
            self.layout
                .resolved
                .iter()
                .chain(&self.fields.resolved)
                .filter(|r| matches!(r.source, Source::Table { .. }))
                .cloned(),
        );
        out.dedup_by(|a, b| a.what == b.what);
        let measured: Vec<String> = self.calibrated.iter().map(|r| r.what.clone()).collect();
        out.extend(
            self.table
                .facts()
                .into_iter()
                .filter(|(what, _)| !measured.contains(what))
                .map(|(what, value)| Resolved {
                    what,
                    value,
                    source: Source::Table {
                        table: table.clone(),
                    },
                }),
        );
        out.extend(self.arch.facts().into_iter().map(|(what, value)| Resolved {
            what,
            value,
            source: Source::Table {
                table: self.arch.arch.name().to_string(),
            },
        }));
        out
    }

    /// The core file.
    pub fn dump(&self) -> &dyn Dump {
        &*self.dump
    }
    /// The executable.
    pub fn exe(&self) -> &ElfImage {
        &self.exe
    }
    /// Where a link-time address of the executable is in the process: the same address for a
    /// position-dependent executable (official node builds), moved by the load bias (from the
    /// mapping of the file's first page) for a PIE one.
    pub fn runtime_addr(&self, link: u64) -> u64 {
        if !self.exe.is_pie() {
            return link;
        }
        let path = self.exe.path().to_string_lossy();
        let bias = self
            .dump
            .mapped_files()
            .iter()
            .filter(|f| f.file_offset == 0)
            .find(|f| f.path.trim_end_matches(" (deleted)") == path)
            .or_else(|| self.dump.mapped_files().iter().find(|f| f.file_offset == 0))
            .map(|f| f.start.0.wrapping_sub(self.exe.base_vaddr()))
            .unwrap_or(0);
        link.wrapping_add(bias)
    }
    /// Native code addresses to symbols.
    pub fn modules(&self) -> &elfcore::Modules {
        &self.modules
    }
    /// The process's memory.
    pub fn memory(&self) -> &(dyn Memory + Send + Sync) {
        self.dump.memory()
    }

    /// The map word of the object at tagged pointer `tagged`.
    pub fn map_of(&self, tagged: u64) -> Result<u64> {
        Ok(self
            .memory()
            .read_u64(Tagged(tagged).field(self.layout.heap_object_map as u64))?)
    }
    /// The instance type stored in the map at tagged pointer `map`.
    pub fn instance_type_of_map(&self, map: u64) -> Result<u16> {
        Ok(self
            .memory()
            .read_u16(Tagged(map).field(self.layout.map_instance_type as u64))?)
    }

    /// The Isolate's allocation: its address and its size from the malloc chunk header before
    /// it (128 KiB if that is implausible).
    pub fn isolate_extent(&self) -> Option<(u64, u64)> {
        let a = self.isolate.as_ref()?.isolate.0;
        let chunk = self
            .memory()
            .read_u64(Address(a.wrapping_sub(8)))
            .map(|w| w & !7)
            .ok()
            .filter(|&n| (0x1000..0x40_0000).contains(&n))
            .unwrap_or(0x2_0000);
        Some((a, a + chunk))
    }

    /// Adds to `contexts` (at most 8) the native contexts the words of `bytes` point at,
    /// directly or through a function context (whose map holds its native context).
    fn native_contexts_in(&self, r: &Reader, bytes: &[u8], contexts: &mut Vec<u64>) {
        for c in bytes.chunks_exact(8) {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            let w = u64::from_le_bytes(b);
            if contexts.len() >= 8 || !r.is_heap(w) {
                continue;
            }
            // A function's context leads to its native context through its map.
            let ctx = match r.kind(w) {
                Some(Kind::NativeContext) => Some(w),
                Some(Kind::Context) => r
                    .map(w)
                    .and_then(|m| r.map_constructor(m))
                    .filter(|&c| r.kind(c) == Some(Kind::NativeContext)),
                _ => None,
            };
            if let Some(c) = ctx.filter(|c| !contexts.contains(c)) {
                contexts.push(c);
            }
        }
    }

    /// Each thread's live stack: from its stack pointer to the end of the data the dump holds
    /// of the stack's mapping.
    pub fn live_stacks(&self) -> Vec<(u64, u64)> {
        let core = self.dump();
        let mut out = Vec::new();
        for t in core.threads() {
            let sp = t.regs.sp() & !7;
            if let Some(s) = core
                .segments()
                .iter()
                .find(|s| s.vaddr.0 <= sp && sp < s.end().0)
            {
                out.push((sp, s.vaddr.0 + s.present.min(s.end().0 - s.vaddr.0)));
            }
        }
        out.retain(|&(lo, hi)| lo < hi);
        out
    }

    /// What the native contexts the Isolate or a thread's stack points at hold: the global
    /// object (a slot of the context), and the names of the objects in the context's slots and
    /// in the global object's properties (the built-in prototypes and constructors: `Object`,
    /// `Array`...). At most 8 contexts, 4096 slots and 4096 properties each.
    fn native_context_sample(&self, r: &Reader, namer: &mut Namer) -> Sample {
        let mut f = Sample::default();
        // The Isolate (the context it runs in), then each thread's live stack, at most 1 MiB
        // of it (JavaScript frames keep their context in a slot).
        let mut ranges: Vec<(u64, u64)> = self.isolate_extent().into_iter().collect();
        ranges.extend(
            self.live_stacks()
                .into_iter()
                .map(|(lo, hi)| (lo, hi.min(lo + (1 << 20)))),
        );
        let mut contexts = Vec::new();
        let mut buf = Vec::new();
        for (lo, hi) in ranges.into_iter().filter(|&(lo, hi)| lo < hi) {
            if contexts.len() >= 8 {
                break;
            }
            buf.resize((hi - lo) as usize, 0);
            if self.memory().read_at(Address(lo), &mut buf).is_ok() {
                self.native_contexts_in(r, &buf, &mut contexts);
            }
        }
        let mut name = |f: &mut Sample, o: u64| {
            if let Some(map) = r.map(o) {
                if let Some(t) = r.map_type(map) {
                    f.note(o, self.kinds.kind(t), map, namer);
                }
            }
        };
        for ctx in contexts {
            let len = r.array_length(ctx).unwrap_or(0).min(4096);
            for i in 0..len {
                if let Some(v) = r.array_get(ctx, i).filter(|&v| r.is_heap(v)) {
                    name(&mut f, v);
                }
            }
        }
        if let Some(g) = f.global {
            for p in r.own_properties(g, 4096).unwrap_or_default() {
                if !p.accessor && r.is_heap(p.value) {
                    name(&mut f, p.value);
                }
            }
        }
        f
    }

    /// Checks on a sample of the heap: the page lists walk; the old-space pages walk with few
    /// stretches that are not objects (beyond unused allocation buffers); the global object
    /// has its `globalThis`; the objects found include the names every Node.js heap has.
    fn check_heap_sample(&mut self) {
        let unwalkable = self.pages.unwalkable_lists.len();
        let lists = Check {
            name: "page lists",
            ok: unwalkable == 0,
            detail: if unwalkable == 0 {
                let cut = self.pages.cut_lists.len();
                format!(
                    "every space's page list walks ({} pages listed, {} pooled left out{})",
                    self.pages.pages.len(),
                    self.pages.unlisted_pages.len(),
                    if cut > 0 {
                        format!("; {cut} run into memory missing from the core")
                    } else {
                        String::new()
                    }
                )
            } else {
                format!("{unwalkable} spaces' page lists do not walk")
            },
        };
        let (walk, global, names, positions, enc) = {
            let r = Reader::new(self);
            let mut namer = Namer::new(r);
            let mut w = Walker::new(self);
            let bytecode_type = self.types.value("BYTECODE_ARRAY_TYPE");
            let mut bytecodes = Vec::new();
            // Bytecode lives in trusted space from V8 12: walk a few of its pages for some.
            for page in self
                .pages
                .pages
                .iter()
                .filter(|p| p.space == "trusted_space")
                .take(4)
            {
                w.walk_page(page, |o| {
                    if Some(o.instance_type) == bytecode_type && bytecodes.len() < 64 {
                        bytecodes.push(o.tagged());
                    }
                });
            }
            // The first old-space pages (the statistics, and where a small heap keeps its
            // global object), then the last ones: a large heap's compactions move the global
            // object to a late page (on the 1.2 GB benchmark core, page 3381 of 3836); then
            // the rest, while the global object or the common constructor names are not yet
            // found (a heap of gigabytes of one class can hold them on any page: a 2 GB
            // scale_heap core keeps its global object on neither end).
            let old: Vec<&crate::heap::pages::Page> = self
                .pages
                .pages
                .iter()
                .filter(|p| p.space == "old_space")
                .collect();
            let ends = old.len().min(GLOBAL_SEARCH_PAGES);
            let last = (ends..old.len()).rev().take(GLOBAL_SEARCH_PAGES);
            let middle_end = old.len().saturating_sub(GLOBAL_SEARCH_PAGES).max(ends);
            let visit = |w: &mut Walker, namer: &mut Namer, page: &crate::heap::pages::Page| {
                let mut objs = Vec::new();
                let (t, gaps) =
                    w.walk_page(page, |o| objs.push((o.tagged(), o.instance_type, o.map)));
                let mut f = Sample {
                    area: t.area_bytes,
                    bad: gaps
                        .iter()
                        .filter(|g| g.why != GapKind::Zero)
                        .map(|g| g.len)
                        .sum::<u64>(),
                    walked: 1,
                    ..Default::default()
                };
                let mut seen: std::collections::HashSet<u64> = Default::default();
                for (obj, ty, map) in objs {
                    if Some(ty) == bytecode_type && f.bytecodes.len() < 64 {
                        f.bytecodes.push(obj);
                    }
                    let kind = self.kinds.kind(ty);
                    // A page's constructor names once per map.
                    if kind == Kind::JSGlobalObject || seen.insert(map) {
                        f.note(obj, kind, map, namer);
                    }
                }
                self.dump().release(page.base, page.size);
                f
            };
            // The isolate points at the native context it runs in, which holds the global
            // object and the built-in constructors and prototypes: on a heap of gigabytes this
            // finds them without a search of the pages.
            let mut sample = self.native_context_sample(&r, &mut namer);
            sample.bytecodes = bytecodes;
            for page in (0..ends).chain(last).map(|k| old[k]) {
                sample.add(visit(&mut w, &mut namer, page));
                if sample.walked >= 64 && sample.complete() {
                    break;
                }
            }
            // The rest, on every core a batch at a time, while something is missing.
            for batch in old[ends..middle_end].chunks(64) {
                if sample.complete() {
                    break;
                }
                use rayon::prelude::*;
                let pages: Vec<Sample> = batch
                    .par_iter()
                    .map_init(
                        || (Walker::new(self), Namer::new(r)),
                        |(w, namer), page| visit(w, namer, page),
                    )
                    .collect();
                pages.into_iter().for_each(|f| sample.add(f));
            }
            let Sample {
                area,
                bad,
                walked,
                bytecodes,
                global,
                names,
            } = sample;
            let share = if area == 0 {
                1.0
            } else {
                bad as f64 / area as f64
            };
            let walk = Check {
                name: "walk",
                ok: area > 0 && share <= 0.02,
                detail: format!(
                    "{walked} old-space pages walked: {:.2}% of their {} KiB are neither objects nor unused allocation buffers",
                    100.0 * share,
                    area >> 10
                ),
            };
            let props: Vec<String> = global
                .and_then(|g| r.own_properties(g, 1 << 12))
                .unwrap_or_default()
                .into_iter()
                .map(|p| p.key.to_string())
                .collect();
            let has_this = props.iter().any(|k| k == "globalThis");
            let global = Check {
                name: "global object",
                ok: has_this,
                detail: match global {
                    None => {
                        "no global object in the isolate's native context or among the pages walked"
                            .into()
                    }
                    Some(g) if has_this => format!(
                        "{g:#x} has its globalThis among {} own properties",
                        props.len()
                    ),
                    Some(g) => format!(
                        "{g:#x}'s {} own properties do not include globalThis",
                        props.len()
                    ),
                },
            };
            let want = ["Object", "Array"];
            let missing: Vec<&str> = want
                .iter()
                .filter(|n| !names.contains(**n))
                .copied()
                .collect();
            let names = Check {
                name: "object names",
                ok: missing.is_empty(),
                detail: if missing.is_empty() {
                    format!(
                        "{} constructor names found, {} among them",
                        names.len(),
                        want.join(" and ")
                    )
                } else {
                    format!(
                        "{} constructor names found, but not {}",
                        names.len(),
                        missing.join(", ")
                    )
                },
            };
            // Source position tables that decode in the table's encoding; for a version
            // without a verified table, the other encoding is tried too.
            let tables: Vec<(Vec<u8>, u64)> = bytecodes
                .iter()
                .filter_map(|&b| {
                    let len = r.smi(r.slot(b, self.layout.fixed_array_length as u64)?)?;
                    Some((position::position_table_bytes(&r, b)?, len.max(0) as u64))
                })
                .collect();
            let fits = |enc| {
                tables
                    .iter()
                    .filter(|(t, len)| position::table_fits(t, enc, *len))
                    .count()
            };
            let mut enc = self.table.position_table;
            if !self.table_choice.verified() && fits(enc) < tables.len() {
                let other = match enc {
                    PositionTable::SignedDelta => PositionTable::FlaggedDelta,
                    PositionTable::FlaggedDelta => PositionTable::SignedDelta,
                };
                if fits(other) > fits(enc) {
                    enc = other;
                }
            }
            let n = fits(enc);
            let positions = Check {
                name: "source positions",
                ok: tables.is_empty() || n * 10 >= tables.len() * 9,
                detail: format!(
                    "{n} of {} bytecode arrays' position tables decode ({:?})",
                    tables.len(),
                    enc
                ),
            };
            (walk, global, names, positions, enc)
        };
        if enc != self.table.position_table {
            self.table.position_table = enc;
            self.calibrated.push(Resolved {
                what: "code.position_table_flagged".into(),
                value: (enc == PositionTable::FlaggedDelta) as i64,
                source: Source::Core,
            });
        }
        self.checks.extend([lists, walk, global, names, positions]);
    }

    fn locate_isolate(&mut self) {
        let t = self.table;
        let l = &self.layout;
        let isolate = Address(self.pages.heap.0.wrapping_sub(t.isolate_heap_offset));
        let roots = isolate.wrapping_add(t.isolate_roots_offset);
        let root = |i: u64| self.memory().read_u64(roots.wrapping_add(i * 8)).ok();
        let outcome = RootsProbe::new(self.memory(), l, &self.metadata, &self.types)
            .fit(roots.0, &t.roots)
            .map(|()| {
                (
                    root(t.roots.meta_map).unwrap_or(0),
                    root(t.roots.undefined).unwrap_or(0),
                )
            });
        match outcome {
            Ok((meta, undefined)) => {
                let ro = self
                    .pages
                    .page_of(Address(meta))
                    .map(|p| p.space.clone())
                    .unwrap_or_else(|| "no page".into());
                self.checks.push(Check {
                    name: "roots table",
                    ok: true,
                    detail: format!("isolate {isolate}, roots at {roots}; meta map {:#x} (in {ro}) is its own map and of MAP_TYPE {}; the oddballs, the hole and the empty string are where the table says", meta, l.map_type),
                });
                self.isolate = Some(IsolateInfo {
                    isolate,
                    roots,
                    meta_map: Address(meta),
                    undefined: Address(undefined),
                });
            }
            Err(why) => self.checks.push(Check {
                name: "roots table",
                ok: false,
                detail: format!(
                    "isolate assumed at heap {} - {:#x} = {isolate}: {why}",
                    self.pages.heap, t.isolate_heap_offset
                ),
            }),
        }
        let heaps = self.pages.other_heap_pages.len();
        self.checks.push(Check {
            name: "one heap",
            ok: true,
            detail: if heaps == 0 {
                format!(
                    "all {} pages belong to heap {} or the shared read-only space",
                    self.pages.pages.len(),
                    self.pages.heap
                )
            } else {
                format!("{heaps} pages belong to other heaps (worker threads?); they are left out")
            },
        });
    }
}

/// The executable must be for the processor the core's process ran on (its layouts, registers
/// and code are that processor's).
fn check_arch(core: &CoreFile, exe: &ElfImage) -> Result<()> {
    if core.arch() != exe.arch() {
        return Err(Error::ArchMismatch {
            core: core.path().into(),
            exe: exe.path().into(),
            core_arch: core.arch(),
            exe_arch: exe.arch(),
        });
    }
    Ok(())
}

/// Compare the build ID of `exe` with the one in the ELF header the process had mapped (read
/// from `mem`, the dump's own bytes) for the file recorded as `recorded`.
fn check_build_id(
    mem: &dyn Memory,
    files: &[MappedFile],
    dump_name: &Path,
    exe: &ElfImage,
    recorded: Option<&str>,
    force: bool,
) -> Result<ExeCheck> {
    let exe_id = exe.build_id().map(hex);
    let base = recorded
        .and_then(|r| files.iter().find(|f| f.path == r && f.file_offset == 0))
        .map(|f| f.start);
    let mut check = ExeCheck {
        recorded_path: recorded.map(String::from),
        path: exe.path().into(),
        core_build_id: None,
        exe_build_id: exe_id.clone(),
        status: ExeMatch::Unverified,
        note: None,
        found_by: String::new(),
    };
    let Some(base) = base else {
        check.note = Some("the core does not list the executable's first page".into());
        return Ok(check);
    };
    let core_id = match build_id_in_memory(mem, base) {
        Ok(Some(id)) => hex(&id),
        Ok(None) => {
            check.note = Some("the executable's header in the core has no build ID".into());
            return Ok(check);
        }
        Err(e) => {
            check.note = Some(format!("the executable's header is not in the dump: {e}"));
            return Ok(check);
        }
    };
    check.core_build_id = Some(core_id.clone());
    match exe_id {
        None => check.note = Some("the executable has no build ID".into()),
        Some(id) if id == core_id => check.status = ExeMatch::Verified,
        Some(id) if force => {
            check.status = ExeMatch::MismatchForced;
            check.note = Some(format!(
                "build IDs differ (core {core_id}, file {id}); used because of --force"
            ));
        }
        Some(id) => {
            return Err(Error::BuildIdMismatch {
                core: dump_name.into(),
                exe: exe.path().into(),
                core_id,
                exe_id: id,
            });
        }
    }
    Ok(check)
}

/// Read `v8::internal::Version::{major_,minor_,build_,patch_}`. They are constant-initialized
/// data, so the executable's own bytes are read: the version then always describes the binary
/// whose metadata is used, even when `--force` pairs it with a foreign core.
fn read_v8_version(exe: &ElfImage) -> Result<V8Version> {
    let read = |field: &str| -> Result<u32> {
        let name = format!("_ZN2v88internal7Version{}{}E", field.len(), field);
        let sym = exe.symbol(&name).ok_or_else(|| {
            Error::Elf(elfcore::Error::NoSymbol {
                path: exe.path().into(),
                name: format!("v8::internal::Version::{field} ({name})"),
            })
        })?;
        let mut b = [0u8; 4];
        exe.read_static(sym.addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    };
    Ok(V8Version {
        major: read("major_")?,
        minor: read("minor_")?,
        build: read("build_")?,
        patch: read("patch_")?,
    })
}

/// Read `node::per_process::metadata.versions.node`, a libstdc++ `std::string` (pointer, length,
/// inline buffer) at the start of the struct. `None` when absent or implausible.
fn read_node_version(mem: &dyn Memory, exe: &ElfImage) -> Option<String> {
    let sym = exe.symbol("_ZN4node11per_process8metadataE")?;
    let ptr = mem.read_u64(Address(sym.addr)).ok()?;
    let len = mem.read_u64(Address(sym.addr + 8)).ok()?;
    if len == 0 || len > 32 {
        return None;
    }
    let bytes = mem.read_vec(Address(ptr), len as usize).ok()?;
    let s = String::from_utf8(bytes).ok()?;
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        .then_some(s)
}

/// Why a core has no V8 heap page, from what else is known of it (for [`Error::NoHeap`]).
fn no_heap_reason(dump: &dyn Dump, exe: &ExeCheck, v8: V8Version) -> String {
    if exe.status == ExeMatch::MismatchForced {
        return format!(
            "the executable was used despite a build-ID mismatch (--force), and its V8 {v8} \
             does not lay out pages as the process that wrote the core did: give the node \
             binary that produced it"
        );
    }
    if let Some(t) = dump.truncation() {
        return format!(
            "the core is truncated ({} of {} bytes present, {} segments cut short): the heap's \
             pages are in the missing part",
            t.file_size,
            t.expected_size,
            t.segments.len()
        );
    }
    "the process had not started V8, or the core lacks its anonymous memory (check \
     /proc/PID/coredump_filter)"
        .into()
}
