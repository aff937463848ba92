//! The one way to ask questions of a dump: a [`Session`] opens a core once, builds what a
//! question needs on first use (the object index and liveness, the reference graph, the
//! dominator tree) and keeps it for the next question, and answers each question with a typed
//! [`Answer`]. The CLI, the Python module and the lldb plugin are front ends of this type:
//! they parse arguments, call one method, and render the answer.
//!
//! ```
//! # let core = v8dump_testkit::fixture("basic", 20).core;
//! use v8core::session::{ObjectsQuery, Session};
//! use v8core::OpenOptions;
//!
//! let s = Session::open(&core, &OpenOptions::default())?;
//! let census = s.objects(&ObjectsQuery::default());
//! for row in census.body.rows.iter().take(5) {
//!     println!("{:>8} {:>10} {}", row.count, row.size, row.name);
//! }
//! # Ok::<(), v8core::Error>(())
//! ```

use crate::answer::*;
use crate::calibrate::TableChoice;
use crate::crash::nodeinfo::{node_info, NodeInfo};
use crate::crash::report::{report, Report};
use crate::crash::stack::{Backtrace, StackWalker};
use crate::error::{Error, Result};
use crate::graph::dominators::Dominators;
use crate::graph::edges::Edge;
use crate::graph::edges::Edges;
use crate::graph::paths::RetainerPath;
use crate::graph::reverse::Graph;
use crate::graph::{describe, paths, search};
use crate::heap::index::Progress;
use crate::heap::loaded::Heap;
use crate::info::Summary;
use crate::inspect::{summary, Inspector, Limits};
use crate::meta::kinds::Kind;
use crate::objects::census::Scope;
use crate::objects::position;
use crate::objects::reader::Reader;
use crate::process::{ExeMatch, OpenOptions, Process};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// A progress callback: `(stage, done, total)`. Called from worker threads.
pub type ProgressFn = Arc<dyn Fn(&str, u64, u64) + Send + Sync>;

/// An opened dump and everything built from it so far.
pub struct Session {
    process: Arc<Process>,
    heap: OnceLock<Heap>,
    graph: OnceLock<Graph>,
    dominators: OnceLock<Dominators>,
    progress: ProgressFn,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("process", &self.process)
            .field("heap_loaded", &self.heap.get().is_some())
            .finish()
    }
}

/// What `findjsobjects` counts and how.
#[derive(Debug, Clone, Copy, Default)]
pub struct ObjectsQuery {
    /// Count dead objects too.
    pub all: bool,
    /// Split each constructor by its objects' own property names (llnode's `-d`).
    pub by_properties: bool,
    /// Add retained sizes (builds the dominator tree) and sort by them.
    pub retained: bool,
    /// Keep only the first N rows (totals still count every row).
    pub top: Option<usize>,
    /// Add a row per group of what is not a JS object (`(string)`, `(concatenated string)`,
    /// `(array)`, `(compiled code)`, `(closure)`, `(system)`...), as DevTools' Summary groups
    /// them: then the rows add up to the whole heap.
    pub all_types: bool,
}

fn hex(v: u64) -> String {
    format!("{v:#x}")
}

fn scope(all: bool) -> Scope {
    if all {
        Scope::All
    } else {
        Scope::Reachable
    }
}

/// Parse an address as a person writes it: `0x...` (hex) or decimal, tagged or not.
///
/// ```
/// use v8core::session::parse_address;
/// assert_eq!(parse_address("0x1f").unwrap(), 31);
/// assert_eq!(parse_address(" 42 ").unwrap(), 42);
/// assert!(parse_address("forty-two").is_err());
/// ```
pub fn parse_address(s: &str) -> Result<u64> {
    let t = s.trim();
    let v = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => t.parse(),
    };
    v.map_err(|_| Error::BadAddress {
        text: s.to_string(),
    })
}

impl Session {
    /// Open a core (see [`Process::open`] for what is checked).
    pub fn open(path: impl AsRef<Path>, opts: &OpenOptions) -> Result<Session> {
        Ok(Session::from_process(Process::open(path, opts)?))
    }

    /// A session over an opened process.
    pub fn from_process(p: Process) -> Session {
        Session::from_shared(Arc::new(p))
    }

    /// A session over a process other sessions may share (each loads its own heap).
    pub fn from_shared(p: Arc<Process>) -> Session {
        Session {
            process: p,
            heap: OnceLock::new(),
            graph: OnceLock::new(),
            dominators: OnceLock::new(),
            progress: Arc::new(|_, _, _| {}),
        }
    }

    /// Report progress of long steps to `f`.
    pub fn with_progress(mut self, f: ProgressFn) -> Session {
        self.progress = f;
        self
    }

    /// The opened process: core, executable, layout, pages.
    pub fn process(&self) -> &Process {
        &self.process
    }

    /// The object index, liveness and names (built on first use).
    pub fn heap(&self) -> &Heap {
        self.heap
            .get_or_init(|| Heap::load(self.process.clone(), &*self.progress as Progress))
    }

    /// The reference graph (built on first use).
    pub fn graph(&self) -> &Graph {
        let h = self.heap();
        self.graph
            .get_or_init(|| Graph::build(&h.p, &h.index, &h.marking, &*self.progress))
    }

    /// The dominator tree and retained sizes (built on first use).
    pub fn dominators(&self) -> &Dominators {
        let g = self.graph();
        self.dominators
            .get_or_init(|| Dominators::build(self.heap(), g, &*self.progress))
    }

