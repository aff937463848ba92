//! `v8dump._v8dump`: the v8dump library as a Python extension module (PyO3, abi3: one build
//! for every CPython 3.8+, including the one lldb embeds).
//!
//! `open(core)` opens a core into a `Core`, which wraps the library's `Session`. Each method
//! parses its arguments, asks the session one question, and returns the answer: as plain
//! Python data (through its JSON: exactly the shape `v8dump <command> --json` prints), or, with
//! `text=True`, as the text the CLI prints. Nothing here computes or formats an answer. Library
//! errors become `V8DumpError` with the library's message; long work releases the GIL.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyString;
use serde::Serialize;
use std::path::PathBuf;
use v8core::answer::Answer;
use v8core::inspect::Limits;
use v8core::render::Render;
use v8core::session::{diff as diff_sides, parse_address, ObjectsQuery};
use v8core::{OpenOptions, Session};

create_exception!(
    _v8dump,
    V8DumpError,
    PyException,
    "An error from v8dump: the core, the executable or an address could not be used."
);

fn err(e: impl std::fmt::Display) -> PyErr {
    V8DumpError::new_err(e.to_string())
}

/// An answer as Python data (its JSON through `json.loads`) or as its text.
fn answer<'py, T: Serialize + Render>(
    py: Python<'py>,
    a: &Answer<T>,
    text: bool,
) -> PyResult<Bound<'py, PyAny>> {
    if text {
        return Ok(PyString::new(py, &a.text()).into_any());
    }
    let s = serde_json::to_string(a).map_err(err)?;
    py.import("json")?.call_method1("loads", (s,))
}

/// An address given as an int or a string (`0x...` or decimal).
fn address(a: &Bound<'_, PyAny>) -> PyResult<u64> {
    if let Ok(v) = a.extract::<u64>() {
        return Ok(v);
    }
    if !a.is_instance_of::<PyString>() {
        return Err(err("an address is an int or a string like '0x1234'"));
    }
    parse_address(&a.extract::<String>()?).map_err(err)
}

fn options(
    executable: Option<PathBuf>,
    force: bool,
    allow_truncated: bool,
    exe_dirs: Option<Vec<PathBuf>>,
    layout: Option<&str>,
) -> PyResult<OpenOptions> {
    let layout = layout
        .map(|l| {
            v8core::calibrate::parse_minor(l)
                .ok_or_else(|| err(format!("{l:?} is not a V8 version like '14.6'")))
        })
        .transpose()?;
    Ok(OpenOptions {
        executable,
        force,
        allow_truncated,
        exe_dirs: exe_dirs.unwrap_or_default(),
        layout,
        hide_tables: Vec::new(),
    })
}

/// `flamegraph(format=...)`: a format's name as Python passes it.
fn flame_format(f: Option<&str>) -> PyResult<Option<v8core::flame::FlameFormat>> {
    use v8core::flame::FlameFormat;
    f.map(|f| match f {
        "svg" => Ok(FlameFormat::Svg),
        "folded" => Ok(FlameFormat::Folded),
        "pprof" => Ok(FlameFormat::Pprof),
        "json" => Ok(FlameFormat::Json),
        other => Err(err(format!(
            "{other:?} is not a flame graph format: svg, folded, pprof or json"
        ))),
    })
    .transpose()
}

fn tree_options(min_share: f64, max_depth: usize) -> v8core::flame::TreeOptions {
    v8core::flame::TreeOptions {
        min_share: min_share / 100.0,
        max_depth,
        ..Default::default()
    }
}

/// An opened core.
#[pyclass(module = "v8dump._v8dump", name = "Core", frozen)]
struct Core {
    s: Session,
}

