//! The one-screen answer for an SRE (`report`): why the process died, what filled the heap,
//! what holds the largest constructors, and the JavaScript stack.

use crate::crash::nodeinfo::{node_info, NodeInfo};
use crate::crash::stack::{Backtrace, FrameKind, StackWalker};
use crate::graph::edges::Edges;
use crate::graph::paths::chain_text;
use crate::graph::paths::root_words;
use crate::graph::paths::RootKind;
use crate::graph::reverse::Graph;
use crate::heap::loaded::Heap;
use crate::objects::census::Scope;
use elfcore::Address;
use serde::Serialize;

/// What ended the process.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CauseKind {
    /// V8 gave up: "JavaScript heap out of memory".
    Oom,
    /// The process called abort() (process.abort(), a fatal error, an assertion).
    Abort,
    /// Killed by a signal.
    Signal,
    /// The core records no signal.
    Unknown,
}

impl CauseKind {
    /// The JSON spelling (`oom`).
    pub fn as_str(self) -> &'static str {
        match self {
            CauseKind::Oom => "oom",
            CauseKind::Abort => "abort",
            CauseKind::Signal => "signal",
            CauseKind::Unknown => "unknown",
        }
    }
}

/// Why the process died.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Cause {
    /// What ended it.
    pub kind: CauseKind,
    /// One sentence.
    pub summary: String,
    /// The signal number, if any.
    pub signal: Option<i32>,
    /// The V8 function that gave up, for out-of-memory deaths (`Heap::CollectGarbage`...).
    pub oom_in: Option<String>,
    /// V8's reason, as node prints it after `FATAL ERROR:` (`Reached heap limit`,
    /// `Ineffective mark-compacts near heap limit`...): the location string passed to the
    /// fatal-error handler, found on the crashing thread's stack.
    pub oom_reason: Option<String>,
    /// `--max-old-space-size` in MiB, from execArgv or NODE_OPTIONS, if set.
    pub heap_limit_mib: Option<u64>,
}

/// Bytes per space, as walked.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SpaceUse {
    /// Space name.
    pub space: String,
    /// Object area of its pages.
    pub area: u64,
    /// Bytes in objects.
    pub objects: u64,
}

/// A constructor among the largest.
#[derive(Debug, Clone, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct TopName {
    /// Constructor name.
    pub name: String,
    /// Instances.
    pub count: u64,
    /// Total self size.
    pub size: u64,
}

/// The retainer path of one instance of a large constructor.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Holder {
    /// Constructor name.
    pub name: String,
    /// The instance shown (tagged).
    pub instance: u64,
    /// `Name <- edge Holder <- ...`, up to a root.
    pub chain: Option<String>,
}

/// Everything `report` shows.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Report {
    /// Why it died.
    pub cause: Cause,
    /// The Node.js process.
    pub node: NodeInfo,
    /// Heap use per space.
    pub spaces: Vec<SpaceUse>,
    /// Bytes in objects of the old generation (every space but new and read-only space).
    pub old_generation_objects: u64,
    /// Largest constructors by total self size.
    pub top_by_size: Vec<TopName>,
    /// Most numerous constructors.
    pub top_by_count: Vec<TopName>,
    /// What holds the largest constructors.
    pub holders: Vec<Holder>,
    /// The crashing thread's stack.
    pub stack: Option<Backtrace>,
    /// The leak suspects (as `leaks` finds them), when they were looked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leaks: Option<crate::leaks::Leaks>,
    /// What the process was waiting on (as `handles` lists it), when it was looked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<crate::crash::handles::Handles>,
    /// Where the process's memory is (as `memory` answers), when it was looked at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<crate::memory::MemoryReport>,
    /// Whether the program's strings, environment and arguments were replaced by lengths and
    /// hashes (`report --redact`, [`crate::redact`]).
    pub redacted: bool,
}

/// Build the report; `top` rows per list, retainer paths for the first `paths` constructors.
pub fn report(h: &Heap, g: &Graph, top: usize, paths: usize) -> Report {
    let node = node_info(h, false);
    let stack = StackWalker::new(&h.p).backtrace(0);
    let cause = cause(h, stack.as_ref(), &node);
    let spaces: Vec<SpaceUse> = h
        .index
        .per_space
        .iter()
        .map(|(s, t)| SpaceUse {
            space: s.clone(),
            area: t.area_bytes,
            objects: t.object_bytes,
        })
        .collect();
    let census = h.census(Scope::Reachable, false);
    let row = |r: &crate::objects::census::CensusRow| TopName {
        name: r.name.clone(),
        count: r.count,
        size: r.size,
    };
    let top_by_size: Vec<TopName> = census.iter().take(top).map(row).collect();
    let mut by_count: Vec<_> = census.iter().collect();
    by_count.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
    let top_by_count = by_count.into_iter().take(top).map(row).collect();
    let edges = Edges::new(h, g);
    let holders = top_by_size
        .iter()
        .take(paths)
        .filter_map(|t| {
            let all = h.instances(&t.name, Scope::Reachable);
            // An instance from the middle: the oldest and newest are the likeliest to be
            // special (prototypes, the one being built).
            let i = *all.get(all.len() / 2)?;
            let chain = edges.retainer_paths(i, 1, 64).first().map(|p| {
                let why = match &p.root_kind {
                    RootKind::Memory { region, .. } => format!("root: pointed at from {region}"),
                    k => root_words(k),
                };
                format!("{} ({why})", chain_text(h, i, p))
            });
            Some(Holder {
                name: t.name.clone(),
                instance: h.index.tagged(i),
                chain,
            })
        })
        .collect();
    let old_generation_objects = spaces
        .iter()
        .filter(|s: &&SpaceUse| s.space != "new_space" && s.space != "read_only_space")
        .map(|s| s.objects)
        .sum();
    Report {
        cause,
        node,
        spaces,
        old_generation_objects,
        top_by_size,
        top_by_count,
        holders,
        stack,
        leaks: None,
        pending: None,
        memory: None,
        redacted: false,
    }
}