    /// Why answers from this dump may be incomplete or uncertain, if they may.
    pub fn partial(&self) -> Option<Partial> {
        let p = &self.process;
        let mut reasons = Vec::new();
        if let Some(t) = p.dump().truncation() {
            reasons.push(Caveat {
                kind: CaveatKind::TruncatedCore,
                message: format!(
                    "the core is truncated ({} of {} bytes present, {} segments cut short): \
                     objects and stacks in the missing part are not seen",
                    t.file_size,
                    t.expected_size,
                    t.segments.len()
                ),
            });
        }
        if p.exe_check.status == ExeMatch::MismatchForced {
            reasons.push(Caveat {
                kind: CaveatKind::ExecutableMismatch,
                message: format!(
                    "the executable is not the one that produced the core (--force): {}",
                    p.exe_check.note.as_deref().unwrap_or("build IDs differ")
                ),
            });
        }
        match &p.table_choice {
            TableChoice::Verified => {}
            TableChoice::Nearest { table } | TableChoice::Forced { table } => {
                let v = format!("{}.{}", p.versions.v8.major, p.versions.v8.minor);
                let start = if matches!(p.table_choice, TableChoice::Forced { .. }) {
                    format!("--layout {table}: V8 {v} read with V8 {table}'s table")
                } else {
                    format!("V8 {v} has no verified table; using {table}'s")
                };
                reasons.push(Caveat {
                    kind: CaveatKind::UnverifiedTable,
                    message: format!(
                        "{start} ({} values measured in the core), {} of {} checks passed",
                        p.calibrated.len(),
                        p.checks.iter().filter(|c| c.ok).count(),
                        p.checks.len()
                    ),
                });
            }
        }
        for c in p.checks.iter().filter(|c| !c.ok) {
            reasons.push(Caveat {
                kind: CaveatKind::FailedCheck,
                message: format!("sanity check '{}' failed: {}", c.name, c.detail),
            });
        }
        // The causes above (a cut core, another executable, a table of another version) come
        // before what they do to the heap (missing pages, unparsable memory), except an
        // answer with no objects at all, which is said first.
        let mut heap = crate::completeness::heap_caveats(p, self.heap.get());
        if heap
            .first()
            .is_some_and(|c| c.kind == CaveatKind::NoObjects)
        {
            reasons.insert(0, heap.remove(0));
        }
        reasons.extend(heap);
        (!reasons.is_empty()).then_some(Partial { reasons })
    }

    fn answer<T>(&self, command: &'static str, body: T) -> Answer<T> {
        Answer {
            schema_version: SCHEMA_VERSION,
            command,
            partial: self.partial(),
            body,
        }
    }

    /// The index of the object an address names (its start, tagged or not, or any address
    /// inside it).
    fn object_at(&self, addr: u64) -> Result<usize> {
        self.heap()
            .index
            .locate(addr)
            .ok_or(Error::NoObjectAt { addr })
    }

    fn object_ref(&self, i: usize) -> (String, String) {
        let h = self.heap();
        (hex(h.index.tagged(i)), describe::display_name(h, i))
    }

    /// `info`: what the core is (crash, versions, executable check, metadata, heap pages and
    /// what a walk of them finds); `pages` lists every page too.
    /// ```
    /// # let core = v8dump_testkit::fixture("listener_leak", 20).core;
    /// # use v8core::{OpenOptions, Session};
    /// let s = Session::open(&core, &OpenOptions::default())?;
    /// let info = s.info(false);
    /// assert_eq!(info.body.node_version.as_deref(), Some("20.20.2"));
    /// assert!(info.body.checks.iter().all(|c| c.ok));
    /// # Ok::<(), v8core::Error>(())
    /// ```
    pub fn info(&self, pages: bool) -> Answer<Summary> {
        self.answer("info", Summary::of(&self.process, pages))
    }

    /// `findjsobjects`: objects per constructor.
    pub fn objects(&self, q: &ObjectsQuery) -> Answer<Objects> {
        let h = self.heap();
        let mut rows = h.census(scope(q.all), q.by_properties);
        if q.all_types {
            rows.extend(crate::graph::snapshot::type_rows(h, scope(q.all)));
            rows.sort_by(|a, b| b.size.cmp(&a.size).then(b.count.cmp(&a.count)));
        }
        if q.retained {
            let by_name = self.dominators().retained_by_name(h);
            for r in rows.iter_mut() {
                r.retained = h
                    .names
                    .lookup(&r.name)
                    .and_then(|id| by_name.get(id as usize).copied());
            }
            rows.sort_by(|a, b| b.retained.cmp(&a.retained).then(b.size.cmp(&a.size)));
        }
        let total = ObjectTotals {
            objects: rows.iter().map(|r| r.count).sum(),
            bytes: rows.iter().map(|r| r.size).sum(),
            names: rows.len() as u64,
        };
        if let Some(n) = q.top {
            rows.truncate(n);
        }
        let m = &h.marking;
        self.answer(
            "findjsobjects",
            Objects {
                scope: if q.all {
                    CountScope::All
                } else {
                    CountScope::Reachable
                },
                by_properties: q.by_properties,
                retained: q.retained,
                rows,
                total,
                heap: HeapCounts {
                    objects: h.index.len() as u64,
                    reachable: m.reachable,
                    roots: m.roots,
                },
            },
        )
    }

