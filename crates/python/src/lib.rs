//! `v8dump._v8dump`: the v8dump library as a Python extension module (PyO3, abi3: one build
//! for every CPython 3.8+, including the one lldb embeds).
//!
//! `open(core)` loads a core once (walk, liveness, names) into a `Core`; its methods answer
//! with plain Python data (dicts, lists, ints, strings), the same shapes as the CLI's `--json`.
//! The reference graph and the dominator tree are built on first use and kept. Library errors
//! become `V8DumpError` with the library's message. Long work releases the GIL.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyString;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::OnceLock;
use v8core::crash::stack::StackWalker;
use v8core::graph::dominators::Dominators;
use v8core::graph::reverse::{self as graph, Edge, Edges, Graph, RootKind};
use v8core::heap::index::no_progress;
use v8core::inspect::{Inspector, Limits};
use v8core::objects::census::Scope;
use v8core::{Heap, OpenOptions, Process};

create_exception!(
    _v8dump,
    V8DumpError,
    PyException,
    "An error from v8dump: the core, the executable or an address could not be used."
);

fn err(e: impl std::fmt::Display) -> PyErr {
    V8DumpError::new_err(e.to_string())
}

/// Serialize through JSON into Python objects (`json.loads`): the same shapes as `--json`.
fn to_py<'py>(py: Python<'py>, v: &impl Serialize) -> PyResult<Bound<'py, PyAny>> {
    let s = serde_json::to_string(v).map_err(err)?;
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
    let s: String = a.extract::<String>()?.trim().to_string();
    let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    v.map_err(|_| err(format!("{s:?} is not an address")))
}

fn hex(v: u64) -> String {
    format!("{v:#x}")
}

/// A loaded core.
#[pyclass(module = "v8dump._v8dump", name = "Core", frozen)]
struct Core {
    heap: Heap,
    graph: OnceLock<Graph>,
    dominators: OnceLock<Dominators>,
}

impl Core {
    fn graph(&self) -> &Graph {
        self.graph.get_or_init(|| {
            Graph::build(
                &self.heap.p,
                &self.heap.index,
                &self.heap.marking,
                &no_progress,
            )
        })
    }

    fn dominators(&self) -> &Dominators {
        let g = self.graph();
        self.dominators
            .get_or_init(|| Dominators::build(&self.heap, g, &no_progress))
    }

    /// The index of the object at (or containing) `a`.
    fn object(&self, a: u64) -> PyResult<usize> {
        self.heap.index.locate(a).ok_or_else(|| {
            err(format!(
                "{a:#x}: no heap object starts at or contains this address"
            ))
        })
    }

    fn edge_dict(&self, e: &Edge) -> serde_json::Value {
        let h = &self.heap;
        serde_json::json!({
            "holder": hex(h.index.tagged(e.holder)),
            "holder_name": graph::display_name(h, e.holder),
            "edge": e.name,
            "kind": e.kind,
            "reachable": h.marking.is_marked(e.holder),
        })
    }
}