#[pymethods]
impl Core {
    /// What the core is: crash, versions, executable check, heap pages per space (`info`).
    #[pyo3(signature = (pages=false, text=false))]
    fn info<'py>(&self, py: Python<'py>, pages: bool, text: bool) -> PyResult<Bound<'py, PyAny>> {
        let a = py.detach(|| self.s.info(pages));
        answer(py, &a, text)
    }

    /// Objects per constructor (`findjsobjects`).
    #[pyo3(signature = (all=false, detailed=false, retained=false, top=None, all_types=false, text=false))]
    #[allow(clippy::too_many_arguments)]
    fn histogram<'py>(
        &self,
        py: Python<'py>,
        all: bool,
        detailed: bool,
        retained: bool,
        top: Option<usize>,
        all_types: bool,
        text: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let q = ObjectsQuery {
            all,
            by_properties: detailed,
            retained,
            top,
            all_types,
        };
        let a = py.detach(|| self.s.objects(&q));
        answer(py, &a, text)
    }

    /// Objects of one constructor (`findjsinstances`).
    #[pyo3(signature = (name, all=false, limit=None, skip=0, text=false))]
    fn instances<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        all: bool,
        limit: Option<usize>,
        skip: usize,
        text: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let limit = limit.unwrap_or(usize::MAX);
        let a = py
            .detach(|| self.s.instances(name, all, limit, skip))
            .map_err(err)?;
        answer(py, &a, text)
    }

    /// A value as a tree (`inspect`).
    #[pyo3(signature = (address, depth=1, entries=100, string_length=1000, text=false))]
    fn inspect<'py>(
        &self,
        py: Python<'py>,
        address: &Bound<'py, PyAny>,
        depth: usize,
        entries: usize,
        string_length: usize,
        text: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let addr = self::address(address)?;
        let limits = Limits {
            depth,
            entries,
            string: string_length,
        };
        let a = py.detach(|| self.s.inspect(addr, limits));
        answer(py, &a, text)
    }

    /// A function's source text with its lines numbered (`source`); `skip` leaves out the
    /// function's first lines.
    #[pyo3(signature = (address, context=0, skip=0, text=false))]
    fn source<'py>(
        &self,
        py: Python<'py>,
        address: &Bound<'py, PyAny>,
        context: u64,
        skip: u64,
        text: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let addr = self::address(address)?;
        let a = py
            .detach(|| self.s.source(addr, context, skip))
            .map_err(err)?;
        answer(py, &a, text)
    }

    /// The source of the function running in the frame whose frame pointer is `fp` (on thread
    /// `tid`, else the crashing thread), its current line marked (`source --frame`).
    #[pyo3(signature = (fp, tid=None, context=0, skip=0, text=false))]
    fn frame_source<'py>(
        &self,
        py: Python<'py>,
        fp: &Bound<'py, PyAny>,
        tid: Option<u32>,
        context: u64,
        skip: u64,
        text: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let fp = self::address(fp)?;
        let a = py
            .detach(|| self.s.frame_source(tid, fp, context, skip))
            .map_err(err)?;
        answer(py, &a, text)
    }

    /// One line describing a value.
    fn summary(&self, py: Python<'_>, address: &Bound<'_, PyAny>) -> PyResult<String> {
        let addr = self::address(address)?;
        Ok(py.detach(|| self.s.summary(addr)))
    }

    /// Who references the object at `address` (`findrefs`).
    #[pyo3(signature = (address, limit=None, text=false))]
    fn findrefs<'py>(
        &self,
        py: Python<'py>,
        address: &Bound<'py, PyAny>,
        limit: Option<usize>,
        text: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let addr = self::address(address)?;
        let a = py
            .detach(|| self.s.refs(addr, limit.unwrap_or(usize::MAX)))
            .map_err(err)?;
        answer(py, &a, text)
    }

    /// Objects with an own property `name` (`findrefs -n`).
    #[pyo3(signature = (name, limit=None, text=false))]
    fn findrefs_property<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        limit: Option<usize>,
        text: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let a = py.detach(|| self.s.property_holders(name, limit.unwrap_or(usize::MAX)));
        answer(py, &a, text)
    }

    /// Who references strings equal to `string` (`findrefs -s`).
    #[pyo3(signature = (string, limit=None, text=false))]
    fn findrefs_string<'py>(
        &self,
        py: Python<'py>,
        string: &str,
        limit: Option<usize>,
        text: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let a = py.detach(|| self.s.string_refs(string, limit.unwrap_or(usize::MAX)));
        answer(py, &a, text)
    }

    /// Shortest retainer paths from a root to the object (`retainers`).
    #[pyo3(signature = (address, paths=1, depth=64, text=false))]
    fn retainers<'py>(
        &self,
        py: Python<'py>,
        address: &Bound<'py, PyAny>,
        paths: usize,
        depth: usize,
        text: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let addr = self::address(address)?;
        let a = py
            .detach(|| self.s.retainers(addr, paths, depth))
            .map_err(err)?;
        answer(py, &a, text)
    }

    /// The objects retaining the most memory (`top`).
    #[pyo3(signature = (limit=20, text=false))]
    fn top<'py>(&self, py: Python<'py>, limit: usize, text: bool) -> PyResult<Bound<'py, PyAny>> {
        let a = py.detach(|| self.s.top(limit));
        answer(py, &a, text)
    }

    /// Leak suspects (`leaks`): `threshold` is a share (0.10 = 10%), `min_size` a size in
    /// bytes or text (`"1MiB"`).
    #[pyo3(signature = (top=5, threshold=0.10, min_size=None, text=false))]
    fn leaks<'py>(
        &self,
        py: Python<'py>,
        top: usize,
        threshold: f64,
        min_size: Option<&Bound<'py, PyAny>>,
        text: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut opts = v8core::leaks::LeakOptions {
            threshold,
            top,
            ..Default::default()
        };
        if let Some(m) = min_size {
            opts.min_bytes = size_arg(m)?;
        }
        let a = py.detach(|| self.s.leaks(&opts));
        answer(py, &a, text)
    }

    /// Number of threads in the core.
    fn threads(&self) -> usize {
        self.s.process().dump().threads().len()
    }

    /// Thread stacks (`bt`): the crashing thread, or every thread.
    #[pyo3(signature = (all_threads=false, args=false, frames=None, text=false))]
    fn bt<'py>(
        &self,
        py: Python<'py>,
        all_threads: bool,
        args: bool,
        frames: Option<usize>,
        text: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let a = py.detach(|| self.s.backtraces(all_threads, args, frames));
        answer(py, &a, text)
    }

    /// pid, versions, argv, execArgv, execPath, cwd, environment (`nodeinfo`).
    #[pyo3(signature = (show_secrets=false, text=false))]
    fn nodeinfo<'py>(
        &self,
        py: Python<'py>,
        show_secrets: bool,
        text: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let a = py.detach(|| self.s.node_info(show_secrets));
        answer(py, &a, text)
    }

    /// Retained memory as a flame graph written to `path` (`flamegraph -o`): `format` is
    /// "svg", "folded", "pprof" or "json" (default: from the file's name); frames below
    /// `min_share` percent of the memory are folded.
    #[pyo3(signature = (path, format=None, min_share=0.001, max_depth=64, text=false))]
    fn flamegraph<'py>(
        &self,
        py: Python<'py>,
        path: PathBuf,
        format: Option<&str>,
        min_share: f64,
        max_depth: usize,
        text: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let format = flame_format(format)?;
        let opts = tree_options(min_share, max_depth);
        let a = py
            .detach(|| self.s.flamegraph(&path, format, &opts))
            .map_err(err)?;
        answer(py, &a, text)
    }

    /// The retained-memory tree itself (the answer `flamegraph` draws), nested frames.
    #[pyo3(signature = (min_share=0.001, max_depth=64, text=false))]
    fn retained_tree<'py>(
        &self,
        py: Python<'py>,
        min_share: f64,
        max_depth: usize,
        text: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let opts = tree_options(min_share, max_depth);
        let a = py.detach(|| self.s.retained_tree(&opts));
        answer(py, &a, text)
    }

    /// The report as one self-contained HTML page written to `path` (`report --html`).
    #[pyo3(signature = (path, text=false))]
    fn report_html<'py>(
        &self,
        py: Python<'py>,
        path: PathBuf,
        text: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let source = |s: &Session| PathBuf::from(s.process().dump().name());
        let a = py
            .detach(|| self.s.report_html(&source(&self.s), &path))
            .map_err(err)?;
        answer(py, &a, text)
    }

    /// The one-screen report (`report`); `redact` replaces the program's strings by their
    /// lengths and hashes and masks the environment and arguments (`report --redact`).
    #[pyo3(signature = (text=false, redact=false))]
    fn report<'py>(
        &self,
        py: Python<'py>,
        text: bool,
        redact: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let a = py.detach(|| self.s.report_with(redact));
        answer(py, &a, text)
    }

    /// Where all the memory went: heap spaces, external memory by holder, malloc, mappings, and
    /// totals as `process.memoryUsage()` names them (`memory`).
    #[pyo3(signature = (text=false))]
    fn memory<'py>(&self, py: Python<'py>, text: bool) -> PyResult<Bound<'py, PyAny>> {
        let a = py.detach(|| self.s.memory());
        answer(py, &a, text)
    }

    /// What the process was waiting on: libuv handles and requests, timers (`handles`).
    #[pyo3(signature = (text=false))]
    fn handles<'py>(&self, py: Python<'py>, text: bool) -> PyResult<Bound<'py, PyAny>> {
        let a = py.detach(|| self.s.handles());
        answer(py, &a, text)
    }

    /// Write the reachable heap as a DevTools `.heapsnapshot` (`heapsnapshot -o`); `redact`
    /// replaces string contents by their lengths and hashes (`--redact`).
    #[pyo3(signature = (path, redact=false, text=false))]
    fn heapsnapshot<'py>(
        &self,
        py: Python<'py>,
        path: PathBuf,
        redact: bool,
        text: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let opts = v8core::graph::snapshot::ExportOptions {
            redact,
            ..Default::default()
        };
        let a = py
            .detach(|| self.s.heapsnapshot(&path, opts))
            .map_err(err)?;
        answer(py, &a, text)
    }

    /// Number of heap objects indexed, and how many are reachable.
    fn counts(&self, py: Python<'_>) -> (usize, u64) {
        let h = py.detach(|| self.s.heap());
        (h.index.len(), h.marking.reachable)
    }

    fn __repr__(&self) -> String {
        let p = self.s.process();
        format!(
            "<v8dump.Core {} (node {}, V8 {})>",
            p.dump().name(),
            p.versions.node.as_deref().unwrap_or("?"),
            p.versions.v8
        )
    }
}