    /// `findjsinstances NAME`: the objects of one constructor, `skip` then at most `limit`.
    /// ```
    /// # let core = v8dump_testkit::fixture("listener_leak", 20).core;
    /// # use v8core::{OpenOptions, Session};
    /// let s = Session::open(&core, &OpenOptions::default())?;
    /// let page = s.instances("UserSession", false, 10, 5)?;
    /// assert_eq!((page.body.total, page.body.instances.len()), (2000, 10));
    /// assert!(page.body.instances[0].summary.starts_with("<UserSession>"));
    /// // A name no object has is an error that suggests names that contain it.
    /// let e = s.instances("usersess", false, 10, 0).unwrap_err().to_string();
    /// assert!(e.contains("UserSession"), "{e}");
    /// # Ok::<(), v8core::Error>(())
    /// ```
    pub fn instances(
        &self,
        name: &str,
        all: bool,
        limit: usize,
        skip: usize,
    ) -> Result<Answer<Instances>> {
        let h = self.heap();
        let found = h.instances(name, scope(all));
        if found.is_empty() {
            let known = h.census(Scope::All, false).into_iter().map(|r| r.name);
            return Err(Error::no_instances(name, known));
        }
        let instances = found
            .iter()
            .skip(skip)
            .take(limit)
            .map(|&i| InstanceRow {
                address: hex(h.index.tagged(i)),
                size: h.index.size(i),
                reachable: h.marking.is_marked(i),
                summary: summary(h, h.index.tagged(i)),
            })
            .collect();
        Ok(self.answer(
            "findjsinstances",
            Instances {
                name: name.to_string(),
                total: found.len(),
                skip,
                instances,
            },
        ))
    }

    /// `inspect ADDR`: the value at `addr` (a tagged pointer, an object's start address, or a
    /// Smi) as a tree.
    /// ```
    /// # let core = v8dump_testkit::fixture("listener_leak", 20).core;
    /// # use v8core::{OpenOptions, Session};
    /// let s = Session::open(&core, &OpenOptions::default())?;
    /// # use v8core::inspect::Limits;
    /// let first = &s.instances("UserSession", false, 1, 0)?.body.instances[0];
    /// let addr = v8core::session::parse_address(&first.address)?;
    /// let v = s.inspect(addr, Limits::default());
    /// assert!(v.body.value.entries.iter().any(|e| e.key == "userId"));
    /// println!("{}", v.text());
    /// # Ok::<(), v8core::Error>(())
    /// ```
    pub fn inspect(&self, addr: u64, limits: Limits) -> Answer<Inspection> {
        let h = self.heap();
        let value = match self.value_word(addr) {
            Ok((word, note)) => {
                let mut v = Inspector::new(h, limits).value(word);
                v.notes.extend(note);
                v
            }
            Err(why) => {
                let mut v = crate::inspect::Value::new(crate::inspect::ValueKind::Unreadable);
                v.address = Some(hex(addr));
                v.notes.push(why);
                v
            }
        };
        self.answer("inspect", Inspection { value })
    }

    /// The word `inspect` reads for what a person typed, by the rule `retainers` and
    /// `findrefs` use too: an object's start (tagged or not) is that object; a Smi is a Smi
    /// only as V8 writes one (its low half zero); any other address inside an object is that
    /// object, said in a note; other odd words are read as tagged pointers; other even words
    /// are neither.
    fn value_word(&self, addr: u64) -> std::result::Result<(u64, Option<String>), String> {
        let h = self.heap();
        let layout = &self.process.layout;
        if let Some(i) = h.index.find(addr & !1) {
            return Ok((h.index.tagged(i), None));
        }
        if layout.is_exact_smi(addr) {
            return Ok((addr, None));
        }
        if let Some(i) = h.index.locate(addr) {
            let start = h.index.tagged(i) - 1;
            let note = format!(
                "{} is inside this object, {} bytes from its start ({})",
                hex(addr),
                addr.wrapping_sub(start),
                hex(start)
            );
            return Ok((h.index.tagged(i), Some(note)));
        }
        if addr & 1 == 1 {
            return Ok((addr, None));
        }
        Err(format!(
            "{} is not a Smi (its low 32 bits are not zero) and no heap object holds it: {}",
            hex(addr),
            h.reader().why_not_an_object(addr | 1)
        ))
    }

    /// `memory`: the process's whole address space accounted for: the V8 heap per space,
    /// external memory (ArrayBuffer backing stores, external strings) grouped by what holds it,
    /// malloc's heaps and large chunks, thread stacks, the executable and libraries, with
    /// totals under `process.memoryUsage()`'s names, the heap's limits and its last GCs.
    pub fn memory(&self) -> Answer<crate::memory::MemoryReport> {
        self.answer(
            "memory",
            crate::memory::memory(self.heap(), self.graph(), self.dominators()),
        )
    }

    /// `handles`: what the process was waiting on: each node Environment's libuv handles and
    /// requests (with their JavaScript objects and callbacks), and the pending timers.
    pub fn handles(&self) -> Answer<crate::crash::handles::Handles> {
        self.answer("handles", crate::crash::handles::handles(self.heap()))
    }

