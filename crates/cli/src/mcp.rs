//! `v8dump mcp`: the session's questions as tools of a Model Context Protocol server on stdio
//! (the `rmcp` SDK), for an agent to ask what filled a core's memory.
//!
//! Each tool takes the core (or heap snapshot) path and the question's own arguments, asks the
//! same `v8core` session method the CLI's command asks, and returns the answer's JSON (the
//! `--json` shape, compact). Sessions stay open between calls, keyed by path and executable, so
//! the second question on a core costs only the question; the [`KEPT_SESSIONS`] most recently
//! used are kept, so memory does not grow with the number of cores asked about. An answer longer than the output cap
//! has its longest lists cut (each cut list's length before is kept, and `"truncated": true` is
//! set at the top) until it fits: an agent's context is the scarce thing here.

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{Implementation, ServerCapabilities, ServerInfo};
use rmcp::{schemars, tool, tool_handler, tool_router, ServerHandler, ServiceExt};
use serde::Deserialize;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use v8core::input::Input;
use v8core::inspect::Limits;
use v8core::session::ObjectsQuery;
use v8core::OpenOptions;

/// The default cap on one answer, in bytes of JSON.
pub const DEFAULT_MAX_BYTES: usize = 32 << 10;

/// Where the core is, and the executable if the recorded path will not do.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CoreRef {
    /// Path of the core dump (or .heapsnapshot; compressed ones too).
    pub core: String,
    /// The node executable that produced it (default: the path the core recorded).
    #[serde(default)]
    pub executable: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct HistogramArgs {
    #[serde(flatten)]
    pub at: CoreRef,
    /// Count unreachable objects too.
    #[serde(default)]
    pub all: bool,
    /// Also each constructor's retained size (slower: builds the dominator tree).
    #[serde(default)]
    pub retained: bool,
    /// At most this many rows, largest first (default 30).
    #[serde(default)]
    pub top: Option<usize>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct InstancesArgs {
    #[serde(flatten)]
    pub at: CoreRef,
    /// Constructor name as the histogram prints it.
    pub name: String,
    /// At most this many (default 20).
    #[serde(default)]
    pub limit: Option<usize>,
    /// Skip the first N (paging).
    #[serde(default)]
    pub skip: Option<usize>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AddressArgs {
    #[serde(flatten)]
    pub at: CoreRef,
    /// The object's address (0x...), as instances and histogram give them.
    pub address: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RetainersArgs {
    #[serde(flatten)]
    pub at: CoreRef,
    /// The object's address (0x...).
    pub address: String,
    /// How many paths (default 3).
    #[serde(default)]
    pub paths: Option<usize>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct TopArgs {
    #[serde(flatten)]
    pub at: CoreRef,
    /// How many objects (default 10).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CoreArgs {
    #[serde(flatten)]
    pub at: CoreRef,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct BtArgs {
    #[serde(flatten)]
    pub at: CoreRef,
    /// Every thread, not only the crashing one.
    #[serde(default)]
    pub all_threads: bool,
}

/// Sessions kept open between calls: each holds a core's index and graphs, so only the most
/// recently used few are kept.
pub const KEPT_SESSIONS: usize = 4;

/// The `cap` most recently used values by key; the least recently used goes first.
#[derive(Debug)]
struct Recent<K, V> {
    cap: usize,
    /// Oldest first.
    entries: Vec<(K, V)>,
}

impl<K: PartialEq, V: Clone> Recent<K, V> {
    fn new(cap: usize) -> Self {
        Recent {
            cap: cap.max(1),
            entries: Vec::new(),
        }
    }

    /// The value of `k`, now the most recently used.
    fn get(&mut self, k: &K) -> Option<V> {
        let i = self.entries.iter().position(|(key, _)| key == k)?;
        let e = self.entries.remove(i);
        let v = e.1.clone();
        self.entries.push(e);
        Some(v)
    }

    /// Keep `v` for `k` as the most recently used, dropping the least recently used beyond
    /// the cap.
    fn put(&mut self, k: K, v: V) {
        self.entries.retain(|(key, _)| *key != k);
        self.entries.push((k, v));
        while self.entries.len() > self.cap {
            self.entries.remove(0);
        }
    }
}

/// Open sessions by (core path, executable).
type Sessions = Arc<Mutex<Recent<(String, Option<String>), Arc<Input>>>>;

/// The server: open sessions and the output cap.
#[derive(Clone)]
pub struct Server {
    sessions: Sessions,
    max_bytes: usize,
    tool_router: ToolRouter<Server>,
}

type Answer = Result<String, String>;

/// A core's answer or a snapshot's, serialized as itself.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum OneOf<A, B> {
    Core(A),
    Snapshot(B),
}

impl Server {
    fn input(&self, at: &CoreRef) -> Result<Arc<Input>, String> {
        let key = (at.core.clone(), at.executable.clone());
        if let Some(s) = self
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(s);
        }
        let opts = OpenOptions {
            executable: at.executable.as_ref().map(PathBuf::from),
            ..Default::default()
        };
        let input = Input::open(std::path::Path::new(&at.core), &opts, None)
            .map_err(|e| v8core::render::clean(&e.to_string()))?;
        let input = Arc::new(input);
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .put(key, input.clone());
        Ok(input)
    }

    /// Run `f` on the session of `at` off the protocol's threads, and give its answer's JSON,
    /// capped.
    async fn ask<F, T>(&self, at: &CoreRef, f: F) -> Answer
    where
        F: FnOnce(&Input) -> Result<T, v8core::Error> + Send + 'static,
        T: serde::Serialize,
    {
        let this = self.clone();
        let at = CoreRef {
            core: at.core.clone(),
            executable: at.executable.clone(),
        };
        let max = self.max_bytes;
        tokio::task::spawn_blocking(move || {
            let input = this.input(&at)?;
            let answer = f(&input).map_err(|e| v8core::render::clean(&e.to_string()))?;
            let v = serde_json::to_value(&answer).map_err(|e| e.to_string())?;
            Ok(capped(v, max))
        })
        .await
        .map_err(|e| format!("the question failed: {e}"))?
    }
}

/// `v`'s compact JSON, its longest lists cut until it is at most `max` bytes (see the module).
pub fn capped(mut v: Value, max: usize) -> String {
    let mut text = v.to_string();
    let mut cut = false;
    while text.len() > max {
        let Some((path, len)) = longest_list(&v, &mut Vec::new()) else {
            break;
        };
        if len == 0 {
            break;
        }
        let Some(list) = follow(&mut v, &path) else {
            break;
        };
        let keep = (len / 2).max(usize::from(len > 1));
        if keep == len {
            // A single element too big: it stays; nothing more can be cut.
            break;
        }
        list.truncate(keep);
        cut = true;
        text = v.to_string();
    }
    if cut {
        if let Value::Object(m) = &mut v {
            m.insert("truncated".into(), Value::Bool(true));
            m.insert(
                "truncated_note".into(),
                Value::String(format!(
                    "lists were cut to fit {max} bytes; ask for fewer (limit, top) or one item"
                )),
            );
        }
        text = v.to_string();
    }
    text
}

fn longest_list(v: &Value, path: &mut Vec<PathStep>) -> Option<(Vec<PathStep>, usize)> {
    let mut best: Option<(Vec<PathStep>, usize)> = None;
    let mut consider = |c: Option<(Vec<PathStep>, usize)>| {
        if let Some(c) = c {
            if best.as_ref().is_none_or(|b| c.1 > b.1) {
                best = Some(c);
            }
        }
    };
    match v {
        Value::Array(a) => {
            consider(Some((path.clone(), a.len())));
            for (i, x) in a.iter().enumerate() {
                path.push(PathStep::Index(i));
                consider(longest_list(x, path));
                path.pop();
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                path.push(PathStep::Key(k.clone()));
                consider(longest_list(x, path));
                path.pop();
            }
        }
        _ => {}
    }
    best
}

#[derive(Clone, Debug)]
enum PathStep {
    Key(String),
    Index(usize),
}

/// The list at `path` (from [`longest_list`] on the same value).
fn follow<'a>(v: &'a mut Value, path: &[PathStep]) -> Option<&'a mut Vec<Value>> {
    let mut cur = v;
    for s in path {
        cur = match s {
            PathStep::Key(k) => cur.get_mut(k.as_str())?,
            PathStep::Index(i) => cur.get_mut(*i)?,
        };
    }
    cur.as_array_mut()
}

#[tool_router]
impl Server {
    pub fn new(max_bytes: usize) -> Server {
        Server {
            sessions: Arc::new(Mutex::new(Recent::new(KEPT_SESSIONS))),
            max_bytes,
            tool_router: Self::tool_router(),
        }
    }

    #[tool(
        name = "findjsobjects",
        description = "Objects per constructor in the heap (count and total self size, largest first), named as V8's heap snapshot names them; reachable objects unless all"
    )]
    async fn findjsobjects(&self, Parameters(a): Parameters<HistogramArgs>) -> Answer {
        let q = ObjectsQuery {
            all: a.all,
            by_properties: false,
            retained: a.retained,
            top: Some(a.top.unwrap_or(30)),
            all_types: false,
        };
        self.ask(&a.at, move |s| Ok(s.objects(&q))).await
    }

    #[tool(
        name = "findjsinstances",
        description = "Objects of one constructor: address, size and a one-line summary each"
    )]
    async fn findjsinstances(&self, Parameters(a): Parameters<InstancesArgs>) -> Answer {
        let (name, limit, skip) = (a.name, a.limit.unwrap_or(20), a.skip.unwrap_or(0));
        self.ask(&a.at, move |s| s.instances(&name, false, limit, skip))
            .await
    }

    #[tool(
        name = "inspect",
        description = "One value at an address: its constructor, properties, elements, closure variables, source position"
    )]
    async fn inspect(&self, Parameters(a): Parameters<AddressArgs>) -> Answer {
        let addr = a.address;
        let limits = Limits {
            depth: 1,
            entries: 20,
            string: 200,
        };
        self.ask(&a.at, move |s| s.inspect(&addr, limits)).await
    }

    #[tool(
        name = "retainers",
        description = "What keeps an object alive: the shortest reference chains from a root to it"
    )]
    async fn retainers(&self, Parameters(a): Parameters<RetainersArgs>) -> Answer {
        let (addr, paths) = (a.address, a.paths.unwrap_or(3));
        self.ask(&a.at, move |s| s.retainers(&addr, paths, 64))
            .await
    }

    #[tool(
        name = "top",
        description = "The objects that keep the most memory alive (largest retained sizes)"
    )]
    async fn top(&self, Parameters(a): Parameters<TopArgs>) -> Answer {
        let limit = a.limit.unwrap_or(10);
        self.ask(&a.at, move |s| Ok(s.top(limit))).await
    }

    #[tool(
        name = "leaks",
        description = "Leak suspects: what retains the most memory, described by what holds it, its children and the code behind it (script:line); then duplicate strings"
    )]
    async fn leaks(&self, Parameters(a): Parameters<CoreArgs>) -> Answer {
        let opts = v8core::leaks::LeakOptions::default();
        self.ask(&a.at, move |s| Ok(s.leaks(&opts))).await
    }

    #[tool(
        name = "memory",
        description = "Where all the process's memory went: the V8 heap per space, external memory by holder, malloc, stacks, libraries; totals as process.memoryUsage() names them"
    )]
    async fn memory(&self, Parameters(a): Parameters<CoreArgs>) -> Answer {
        self.ask(&a.at, |s| Ok(s.core("memory")?.memory())).await
    }

    #[tool(
        name = "report",
        description = "One screen: why the process died, heap use, the largest constructors and what holds them, leak suspects, the JS stack"
    )]
    async fn report(&self, Parameters(a): Parameters<CoreArgs>) -> Answer {
        self.ask(&a.at, |s| {
            Ok(match s {
                Input::Core(c) => OneOf::Core(c.report()),
                Input::Snapshot(c) => OneOf::Snapshot(c.report()),
            })
        })
        .await
    }

    #[tool(
        name = "bt",
        description = "The stack of the crashing thread (or of every thread): JS frames with function, script and line, native frames symbolized"
    )]
    async fn bt(&self, Parameters(a): Parameters<BtArgs>) -> Answer {
        let all = a.all_threads;
        self.ask(&a.at, move |s| {
            Ok(s.core("bt")?.backtraces(all, false, None))
        })
        .await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Server {
    fn get_info(&self) -> ServerInfo {
        ServerInfo::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("v8dump", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Post-mortem analysis of Node.js core dumps and heap snapshots. Every tool \
                 takes `core` (a path on the server's machine). Start with `report`, then \
                 `leaks` or `findjsobjects`; `findjsinstances` gives addresses for `inspect` \
                 and `retainers`. Answers are the JSON of `v8dump <command> --json`, with long \
                 lists cut to fit the output cap (marked `truncated`).",
            )
    }
}

/// Serve on stdin and stdout until the client closes them.
pub fn serve(max_bytes: usize) -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let service = Server::new(max_bytes)
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| format!("MCP: {e}"))?;
        service.waiting().await.map_err(|e| format!("MCP: {e}"))?;
        Ok::<(), Box<dyn std::error::Error>>(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_most_recently_used_sessions_are_kept() {
        let mut r = Recent::new(2);
        r.put("a", 1);
        r.put("b", 2);
        assert_eq!(r.get(&"a"), Some(1)); // a is now the most recent
        r.put("c", 3); // b, the least recently used, goes
        assert_eq!(r.get(&"b"), None);
        assert_eq!(r.get(&"a"), Some(1));
        assert_eq!(r.get(&"c"), Some(3));
        r.put("c", 4); // replaced, not duplicated
        assert_eq!(r.entries.len(), 2);
        assert_eq!(r.get(&"c"), Some(4));
    }

    #[test]
    fn long_lists_are_cut_until_the_answer_fits() {
        let rows: Vec<Value> = (0..1000)
            .map(|i| serde_json::json!({"name": format!("C{i}"), "count": i}))
            .collect();
        let v = serde_json::json!({"schema_version": 1, "body": {"rows": rows, "total": 1000}});
        let small = v.to_string();
        assert_eq!(capped(v.clone(), small.len()), small, "fits: unchanged");
        let out: Value = serde_json::from_str(&capped(v, 2000)).unwrap();
        assert!(out.to_string().len() <= 2000, "{}", out.to_string().len());
        assert_eq!(out["truncated"], Value::Bool(true));
        assert_eq!(out["body"]["total"], 1000, "scalars are kept");
        let kept = out["body"]["rows"].as_array().unwrap();
        assert!(!kept.is_empty() && kept.len() < 1000);
        assert_eq!(
            kept[0]["name"], "C0",
            "the first rows (largest first) are kept"
        );
    }
}