/// A heap snapshot (`.heapsnapshot`, plain or compressed) opened for questions: the same
/// answers as a `Core`'s, objects named `"@ID"` by their node id.
#[pyclass(module = "v8dump._v8dump", name = "Snapshot", frozen)]
struct Snapshot {
    s: v8core::SnapshotSession,
}

/// A node id as `"@123"`, `"123"` or an int.
fn node_id(a: &Bound<'_, PyAny>) -> PyResult<u64> {
    if let Ok(v) = a.extract::<u64>() {
        return Ok(v);
    }
    let t: String = a.extract()?;
    match v8core::input::parse_target(&t).map_err(err)? {
        v8core::input::Target::Node(id) => Ok(id),
        v8core::input::Target::Address(_) => Err(err(format!(
            "{t}: a heap snapshot names its objects @ID, as instances() lists them"
        ))),
    }
}

#[pymethods]
impl Snapshot {
    /// What the snapshot holds (`info`).
    #[pyo3(signature = (text=false))]
    fn info<'py>(&self, py: Python<'py>, text: bool) -> PyResult<Bound<'py, PyAny>> {
        let a = py.detach(|| self.s.info());
        answer(py, &a, text)
    }

    /// Objects per constructor (`findjsobjects`).
    #[pyo3(signature = (detailed=false, retained=false, top=None, all_types=false, text=false))]
    fn histogram<'py>(
        &self,
        py: Python<'py>,
        detailed: bool,
        retained: bool,
        top: Option<usize>,
        all_types: bool,
        text: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let q = ObjectsQuery {
            all: false,
            by_properties: detailed,
            retained,
            top,
            all_types,
        };
        let a = py.detach(|| self.s.objects(&q));
        answer(py, &a, text)
    }

    /// Objects of one constructor (`findjsinstances`).
    #[pyo3(signature = (name, limit=None, skip=0, text=false))]
    fn instances<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        limit: Option<usize>,
        skip: usize,
        text: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let limit = limit.unwrap_or(usize::MAX);
        let a = py
            .detach(|| self.s.instances(name, false, limit, skip))
            .map_err(err)?;
        answer(py, &a, text)
    }

    /// A node as a value tree (`inspect @ID`).
    #[pyo3(signature = (id, depth=1, entries=100, string_length=1000, text=false))]
    fn inspect<'py>(
        &self,
        py: Python<'py>,
        id: &Bound<'py, PyAny>,
        depth: usize,
        entries: usize,
        string_length: usize,
        text: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let id = node_id(id)?;
        let limits = Limits {
            depth,
            entries,
            string: string_length,
        };
        let a = py.detach(|| self.s.inspect(id, limits)).map_err(err)?;
        answer(py, &a, text)
    }

    /// Every edge to a node (`findrefs @ID`).
    #[pyo3(signature = (id, limit=None, text=false))]
    fn findrefs<'py>(
        &self,
        py: Python<'py>,
        id: &Bound<'py, PyAny>,
        limit: Option<usize>,
        text: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let id = node_id(id)?;
        let a = py
            .detach(|| self.s.refs(id, limit.unwrap_or(usize::MAX)))
            .map_err(err)?;
        answer(py, &a, text)
    }

    /// Shortest retainer paths from a root to the node (`retainers @ID`).
    #[pyo3(signature = (id, paths=1, depth=64, text=false))]
    fn retainers<'py>(
        &self,
        py: Python<'py>,
        id: &Bound<'py, PyAny>,
        paths: usize,
        depth: usize,
        text: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let id = node_id(id)?;
        let a = py
            .detach(|| self.s.retainers(id, paths, depth))
            .map_err(err)?;
        answer(py, &a, text)
    }

    /// The nodes retaining the most memory (`top`), by DevTools' dominators.
    #[pyo3(signature = (limit=20, text=false))]
    fn top<'py>(&self, py: Python<'py>, limit: usize, text: bool) -> PyResult<Bound<'py, PyAny>> {
        let a = py.detach(|| self.s.top(limit));
        answer(py, &a, text)
    }

    /// Leak suspects (`leaks`).
    #[pyo3(signature = (top=5, threshold=0.10, min_size=None, text=false))]
    fn leaks<'py>(
        &self,
        py: Python<'py>,
        top: usize,
        threshold: f64,
        min_size: Option<&Bound<'py, PyAny>>,
        text: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut opts = v8core::leaks::LeakOptions {
            threshold,
            top,
            ..Default::default()
        };
        if let Some(m) = min_size {
            opts.min_bytes = size_arg(m)?;
        }
        let a = py.detach(|| self.s.leaks(&opts));
        answer(py, &a, text)
    }

    /// Retained memory as a flame graph written to `path` (`flamegraph -o`): `format` is
    /// "svg", "folded", "pprof" or "json" (default: from the file's name); frames below
    /// `min_share` percent of the memory are folded.
    #[pyo3(signature = (path, format=None, min_share=0.001, max_depth=64, text=false))]
    fn flamegraph<'py>(
        &self,
        py: Python<'py>,
        path: PathBuf,
        format: Option<&str>,
        min_share: f64,
        max_depth: usize,
        text: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let format = flame_format(format)?;
        let opts = tree_options(min_share, max_depth);
        let a = py
            .detach(|| self.s.flamegraph(&path, format, &opts))
            .map_err(err)?;
        answer(py, &a, text)
    }

    /// The retained-memory tree itself (the answer `flamegraph` draws), nested frames.
    #[pyo3(signature = (min_share=0.001, max_depth=64, text=false))]
    fn retained_tree<'py>(
        &self,
        py: Python<'py>,
        min_share: f64,
        max_depth: usize,
        text: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let opts = tree_options(min_share, max_depth);
        let a = py.detach(|| self.s.retained_tree(&opts));
        answer(py, &a, text)
    }

    /// The report as one self-contained HTML page written to `path` (`report --html`).
    #[pyo3(signature = (path, text=false))]
    fn report_html<'py>(
        &self,
        py: Python<'py>,
        path: PathBuf,
        text: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let source = |s: &v8core::SnapshotSession| s.path().to_path_buf();
        let a = py
            .detach(|| self.s.report_html(&source(&self.s), &path))
            .map_err(err)?;
        answer(py, &a, text)
    }

    /// The report (`report`), without a crash section; `redact` as `Core.report`'s.
    #[pyo3(signature = (text=false, redact=false))]
    fn report<'py>(
        &self,
        py: Python<'py>,
        text: bool,
        redact: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let a = py.detach(|| self.s.report_with(redact));
        answer(py, &a, text)
    }

    fn __repr__(&self) -> String {
        format!("<v8dump.Snapshot {}>", self.s.path().display())
    }
}