    /// `source ADDR`: the source text of the function (or SharedFunctionInfo) at `addr`, from
    /// its script's source in the core, with its whole lines numbered and `context` lines
    /// around them, the first `skip` lines of the function left out (llnode's `-l N` is
    /// `skip = N - 1`). Needs no heap walk.
    pub fn source(&self, addr: u64, context: u64, skip: u64) -> Result<Answer<FunctionSource>> {
        let r = Reader::new(&self.process);
        let w = if addr & 1 == 1 { addr } else { addr | 1 };
        let bad = |why: String| Error::BadObject {
            addr: elfcore::Address(w),
            why,
        };
        let (func, sfi) = match r.kind(w) {
            Some(Kind::JSFunction) => (Some(w), r.function_shared(w)),
            Some(Kind::SharedFunctionInfo) => (None, Some(w)),
            Some(k) => return Err(bad(format!("it is a {k:?}, not a function"))),
            None => return Err(bad(r.why_not_an_object(w))),
        };
        let sfi =
            sfi.ok_or_else(|| bad("the function has no readable SharedFunctionInfo".into()))?;
        let f = &self.process.fields;
        let script = position::sfi_script(&r, sfi)
            .ok_or_else(|| bad("the function has no script (a builtin or API function)".into()))?;
        let source = r
            .slot(script, f.script_source)
            .and_then(|s| r.string(s, position::MAX_SOURCE_CHARS as usize))
            .ok_or_else(|| bad("its script's source is not in the core".into()))?;
        let units: Vec<u16> = source.text.encode_utf16().collect();
        let (start, end) = position::function_token_start(&r, sfi)
            .zip(position::function_end(&r, sfi))
            .filter(|&(a, b)| a < b && b as usize <= units.len())
            .ok_or_else(|| bad("its source positions are not readable".into()))?;
        let point = |pos: u64| {
            position::line_col_in(&units, pos)
                .map(|(line, column)| SourcePoint { line, column })
                .unwrap_or(SourcePoint { line: 0, column: 0 })
        };
        let (first, last) = (point(start), point(end - 1));
        let lines = position::numbered_lines(&units)
            .filter(|(n, _)| {
                *n + context >= first.line + skip && *n <= last.line + context && *n >= 1
            })
            .map(|(line, text)| SourceLine {
                line,
                text,
                in_function: line >= first.line && line <= last.line,
            })
            .collect();
        let name = r.sfi_debug_name(sfi);
        let script_name = r
            .slot(script, f.script_name)
            .and_then(|n| r.string_text(n))
            .filter(|n| !n.is_empty());
        Ok(self.answer(
            "source",
            FunctionSource {
                function: hex(func.unwrap_or(sfi)),
                name: if name.is_empty() {
                    "(anonymous)".into()
                } else {
                    name
                },
                script: script_name,
                start: first,
                end: last,
                text: String::from_utf16_lossy(&units[start as usize..end as usize]),
                lines,
                current_line: None,
            },
        ))
    }

    /// `source` of the function running in a frame: the JavaScript frame whose frame pointer is
    /// `fp` on the thread `tid` (the crashing thread when `None`), with the line it was
    /// executing marked (llnode's `v8 source list`).
    pub fn frame_source(
        &self,
        tid: Option<u32>,
        fp: u64,
        context: u64,
        skip: u64,
    ) -> Result<Answer<FunctionSource>> {
        let threads = self.process.dump().threads();
        let t = match tid {
            None => 0,
            Some(tid) => threads
                .iter()
                .position(|t| t.tid == tid)
                .unwrap_or(usize::MAX),
        };
        let thread = match tid {
            None => "the crashing thread".to_string(),
            Some(tid) => format!("thread {tid}"),
        };
        let js = StackWalker::new(&self.process)
            .backtrace(t)
            .and_then(|bt| bt.frames.into_iter().find(|f| f.fp == Some(fp))?.js)
            .ok_or(Error::NoJsFrame { fp, thread })?;
        let mut a = self.source(js.function, context, skip)?;
        if js.exact {
            a.body.current_line = js.line;
        }
        Ok(a)
    }

    /// One line describing the value at `addr` (as `findjsinstances` lists objects).
    pub fn summary(&self, addr: u64) -> String {
        let h = self.heap();
        summary(h, h.index.as_value(addr))
    }

    fn to_ref(&self, e: &Edge) -> Ref {
        let h = self.heap();
        let (holder, holder_name) = self.object_ref(e.holder);
        Ref {
            holder,
            holder_name,
            edge: e.name.clone(),
            kind: e.kind,
            reachable: h.marking.is_marked(e.holder),
            via: e
                .via
                .iter()
                .map(|&v| {
                    let (a, n) = self.object_ref(v);
                    format!("{n} {a}")
                })
                .collect(),
        }
    }

    /// `findrefs ADDR`: every reference to the object at `addr`, at most `limit` shown.
    /// ```
    /// # let core = v8dump_testkit::fixture("listener_leak", 20).core;
    /// # use v8core::{OpenOptions, Session};
    /// let s = Session::open(&core, &OpenOptions::default())?;
    /// let first = &s.instances("UserSession", false, 1, 0)?.body.instances[0];
    /// let refs = s.refs(v8core::session::parse_address(&first.address)?, 100)?;
    /// // The listener's closure holds the session in its context variable `session`.
    /// assert!(refs.body.refs.iter().any(|r| r.edge == "session"));
    /// # Ok::<(), v8core::Error>(())
    /// ```
    pub fn refs(&self, addr: u64, limit: usize) -> Result<Answer<Refs>> {
        let target = self.object_at(addr)?;
        let edges = Edges::new(self.heap(), self.graph()).edges_to(target);
        let (t, tn) = self.object_ref(target);
        Ok(self.answer(
            "findrefs",
            Refs {
                target: t,
                target_name: tn,
                total: edges.len(),
                refs: edges.iter().take(limit).map(|e| self.to_ref(e)).collect(),
            },
        ))
    }