#[pymethods]
impl Core {
    /// What the core is: crash, versions, executable check, heap pages per space.
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py(py, &v8core::info::Summary::of(&self.heap.p))
    }

    /// Objects per constructor: a list of {name, count, size[, unreachable][, retained]},
    /// largest first (the `findjsobjects` histogram).
    #[pyo3(signature = (all=false, detailed=false, retained=false))]
    fn histogram<'py>(
        &self,
        py: Python<'py>,
        all: bool,
        detailed: bool,
        retained: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let scope = if all { Scope::All } else { Scope::Reachable };
        let mut rows = py.detach(|| self.heap.census(scope, detailed));
        if retained {
            let by_name = py.detach(|| self.dominators().retained_by_name(&self.heap));
            for r in rows.iter_mut() {
                r.retained = self
                    .heap
                    .names
                    .lookup(&r.name)
                    .and_then(|id| by_name.get(id as usize).copied());
            }
            rows.sort_by(|a, b| b.retained.cmp(&a.retained).then(b.size.cmp(&a.size)));
        }
        to_py(py, &rows)
    }

    /// Objects of one constructor: a list of {address, size, reachable, summary}.
    #[pyo3(signature = (name, all=false, limit=None, skip=0))]
    fn instances<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        all: bool,
        limit: Option<usize>,
        skip: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let h = &self.heap;
        let scope = if all { Scope::All } else { Scope::Reachable };
        let found = h.instances(name, scope);
        let out: Vec<serde_json::Value> = found
            .iter()
            .skip(skip)
            .take(limit.unwrap_or(usize::MAX))
            .map(|&i| {
                serde_json::json!({
                    "address": hex(h.index.tagged(i)),
                    "size": h.index.sizes[i],
                    "reachable": h.marking.is_marked(i),
                    "summary": v8core::inspect::summary(h, h.index.tagged(i)),
                })
            })
            .collect();
        to_py(py, &out)
    }

    /// A value as a tree (the `inspect --json` shape).
    #[pyo3(signature = (address, depth=1, entries=100, string_length=1000))]
    fn inspect<'py>(
        &self,
        py: Python<'py>,
        address: &Bound<'py, PyAny>,
        depth: usize,
        entries: usize,
        string_length: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let a = address_arg(address)?;
        let w = self.heap.index.as_value(a);
        let limits = Limits {
            depth,
            entries,
            string: string_length,
        };
        let v = Inspector::new(&self.heap, limits).value(w);
        to_py(py, &v)
    }

    /// One line describing a value.
    fn summary(&self, address: &Bound<'_, PyAny>) -> PyResult<String> {
        let a = address_arg(address)?;
        Ok(v8core::inspect::summary(&self.heap, a | 1))
    }

    /// Who references the object at `address`: a list of {holder, holder_name, edge, kind,
    /// reachable}.
    fn findrefs<'py>(
        &self,
        py: Python<'py>,
        address: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let t = self.object(address_arg(address)?)?;
        let g = py.detach(|| self.graph());
        let edges = Edges::new(&self.heap, g).edges_to(t);
        let out: Vec<_> = edges.iter().map(|e| self.edge_dict(e)).collect();
        to_py(py, &out)
    }

    /// Objects with an own property `name`: a list of {holder, holder_name, value}.
    fn findrefs_property<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let h = &self.heap;
        let found = py.detach(|| graph::objects_with_property(h, name));
        let out: Vec<_> = found
            .iter()
            .map(|&(i, v)| {
                serde_json::json!({
                    "holder": hex(h.index.tagged(i)),
                    "holder_name": graph::display_name(h, i),
                    "value": v8core::inspect::summary(h, v),
                })
            })
            .collect();
        to_py(py, &out)
    }

    /// Who references strings equal to `text`: a list of {string, holder, holder_name, edge,
    /// kind, reachable}.
    fn findrefs_string<'py>(&self, py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
        let h = &self.heap;
        let strings = py.detach(|| graph::strings_equal(h, text));
        let g = py.detach(|| self.graph());
        let edges = Edges::new(h, g);
        let mut out = Vec::new();
        for s in strings {
            for e in edges.edges_to(s) {
                let mut d = self.edge_dict(&e);
                d["string"] = serde_json::Value::String(hex(h.index.tagged(s)));
                out.push(d);
            }
        }
        to_py(py, &out)
    }

    /// Shortest retainer paths from a root to the object: a list of {chain, root, root_kind,
    /// steps: [{target, target_name, holder, holder_name, edge, kind}]}.
    #[pyo3(signature = (address, paths=1, depth=64))]
    fn retainers<'py>(
        &self,
        py: Python<'py>,
        address: &Bound<'py, PyAny>,
        paths: usize,
        depth: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let h = &self.heap;
        let t = self.object(address_arg(address)?)?;
        let g = py.detach(|| self.graph());
        let found = py.detach(|| Edges::new(h, g).retainer_paths(t, paths, depth));
        let out: Vec<_> = found
            .iter()
            .map(|p| {
                let chain = graph::chain_text(h, t, p);
                let steps: Vec<_> = p
                    .steps
                    .iter()
                    .map(|s| {
                        serde_json::json!({
                            "target": hex(h.index.tagged(s.target)),
                            "target_name": graph::display_name(h, s.target),
                            "holder": hex(h.index.tagged(s.edge.holder)),
                            "holder_name": graph::display_name(h, s.edge.holder),
                            "edge": s.edge.name,
                            "kind": s.edge.kind,
                        })
                    })
                    .collect();
                let root_kind: &RootKind = &p.root_kind;
                serde_json::json!({
                    "chain": chain,
                    "root": hex(h.index.tagged(p.root)),
                    "root_name": graph::display_name(h, p.root),
                    "root_kind": root_kind,
                    "steps": steps,
                })
            })
            .collect();
        to_py(py, &out)
    }

    /// The objects retaining the most memory: a list of {address, name, self_size, retained,
    /// summary}.
    #[pyo3(signature = (limit=20))]
    fn top<'py>(&self, py: Python<'py>, limit: usize) -> PyResult<Bound<'py, PyAny>> {
        let h = &self.heap;
        let d = py.detach(|| self.dominators());
        let out: Vec<_> = d
            .top(limit)
            .into_iter()
            .map(|i| {
                serde_json::json!({
                    "address": hex(h.index.tagged(i)),
                    "name": graph::display_name(h, i),
                    "self_size": h.index.sizes[i],
                    "retained": d.retained(i),
                    "summary": v8core::inspect::summary(h, h.index.tagged(i)),
                })
            })
            .collect();
        to_py(py, &out)
    }

    /// Number of threads in the core.
    fn threads(&self) -> usize {
        self.heap.p.core().threads().len()
    }

    /// The stack of thread `thread` (0: the one that received the signal), as `bt --json`
    /// shows one thread.
    #[pyo3(signature = (thread=0, args=false))]
    fn bt<'py>(&self, py: Python<'py>, thread: usize, args: bool) -> PyResult<Bound<'py, PyAny>> {
        let mut w = StackWalker::new(&self.heap.p);
        w.with_args = args;
        let bt = w
            .backtrace(thread)
            .ok_or_else(|| err(format!("no thread {thread} in the core")))?;
        to_py(py, &bt)
    }

    /// pid, versions, argv, execArgv, execPath, cwd, environment (secrets masked unless
    /// `show_secrets`).
    #[pyo3(signature = (show_secrets=false))]
    fn nodeinfo<'py>(&self, py: Python<'py>, show_secrets: bool) -> PyResult<Bound<'py, PyAny>> {
        to_py(
            py,
            &v8core::crash::nodeinfo::node_info(&self.heap, show_secrets),
        )
    }

    /// The one-screen report as data (`report --json`).
    fn report<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let g = py.detach(|| self.graph());
        let r = py.detach(|| v8core::crash::report::report(&self.heap, g, 10, 3));
        to_py(py, &r)
    }

    /// Write the reachable heap as a DevTools `.heapsnapshot`; returns {nodes, edges, strings}.
    fn heapsnapshot<'py>(&self, py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyAny>> {
        let file = std::fs::File::create(&path)
            .map_err(|e| err(format!("cannot create {}: {e}", path.display())))?;
        let stats = py
            .detach(|| v8core::graph::snapshot::write_heapsnapshot(&self.heap, file, &no_progress))
            .map_err(|e| err(format!("writing {}: {e}", path.display())))?;
        to_py(py, &stats)
    }

    /// Number of heap objects indexed, and how many are reachable.
    fn counts(&self) -> (usize, u64) {
        (self.heap.index.len(), self.heap.marking.reachable)
    }

    fn __repr__(&self) -> String {
        format!(
            "<v8dump.Core {} (node {}, V8 {})>",
            self.heap.p.core().path().display(),
            self.heap.p.versions.node.as_deref().unwrap_or("?"),
            self.heap.p.versions.v8
        )
    }
}