/// The reasons V8 gives its out-of-memory handler (the `location` of
/// `V8::FatalProcessOutOfMemory`, from V8's `src/heap/`), most specific first.
const OOM_REASONS: &[&str] = &[
    "Ineffective mark-compacts near heap limit",
    "Reached heap limit",
    "CALL_AND_RETRY_LAST",
    "MarkCompactCollector: young object promotion failed",
    "MarkCompactCollector: semi-space copy",
    "Scavenger: semi-space copy",
    "Committing semi space failed.",
    "NewSpace::EnsureCurrentCapacity",
    "NewSpace::Rebalance",
    "Heap::ReserveSpace",
    "invalid array length",
    "invalid table size",
];

/// V8's out-of-memory reason: a pointer to one of [`OOM_REASONS`] among the crashing
/// thread's first stack words (the fatal-error handler's argument, still in its frame).
fn oom_reason(h: &Heap) -> Option<String> {
    let dump = h.p.dump();
    let mem = h.p.memory();
    let sp = dump.threads().first()?.regs.sp();
    let longest = OOM_REASONS.iter().map(|r| r.len()).max().unwrap_or(0);
    let mut text = vec![0u8; longest + 1];
    (0..512u64)
        .map_while(|k| mem.read_u64(Address(sp + 8 * k)).ok())
        .find_map(|a| {
            dump.mapped_file_at(Address(a))?;
            OOM_REASONS.iter().find_map(|r| {
                let b = &mut text[..r.len() + 1];
                mem.read_at(Address(a), b).ok()?;
                (b[..r.len()] == *r.as_bytes() && b[r.len()] == 0).then(|| r.to_string())
            })
        })
}

fn cause(h: &Heap, stack: Option<&Backtrace>, node: &NodeInfo) -> Cause {
    let signal = h.p.dump().signal();
    let symbols: Vec<&str> = stack
        .map(|b| {
            b.frames
                .iter()
                .filter(|f| f.kind == FrameKind::Native)
                .filter_map(|f| f.native.as_ref()?.symbol.as_deref())
                .collect()
        })
        .unwrap_or_default();
    let limit = node
        .exec_argv
        .iter()
        .chain(
            node.env
                .iter()
                .filter(|(k, _)| k == "NODE_OPTIONS")
                .flat_map(|(_, v)| v.split_whitespace())
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .iter(),
        )
        .find_map(|a| a.strip_prefix("--max-old-space-size=")?.parse::<u64>().ok());
    let fatal = symbols
        .iter()
        .position(|s| s.contains("FatalProcessOutOfMemory") || s.contains("OOMErrorHandler"));
    if let Some(k) = fatal {
        // The first V8 function below the fatal-error machinery says what gave up.
        let oom_in = symbols[k..]
            .iter()
            .find(|s| {
                !s.contains("FatalProcessOutOfMemory")
                    && !s.contains("OOMErrorHandler")
                    && !s.contains("ReportOOMFailure")
            })
            .map(|s| s.split('(').next().unwrap_or(s).to_string());
        let oom_reason = oom_reason(h);
        return Cause {
            kind: CauseKind::Oom,
            summary: format!(
                "JavaScript heap out of memory{}{}",
                oom_reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default(),
                oom_in
                    .as_deref()
                    .map(|f| format!(" (V8 gave up in {f})"))
                    .unwrap_or_default()
            ),
            signal,
            oom_in,
            oom_reason,
            heap_limit_mib: limit,
        };
    }
    let (kind, summary) = match signal {
        Some(6) if symbols.iter().any(|s| *s == "abort" || s.contains("Abort")) => (
            CauseKind::Abort,
            "the process aborted itself (abort(): process.abort(), a fatal error or an assertion)"
                .to_string(),
        ),
        Some(s) => (
            CauseKind::Signal,
            format!("killed by {} ({s})", elfcore::core::signal_name(s)),
        ),
        None => (
            CauseKind::Unknown,
            "no signal recorded in the core".to_string(),
        ),
    };
    Cause {
        kind,
        summary,
        signal,
        oom_in: None,
        oom_reason: None,
        heap_limit_mib: limit,
    }
}