    /// `findrefs -n NAME`: reachable objects with an own property `name`.
    pub fn property_holders(&self, name: &str, limit: usize) -> Answer<PropertyHolders> {
        let h = self.heap();
        let found = search::objects_with_property(h, name);
        let objects = found
            .iter()
            .take(limit)
            .map(|&(i, v)| {
                let (holder, holder_name) = self.object_ref(i);
                PropertyHolder {
                    holder,
                    holder_name,
                    value: summary(h, v),
                }
            })
            .collect();
        self.answer(
            "findrefs_property",
            PropertyHolders {
                property: name.to_string(),
                total: found.len(),
                objects,
            },
        )
    }

    /// `findrefs -s TEXT`: who references strings equal to `text`.
    pub fn string_refs(&self, text: &str, limit: usize) -> Answer<StringRefs> {
        let h = self.heap();
        let strings = search::strings_equal(h, text);
        let edges = Edges::new(h, self.graph());
        let mut all: Vec<(usize, Edge)> = Vec::new();
        for &s in &strings {
            for e in edges.edges_to(s) {
                all.push((s, e));
            }
        }
        self.answer(
            "findrefs_string",
            StringRefs {
                text: text.to_string(),
                strings: strings.iter().map(|&s| hex(h.index.tagged(s))).collect(),
                total: all.len(),
                refs: all
                    .iter()
                    .take(limit)
                    .map(|(s, e)| StringRef {
                        string: hex(h.index.tagged(*s)),
                        r: self.to_ref(e),
                    })
                    .collect(),
            },
        )
    }

    fn path_out(&self, target: usize, p: &RetainerPath) -> PathOut {
        let h = self.heap();
        let (root, root_name) = self.object_ref(p.root);
        PathOut {
            root,
            root_name,
            root_kind: p.root_kind.clone(),
            root_words: paths::root_words(&p.root_kind),
            steps: p
                .steps
                .iter()
                .map(|s| {
                    let (target, target_name) = self.object_ref(s.target);
                    let (holder, holder_name) = self.object_ref(s.edge.holder);
                    PathStep {
                        target,
                        target_name,
                        holder,
                        holder_name,
                        edge: s.edge.name.clone(),
                        kind: s.edge.kind,
                    }
                })
                .collect(),
            chain: paths::chain_text(h, target, p),
        }
    }

    /// `retainers ADDR`: up to `paths` shortest retainer paths of at most `depth` steps.
    /// ```
    /// # let core = v8dump_testkit::fixture("listener_leak", 20).core;
    /// # use v8core::{OpenOptions, Session};
    /// let s = Session::open(&core, &OpenOptions::default())?;
    /// let first = &s.instances("UserSession", false, 1, 0)?.body.instances[0];
    /// let r = s.retainers(v8core::session::parse_address(&first.address)?, 1, 64)?;
    /// assert!(r.body.paths[0].chain.ends_with("._events RealtimeService <- .realtimeService global"));
    /// # Ok::<(), v8core::Error>(())
    /// ```
    pub fn retainers(&self, addr: u64, paths: usize, depth: usize) -> Result<Answer<Retainers>> {
        let target = self.object_at(addr)?;
        let h = self.heap();
        let (t, tn) = self.object_ref(target);
        if !h.marking.is_marked(target) {
            return Err(Error::Unreachable {
                name: tn,
                addr: h.index.tagged(target),
            });
        }
        let found = Edges::new(h, self.graph()).retainer_paths(target, paths, depth);
        Ok(self.answer(
            "retainers",
            Retainers {
                target: t,
                target_name: tn,
                depth,
                paths: found.iter().map(|p| self.path_out(target, p)).collect(),
            },
        ))
    }

    /// `top`: the `limit` objects with the largest retained sizes.
    /// ```
    /// # let core = v8dump_testkit::fixture("listener_leak", 20).core;
    /// # use v8core::{OpenOptions, Session};
    /// let s = Session::open(&core, &OpenOptions::default())?;
    /// let top = s.top(5);
    /// assert!(top.body.rows.iter().any(|r| r.name == "RealtimeService"));
    /// # Ok::<(), v8core::Error>(())
    /// ```
    pub fn top(&self, limit: usize) -> Answer<Top> {
        let h = self.heap();
        let d = self.dominators();
        let rows = d
            .top(limit)
            .into_iter()
            .map(|i| {
                let (address, name) = self.object_ref(i);
                TopRow {
                    address,
                    name,
                    self_size: h.index.size(i),
                    retained: d.retained(i),
                    summary: summary(h, h.index.tagged(i)),
                }
            })
            .collect();
        self.answer(
            "top",
            Top {
                rows,
                reached: d.reached,
                reachable: h.marking.reachable,
            },
        )
    }

    /// The reachable census as `diff` compares it: per name, (count, total self size).
    pub fn diff_side(&self) -> DiffSide {
        self.diff_side_with(false)
    }

    /// [`Session::diff_side`], with the holders of memory too when `holders` (for
    /// `diff --by holder` and growth limits; needs the dominator tree).
    pub fn diff_side_with(&self, holders: bool) -> DiffSide {
        DiffSide {
            holders: holders.then(|| {
                crate::leaks::holders(
                    self.heap(),
                    self.graph(),
                    self.dominators(),
                    HOLDER_MIN_BYTES,
                    200,
                )
            }),
            path: self.process.dump().name(),
            build_id: self.process.exe_check.exe_build_id.clone(),
            census: self
                .heap()
                .census(Scope::Reachable, false)
                .into_iter()
                .map(|r| (r.name, (r.count, r.size)))
                .collect(),
            partial: self.partial(),
        }
    }