/// Open a heap snapshot (`.heapsnapshot`, plain or gzip/zstd/lz4 compressed).
#[pyfunction]
fn open_snapshot(py: Python<'_>, path: PathBuf) -> PyResult<Snapshot> {
    let s = py
        .detach(|| v8core::SnapshotSession::open(&path))
        .map_err(err)?;
    Ok(Snapshot { s })
}

/// Open a core dump (and the node executable it came from; default: the path recorded in the
/// core), and load its heap.
#[pyfunction]
#[pyo3(signature = (core, executable=None, force=false, allow_truncated=false, exe_dirs=None, layout=None))]
fn open(
    py: Python<'_>,
    core: PathBuf,
    executable: Option<PathBuf>,
    force: bool,
    allow_truncated: bool,
    exe_dirs: Option<Vec<PathBuf>>,
    layout: Option<&str>,
) -> PyResult<Core> {
    let opts = options(executable, force, allow_truncated, exe_dirs, layout)?;
    let s = py
        .detach(|| {
            Session::open(&core, &opts).inspect(|s| {
                s.heap();
            })
        })
        .map_err(err)?;
    Ok(Core { s })
}

/// Open a stopped live process (attached by a debugger): its memory is read from
/// `/proc/PID/mem`, its mappings and auxiliary vector from `/proc/PID`; `threads` are
/// `(tid, registers)` pairs (the 27 x86-64 `user_regs_struct` registers in NT_PRSTATUS order),
/// the selected thread first, as the debugger reads them.
#[pyfunction]
#[pyo3(signature = (pid, threads, executable=None, force=false))]
fn open_live(
    py: Python<'_>,
    pid: u32,
    threads: Vec<(u32, Vec<u64>)>,
    executable: Option<PathBuf>,
    force: bool,
) -> PyResult<Core> {
    let threads = threads
        .into_iter()
        .map(|(tid, regs)| elfcore::ThreadInfo {
            tid,
            signal: 0,
            regs: elfcore::Regs::new(elfcore::Arch::host(), &regs),
        })
        .collect();
    let opts = options(None, force, false, None, None)?;
    let s = py
        .detach(|| -> Result<Session, v8core::Error> {
            let live = elfcore::LiveProcess::open(pid, threads)?;
            let s = Session::from_process(v8core::Process::open_live(live, executable, &opts)?);
            s.heap();
            Ok(s)
        })
        .map_err(err)?;
    Ok(Core { s })
}

