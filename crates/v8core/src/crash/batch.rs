//! One core as one record, for archives of crashes (`v8dump batch`, `v8dump.analyze` in
//! Python): versions, crash cause, heap use, the largest constructors, what holds the largest,
//! the JS stack, and a signature that is equal for crashes of the same leak.

use crate::crash::report::{report, TopName};
use crate::graph::reverse::Graph;
use crate::heap::index::no_progress;
use crate::heap::loaded::Heap;
use crate::process::{OpenOptions, Process};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;

/// The record of one core.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct CoreRecord {
    /// The core's path.
    pub core: String,
    /// Identity of the file (path, size, modification time), to skip it on a re-run.
    pub key: String,
    /// `ok` or `failed`.
    pub status: String,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The core's compression on disk (`zstd`, `gzip`, `lz4`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    /// The executable used, and how it was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executable: Option<String>,
    /// How the executable was chosen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executable_found_by: Option<String>,
    /// Node.js version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// V8 version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub v8: Option<String>,
    /// Process id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u64>,
    /// `oom`, `abort`, `signal`, `unknown`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// One sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause_summary: Option<String>,
    /// Bytes in heap objects (walked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heap_object_bytes: Option<u64>,
    /// `--max-old-space-size`, MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heap_limit_mib: Option<u64>,
    /// The largest constructors by total self size.
    pub top: Vec<TopName>,
    /// A retainer path of one instance of the largest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_retainer: Option<String>,
    /// The crashing thread's JS frames, innermost first (`name (script:line)`), at most 8.
    pub js_stack: Vec<String>,
    /// Equal for crashes of the same cause: kind, largest constructor, the innermost JS
    /// functions of the application (node's own `node:` frames left out).
    pub signature: String,
    /// Analysis time.
    pub seconds: f64,
}

/// Identity of a file for skipping: path, size and modification time.
pub fn file_key(path: &Path) -> String {
    let m = std::fs::metadata(path).ok();
    let size = m.as_ref().map(|m| m.len()).unwrap_or(0);
    let mtime = m
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{}|{size}|{mtime}", path.display())
}

/// Analyze one core into a record; failures are records too (`status: failed`, `error`).
pub fn analyze(path: &Path, opts: &OpenOptions) -> CoreRecord {
    let t = Instant::now();
    let mut rec = CoreRecord {
        core: path.display().to_string(),
        key: file_key(path),
        ..Default::default()
    };
    let opened = Process::open(path, opts);
    match opened {
        Err(e) => {
            rec.status = "failed".into();
            rec.error = Some(e.to_string());
        }
        Ok(p) => {
            // A damaged core must not take the batch down: contain any panic to this record.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let heap = Heap::load(p, &no_progress);
                fill(&heap, &mut rec);
            }));
            if outcome.is_err() {
                rec.status = "failed".into();
                rec.error = Some("internal error while analyzing (please report)".into());
            }
        }
    }
    rec.seconds = t.elapsed().as_secs_f64();
    rec
}

fn fill(h: &Heap, rec: &mut CoreRecord) {
    let g = Graph::build(&h.p, &h.index, &h.marking, &no_progress);
    let r = report(h, &g, 5, 1);
    rec.status = "ok".into();
    rec.compression = h.p.core().compression().map(|c| c.name().to_string());
    rec.executable = Some(h.p.exe_check.path.display().to_string());
    rec.executable_found_by = Some(h.p.exe_check.found_by.clone());
    rec.node = h.p.versions.node.clone();
    rec.v8 = Some(h.p.versions.v8.to_string());
    rec.pid = r.node.pid;
    rec.cause = Some(r.cause.kind.clone());
    rec.cause_summary = Some(r.cause.summary.clone());
    rec.heap_limit_mib = r.cause.heap_limit_mib;
    rec.heap_object_bytes = Some(r.spaces.iter().map(|s| s.objects).sum());
    rec.top = r.top_by_size.clone();
    rec.top_retainer = r.holders.first().and_then(|x| x.chain.clone());
    rec.js_stack = r
        .stack
        .iter()
        .flat_map(|b| b.frames.iter())
        .filter_map(|f| {
            let js = f.js.as_ref()?;
            let script = js
                .script
                .as_deref()
                .map(|s| s.rsplit('/').next().unwrap_or(s).to_string())
                .unwrap_or_default();
            Some(match js.line {
                Some(l) => format!("{} ({script}:{l})", js.name),
                None => format!("{} ({script})", js.name),
            })
        })
        .take(8)
        .collect();
    // Lines move between builds of a program and node's own frames between node versions;
    // the application's function names and the leaking class do not.
    let functions: Vec<String> = r
        .stack
        .iter()
        .flat_map(|b| b.frames.iter())
        .filter_map(|f| f.js.as_ref())
        .filter(|js| !js.script.as_deref().unwrap_or("").starts_with("node:"))
        .take(2)
        .map(|js| js.name.clone())
        .collect();
    rec.signature = format!(
        "{} | {} | {}",
        rec.cause.as_deref().unwrap_or("?"),
        rec.top.first().map(|t| t.name.as_str()).unwrap_or("-"),
        functions.join(" < ")
    );
}