fn address_arg(a: &Bound<'_, PyAny>) -> PyResult<u64> {
    address(a)
}

/// Open a core dump (and the node executable it came from; default: the path recorded in the
/// core), and load its heap.
#[pyfunction]
#[pyo3(signature = (core, executable=None, force=false, allow_truncated=false, exe_dirs=None))]
fn open(
    py: Python<'_>,
    core: PathBuf,
    executable: Option<PathBuf>,
    force: bool,
    allow_truncated: bool,
    exe_dirs: Option<Vec<PathBuf>>,
) -> PyResult<Core> {
    let opts = OpenOptions {
        executable,
        force,
        allow_truncated,
        exe_dirs: exe_dirs.unwrap_or_default(),
    };
    let heap = py
        .detach(|| Process::open(&core, &opts).map(|p| Heap::load(p, &no_progress)))
        .map_err(err)?;
    Ok(Core {
        heap,
        graph: OnceLock::new(),
        dominators: OnceLock::new(),
    })
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
    let opts = OpenOptions {
        executable,
        exe_dirs: exe_dirs.unwrap_or_default(),
        ..Default::default()
    };
    let rec = py.detach(|| v8core::crash::batch::analyze(&core, &opts));
    to_py(py, &rec)
}

#[pymodule]
fn _v8dump(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(open, m)?)?;
    m.add_function(wrap_pyfunction!(analyze, m)?)?;
    m.add_class::<Core>()?;
    m.add("V8DumpError", m.py().get_type::<V8DumpError>())?;
    Ok(())
}