/// Per-constructor change between two cores of one program (`diff A B`), loading one at a
/// time.
#[pyfunction]
#[pyo3(signature = (core_a, core_b, executable=None, force=false, all=false, top=None, by_holder=false, max_growth=None, max_holder_growth=None, max_growth_of=None, text=false))]
#[allow(clippy::too_many_arguments)]
fn diff<'py>(
    py: Python<'py>,
    core_a: PathBuf,
    core_b: PathBuf,
    executable: Option<PathBuf>,
    force: bool,
    all: bool,
    top: Option<usize>,
    by_holder: bool,
    max_growth: Option<&Bound<'py, PyAny>>,
    max_holder_growth: Option<&Bound<'py, PyAny>>,
    max_growth_of: Option<std::collections::BTreeMap<String, Bound<'py, PyAny>>>,
    text: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let opts = options(executable, force, false, None, None)?;
    let mut constructors = Vec::new();
    for (name, size) in max_growth_of.unwrap_or_default() {
        constructors.push((name, size_arg(&size)?));
    }
    let d = v8core::session::DiffOptions {
        all,
        top,
        by_holder,
        limits: v8core::session::GrowthLimits {
            total: max_growth.map(size_arg).transpose()?,
            holder: max_holder_growth.map(size_arg).transpose()?,
            constructors,
        },
    };
    let holders = d.by_holder || d.limits.any();
    let side = |p: &PathBuf| Session::open(p, &opts).map(|s| s.diff_side_with(holders));
    let a = py
        .detach(|| -> Result<_, v8core::Error> {
            let (a, b) = (side(&core_a)?, side(&core_b)?);
            Ok(diff_sides(&a, &b, &d))
        })
        .map_err(err)?;
    answer(py, &a, text)
}