    /// `heapsnapshot -o FILE`: write the reachable heap as a DevTools `.heapsnapshot`.
    pub fn heapsnapshot(
        &self,
        path: &Path,
        opts: crate::graph::snapshot::ExportOptions,
    ) -> Result<Answer<SnapshotWritten>> {
        let h = self.heap();
        let io = |e: std::io::Error| Error::Output {
            path: path.into(),
            message: e.to_string(),
        };
        let file = std::fs::File::create(path).map_err(io)?;
        let redacted = opts.redact;
        let mut opts = opts;
        // The writer's temporary files beside a regular output file (its file system must
        // hold the output anyway); elsewhere (a pipe, /dev/null) in the temporary directory.
        if opts.temp_dir.is_none() && file.metadata().is_ok_and(|m| m.is_file()) {
            opts.temp_dir = path
                .parent()
                .map(|d| {
                    if d.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        d
                    }
                })
                .map(Path::to_path_buf);
        }
        let st = crate::graph::snapshot::write_heapsnapshot(h, file, &*self.progress, opts)
            .map_err(io)?;
        Ok(self.answer(
            "heapsnapshot",
            SnapshotWritten {
                path: path.display().to_string(),
                nodes: st.nodes,
                edges: st.edges,
                strings: st.strings,
                redacted,
            },
        ))
    }

    /// `bt`: the crashing thread's stack (or every thread's), at most `frames` frames each.
    /// With `args`, each JavaScript frame's receiver and arguments, described through the heap
    /// (which is loaded for it).
    /// ```
    /// # let core = v8dump_testkit::fixture("oom", 20).core;
    /// # use v8core::{OpenOptions, Session};
    /// let s = Session::open(&core, &OpenOptions::default())?;
    /// let bt = s.backtraces(false, false, None);
    /// let js: Vec<&str> = bt.body.threads[0]
    ///     .frames
    ///     .iter()
    ///     .filter_map(|f| Some(f.js.as_ref()?.name.as_str()))
    ///     .collect();
    /// assert!(js.contains(&"leakForever"));
    /// # Ok::<(), v8core::Error>(())
    /// ```
    pub fn backtraces(
        &self,
        all_threads: bool,
        args: bool,
        frames: Option<usize>,
    ) -> Answer<Backtraces> {
        let p = &self.process;
        let mut w = StackWalker::new(p);
        w.with_args = args;
        if let Some(n) = frames {
            w.max_frames = n;
        }
        let which: Vec<usize> = if all_threads {
            (0..p.dump().threads().len()).collect()
        } else {
            vec![0]
        };
        let mut threads: Vec<Backtrace> = which.iter().filter_map(|&t| w.backtrace(t)).collect();
        if args {
            let h = self.heap();
            for f in threads.iter_mut().flat_map(|b| b.frames.iter_mut()) {
                if let Some(js) = &mut f.js {
                    for a in js.this.iter_mut().chain(js.args.iter_mut().flatten()) {
                        a.summary = Some(summary(h, a.value.0));
                    }
                }
            }
        }
        let signal = p.dump().signal();
        let damaged: Vec<String> = threads
            .iter()
            .flat_map(|b| &b.frames)
            .filter_map(|f| f.damage.clone())
            .collect();
        let mut a = self.answer(
            "bt",
            Backtraces {
                signal,
                signal_name: signal.map(|s| elfcore::core::signal_name(s).to_string()),
                threads,
            },
        );
        if let Some(first) = damaged.first() {
            let c = Caveat {
                kind: CaveatKind::DamagedHeap,
                message: format!(
                    "frames may be misnamed or missing: {} frame{} V8 laid out could not be \
                     read ({first})",
                    damaged.len(),
                    if damaged.len() == 1 { "" } else { "s" }
                ),
            };
            a.partial
                .get_or_insert_with(|| Partial {
                    reasons: Vec::new(),
                })
                .reasons
                .push(c);
        }
        a
    }

    /// `leaks`: the leak suspects (what retains at least `opts.threshold` of the memory,
    /// described by what holds it) and the duplicate strings.
    pub fn leaks(&self, opts: &crate::leaks::LeakOptions) -> Answer<crate::leaks::Leaks> {
        let l = crate::leaks::leaks(self.heap(), self.graph(), self.dominators(), opts);
        self.answer("leaks", l)
    }

    /// `flamegraph`: retained memory as a tree of frames, the dominator tree with siblings of
    /// one name merged (see [`crate::flame`]).
    /// ```
    /// # let core = v8dump_testkit::fixture("listener_leak", 20).core;
    /// # use v8core::{OpenOptions, Session};
    /// let s = Session::open(&core, &OpenOptions::default())?;
    /// let t = s.retained_tree(&Default::default()).body;
    /// assert_eq!(t.root.name, "(roots)");
    /// assert_eq!(t.root.bytes, t.total_bytes);
    /// # Ok::<(), v8core::Error>(())
    /// ```
    pub fn retained_tree(
        &self,
        opts: &crate::flame::TreeOptions,
    ) -> Answer<crate::flame::RetainedTree> {
        let src = crate::flame::HeapFlame::new(self.heap(), self.dominators());
        self.answer("flamegraph", crate::flame::retained_tree(&src, opts))
    }

    /// `nodeinfo`: the Node.js process (versions, argv, environment, cwd).
    /// ```
    /// # let core = v8dump_testkit::fixture("listener_leak", 20).core;
    /// # use v8core::{OpenOptions, Session};
    /// let s = Session::open(&core, &OpenOptions::default())?;
    /// let info = s.node_info(false);
    /// assert!(info.body.argv[1].ends_with("listener_leak.js"));
    /// # Ok::<(), v8core::Error>(())
    /// ```
    pub fn node_info(&self, show_secrets: bool) -> Answer<NodeInfo> {
        self.answer("nodeinfo", node_info(self.heap(), show_secrets))
    }

    /// `report`: why it died, what filled the heap, what holds it, the JavaScript stack.
    /// ```
    /// # let core = v8dump_testkit::fixture("oom", 20).core;
    /// # use v8core::{OpenOptions, Session};
    /// let s = Session::open(&core, &OpenOptions::default())?;
    /// let r = s.report();
    /// assert_eq!(r.body.cause.kind.as_str(), "oom");
    /// assert_eq!(r.body.top_by_size[0].name, "LeakyThing");
    /// # Ok::<(), v8core::Error>(())
    /// ```
    pub fn report(&self) -> Answer<Report> {
        self.report_with(false)
    }

    /// [`Session::report`], with the program's strings, environment and arguments replaced
    /// by lengths and hashes when `redact` ([`crate::redact`]).
    pub fn report_with(&self, redact: bool) -> Answer<Report> {
        let mut a = self.report_plain();
        if redact {
            crate::redact::Redact::redact(&mut a.body);
        }
        a
    }

    fn report_plain(&self) -> Answer<Report> {
        let mut r = report(self.heap(), self.graph(), 10, 3);
        r.pending = Some(crate::crash::handles::handles(self.heap()));
        r.memory = Some(crate::memory::memory(
            self.heap(),
            self.graph(),
            self.dominators(),
        ));
        r.leaks = Some(crate::leaks::leaks(
            self.heap(),
            self.graph(),
            self.dominators(),
            &crate::leaks::LeakOptions::default(),
        ));
        self.answer("report", r)
    }
}