/// A size given as a number of bytes or as text (`"50MiB"`).
fn size_arg(v: &Bound<'_, PyAny>) -> PyResult<u64> {
    match v.extract::<u64>() {
        Ok(n) => Ok(n),
        Err(_) => v8core::render::parse_bytes(&v.extract::<String>()?)
            .map_err(pyo3::exceptions::PyValueError::new_err),
    }
}

/// Analyze one core into the record `v8dump batch` writes as a JSON line (versions, crash
/// cause, heap use, largest constructors, a retainer path, JS stack, signature). Never raises
/// for a bad core: the record says `status: failed` and why. Meant to be mapped over an
/// archive by any engine (multiprocessing, Dask, Ray).
#[pyfunction]
#[pyo3(signature = (core, executable=None, exe_dirs=None))]
fn analyze<'py>(
    py: Python<'py>,
    core: PathBuf,
    executable: Option<PathBuf>,
    exe_dirs: Option<Vec<PathBuf>>,
) -> PyResult<Bound<'py, PyAny>> {
    let opts = options(executable, false, false, exe_dirs, None)?;
    let rec = py.detach(|| v8core::crash::batch::analyze(&core, &opts));
    let s = serde_json::to_string(&rec).map_err(err)?;
    py.import("json")?.call_method1("loads", (s,))
}

/// Run the `v8dump` command line `args` (the program name first) in this process, exactly as
/// the binary does (it prints to stdout and stderr); returns the exit status. The package's
/// `v8dump` console command (`v8dump._cli`) calls it.
#[pyfunction]
fn cli_main(py: Python<'_>, args: Vec<std::ffi::OsString>) -> u8 {
    py.detach(|| v8dump_cli::run_from(args))
}

#[pymodule]
fn _v8dump(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(open, m)?)?;
    m.add_function(wrap_pyfunction!(analyze, m)?)?;
    m.add_function(wrap_pyfunction!(diff, m)?)?;
    m.add_function(wrap_pyfunction!(open_live, m)?)?;
    m.add_function(wrap_pyfunction!(open_snapshot, m)?)?;
    m.add_function(wrap_pyfunction!(cli_main, m)?)?;
    m.add_class::<Core>()?;
    m.add_class::<Snapshot>()?;
    m.add("V8DumpError", m.py().get_type::<V8DumpError>())?;
    Ok(())
}