/// One dump's side of a `diff`: its census and where it came from. Taken one dump at a time
/// so that two large heaps are never held at once.
#[derive(Debug, Clone)]
pub struct DiffSide {
    /// The core.
    pub path: String,
    /// Its executable's build ID.
    pub build_id: Option<String>,
    /// Per name: (count, total self size).
    pub census: BTreeMap<String, (u64, u64)>,
    /// The dump's own marks.
    pub partial: Option<Partial>,
    /// Its holders of memory, when asked for.
    pub holders: Option<crate::leaks::Holders>,
}

/// Holders retaining less than this are not compared by `diff --by holder`.
pub const HOLDER_MIN_BYTES: u64 = 64 << 10;

/// What `diff` compares and checks.
#[derive(Debug, Clone, Default)]
pub struct DiffOptions {
    /// Keep constructors that did not change.
    pub all: bool,
    /// Keep the first rows only.
    pub top: Option<usize>,
    /// Compare holders too (the sides must have them: [`Session::diff_side_with`]).
    pub by_holder: bool,
    /// Growth limits to check.
    pub limits: GrowthLimits,
}

/// Growth limits for `diff` as a CI gate; sizes in bytes.
#[derive(Debug, Clone, Default)]
pub struct GrowthLimits {
    /// Of all reachable memory (heap and external).
    pub total: Option<u64>,
    /// Of any one holder.
    pub holder: Option<u64>,
    /// Of one constructor's total self size: (name, most growth).
    pub constructors: Vec<(String, u64)>,
}

impl GrowthLimits {
    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        self.total.is_some() || self.holder.is_some() || !self.constructors.is_empty()
    }
}

/// `diff A B`: per-constructor change from `a` to `b`, largest growth first; `all` keeps
/// constructors that did not change; `top` keeps the first rows.
///
/// ```
/// # let (a, b) = (v8dump_testkit::fixture("diff_small", 20).core, v8dump_testkit::fixture("diff_large", 20).core);
/// use v8core::session::{diff, Session};
/// # use v8core::OpenOptions;
/// let side = |c| Session::open(c, &OpenOptions::default()).map(|s| s.diff_side());
/// let opts = v8core::session::DiffOptions { top: Some(5), ..Default::default() };
/// let d = diff(&side(&a)?, &side(&b)?, &opts);
/// assert_eq!(d.body.rows[0].name, "LeakedRequest");
/// assert_eq!(d.body.rows[0].count_delta, 2000);
/// # Ok::<(), v8core::Error>(())
/// ```
pub fn diff(a: &DiffSide, b: &DiffSide, opts: &DiffOptions) -> Answer<Diff> {
    let (all, top) = (opts.all, opts.top);
    let mut names: Vec<&String> = a.census.keys().chain(b.census.keys()).collect();
    names.sort();
    names.dedup();
    let mut rows: Vec<DiffRow> = names
        .into_iter()
        .map(|n| {
            let (count_a, size_a) = a.census.get(n).copied().unwrap_or((0, 0));
            let (count_b, size_b) = b.census.get(n).copied().unwrap_or((0, 0));
            DiffRow {
                name: n.clone(),
                count_a,
                count_b,
                count_delta: count_b as i64 - count_a as i64,
                size_a,
                size_b,
                size_delta: size_b as i64 - size_a as i64,
            }
        })
        .filter(|r| all || r.count_delta != 0 || r.size_delta != 0)
        .collect();
    // Largest growth first; shrinkage last, the largest shrinkage at the very end.
    rows.sort_by(|x, y| {
        y.size_delta
            .cmp(&x.size_delta)
            .then(y.count_delta.cmp(&x.count_delta))
            .then(x.name.cmp(&y.name))
    });
    let changed = rows.len();
    let count_delta = rows.iter().map(|r| r.count_delta).sum();
    let size_delta = rows.iter().map(|r| r.size_delta).sum();
    let (holders, memory) = match (&a.holders, &b.holders) {
        (Some(ha), Some(hb)) if opts.by_holder || opts.limits.any() => {
            let (rows, mem) = holder_diff(ha, hb);
            (Some(rows), Some(mem))
        }
        _ => (None, None),
    };
    let gate = opts.limits.any().then(|| {
        gate(
            &opts.limits,
            &rows,
            holders.as_deref(),
            memory.as_ref(),
            a,
            b,
        )
    });
    let holders = holders.map(|mut h| {
        if let Some(n) = top {
            h.truncate(n);
        }
        h
    });
    if let Some(n) = top {
        rows.truncate(n);
    }
    let mut reasons = Vec::new();
    for (side, p) in [("A", &a.partial), ("B", &b.partial)] {
        for c in p.iter().flat_map(|p| &p.reasons) {
            reasons.push(Caveat {
                kind: c.kind,
                message: format!("{side}: {}", c.message),
            });
        }
    }
    Answer {
        schema_version: SCHEMA_VERSION,
        command: "diff",
        partial: (!reasons.is_empty()).then_some(Partial { reasons }),
        body: Diff {
            a: a.path.clone(),
            b: b.path.clone(),
            different_executables: a.build_id != b.build_id,
            rows,
            changed,
            count_delta,
            size_delta,
            holders: holders.filter(|_| opts.by_holder),
            memory,
            gate,
        },
    }
}

/// Holders of `a` and `b` matched by name and kind of holder, largest growth first.
fn holder_diff(
    a: &crate::leaks::Holders,
    b: &crate::leaks::Holders,
) -> (Vec<HolderDiffRow>, MemoryDelta) {
    let key = |r: &crate::leaks::HolderRow| (r.holder.clone(), r.holder_name.clone());
    let mut keys: Vec<(String, String)> = a.rows.iter().chain(&b.rows).map(key).collect();
    keys.sort();
    keys.dedup();
    let find = |h: &crate::leaks::Holders, k: &(String, String)| {
        h.rows.iter().find(|r| &key(r) == k).cloned()
    };
    let mut rows: Vec<HolderDiffRow> = keys
        .iter()
        .filter_map(|k| {
            let (ra, rb) = (find(a, k), find(b, k));
            let any = rb.as_ref().or(ra.as_ref())?;
            let size = |r: &Option<crate::leaks::HolderRow>| {
                r.as_ref().map_or(0, |r| r.retained + r.retained_external)
            };
            let kids = |r: &Option<crate::leaks::HolderRow>| r.as_ref().map_or(0, |r| r.children);
            let (retained_a, retained_b) = (size(&ra), size(&rb));
            let (children_a, children_b) = (kids(&ra), kids(&rb));
            let children_delta = children_b as i64 - children_a as i64;
            let retained_delta = retained_b as i64 - retained_a as i64;
            let what = any.kind.children_word();
            let sentence = format!(
                "`{}` ({}): {} {what}, {}",
                any.holder,
                any.holder_name,
                crate::render::signed(children_delta),
                crate::render::signed_bytes(retained_delta)
            );
            Some(HolderDiffRow {
                holder: any.holder.clone(),
                holder_name: any.holder_name.clone(),
                kind: any.kind,
                children_a,
                children_b,
                children_delta,
                retained_a,
                retained_b,
                retained_delta,
                sentence,
            })
        })
        .filter(|r| r.retained_delta != 0 || r.children_delta != 0)
        .collect();
    rows.sort_by(|x, y| {
        y.retained_delta
            .cmp(&x.retained_delta)
            .then(x.holder.cmp(&y.holder))
    });
    let mem = MemoryDelta {
        heap_a: a.heap_bytes,
        heap_b: b.heap_bytes,
        external_a: a.external_bytes,
        external_b: b.external_bytes,
        total_delta: (b.heap_bytes + b.external_bytes) as i64
            - (a.heap_bytes + a.external_bytes) as i64,
    };
    (rows, mem)
}

/// Check the growth limits.
fn gate(
    limits: &GrowthLimits,
    rows: &[DiffRow],
    holders: Option<&[HolderDiffRow]>,
    memory: Option<&MemoryDelta>,
    a: &DiffSide,
    b: &DiffSide,
) -> Gate {
    let mut checks = Vec::new();
    let mut check = |what: String, max: u64, growth: i64| {
        checks.push(LimitCheck {
            what,
            max,
            growth,
            exceeded: growth > max as i64,
        })
    };
    if let Some(max) = limits.total {
        let growth = memory.map(|m| m.total_delta).unwrap_or_else(|| {
            let sum = |s: &DiffSide| s.census.values().map(|v| v.1).sum::<u64>() as i64;
            sum(b) - sum(a)
        });
        check("memory".into(), max, growth);
    }
    if let Some(max) = limits.holder {
        let top = holders.and_then(|h| h.first());
        check(
            format!(
                "holder {}",
                top.map(|h| format!("`{}`", h.holder))
                    .unwrap_or_else(|| "(none grew)".into())
            ),
            max,
            top.map_or(0, |h| h.retained_delta),
        );
    }
    for (name, max) in &limits.constructors {
        let growth = rows
            .iter()
            .find(|r| &r.name == name)
            .map_or(0, |r| r.size_delta);
        check(format!("constructor {name}"), *max, growth);
    }
    let exceeded = checks.iter().any(|c| c.exceeded);
    let culprit = holders
        .and_then(|h| h.first())
        .filter(|_| exceeded)
        .map(|h| h.sentence.clone());
    Gate {
        checks,
        exceeded,
        culprit,
    }
}
