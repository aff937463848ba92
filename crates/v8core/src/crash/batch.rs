//! One core as one record, for archives of crashes (`v8dump batch`, `v8dump.analyze` in
//! Python): versions, crash cause, heap use, the largest constructors, what holds the largest,
//! the JS stack, and a signature that is equal for crashes of the same leak.

use crate::crash::report::{report, CauseKind, TopName};
use crate::graph::reverse::Graph;
use crate::heap::index::no_progress;
use crate::heap::loaded::Heap;
use crate::process::{OpenOptions, Process};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::Instant;

/// Whether a record's core could be analyzed.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    /// Analyzed.
    Ok,
    /// Not analyzed; `error` says why.
    #[default]
    Failed,
}

/// The record of one core.
#[derive(Debug, Clone, Serialize, Deserialize, Default, schemars::JsonSchema)]
pub struct CoreRecord {
    /// The core's path.
    pub core: String,
    /// Identity of the file (path, size, modification time), to skip it on a re-run.
    pub key: String,
    /// Whether the core could be analyzed.
    pub status: RecordStatus,
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
    /// What ended the process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<CauseKind>,
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
    if crate::heapsnap::is_snapshot_file(path).unwrap_or(false) {
        analyze_snapshot(path, &mut rec);
        rec.seconds = t.elapsed().as_secs_f64();
        return rec;
    }
    let opened = Process::open(path, opts);
    match opened {
        Err(e) => {
            rec.status = RecordStatus::Failed;
            rec.error = Some(e.to_string());
        }
        Ok(p) => {
            // A damaged core must not take the batch down: contain any panic to this record.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let heap = Heap::load(p, &no_progress);
                fill(&heap, &mut rec);
            }));
            if outcome.is_err() {
                rec.status = RecordStatus::Failed;
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
    rec.status = RecordStatus::Ok;
    rec.compression = h.p.dump().compression().map(|c| c.name().to_string());
    rec.executable = Some(h.p.exe_check.path.display().to_string());
    rec.executable_found_by = Some(h.p.exe_check.found_by.clone());
    rec.node = h.p.versions.node.clone();
    rec.v8 = Some(h.p.versions.v8.to_string());
    rec.pid = r.node.pid;
    rec.cause = Some(r.cause.kind);
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
    // the application's function names and the leaking class do not. Builtins (no script:
    // `Array.push`) are not the application's: whether an allocation fails inside one or in
    // its caller is chance.
    let functions: Vec<String> = r
        .stack
        .iter()
        .flat_map(|b| b.frames.iter())
        .filter_map(|f| f.js.as_ref())
        .filter(|js| {
            js.script
                .as_deref()
                .is_some_and(|s| !s.starts_with("node:"))
        })
        .take(2)
        .map(|js| js.name.clone())
        .collect();
    rec.signature = format!(
        "{} | {} | {}",
        rec.cause.map(|c| c.as_str()).unwrap_or("?"),
        rec.top.first().map(|t| t.name.as_str()).unwrap_or("-"),
        functions.join(" < ")
    );
}

/// A heap snapshot's record: no crash, so no cause and no stack; the largest constructors,
/// the retainer path of one instance of the largest, and a signature of the largest
/// constructor and the first leak suspect's name in the program.
fn analyze_snapshot(path: &Path, rec: &mut CoreRecord) {
    let s = match crate::heapsnap::SnapshotSession::open(path) {
        Ok(s) => s,
        Err(e) => {
            rec.status = RecordStatus::Failed;
            rec.error = Some(e.to_string());
            return;
        }
    };
    rec.status = RecordStatus::Ok;
    rec.compression = elfcore::unpack::detect_file(path)
        .ok()
        .flatten()
        .map(|c| c.name().to_string());
    rec.cause_summary = Some("a heap snapshot: no crash is recorded in it".into());
    let objects = s.objects(&crate::session::ObjectsQuery {
        top: Some(5),
        ..Default::default()
    });
    rec.heap_object_bytes = Some(s.info().body.self_bytes);
    rec.top = objects
        .body
        .rows
        .iter()
        .map(|r| TopName {
            name: r.name.clone(),
            count: r.count,
            size: r.size,
        })
        .collect();
    if let Some(top) = rec.top.first() {
        // One held as most of them are (the snapshot's order says nothing of age, so the
        // middle instance can be one of the few node holds itself).
        let id = s.representative_instance(&top.name);
        rec.top_retainer = id.and_then(|id| s.retainers(id, 1, 64).ok()).and_then(|r| {
            r.body
                .paths
                .first()
                .map(|p| format!("{} ({})", p.chain, p.root_words))
        });
    }
    let leaks = s.leaks(&crate::leaks::LeakOptions::default()).body;
    rec.signature = format!(
        "snapshot | {} | {}",
        rec.top.first().map(|t| t.name.as_str()).unwrap_or("-"),
        leaks
            .suspects
            .first()
            .map(|x| x.reached_as.as_str())
            .unwrap_or("-")
    );
}

/// Whether `p` looks like a core: an ELF core header, or a compressed file (whose inside is
/// checked when it is opened), or a heap snapshot.
pub fn looks_like_core(p: &Path) -> bool {
    let mut head = [0u8; 64];
    let n = std::fs::File::open(p)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    if n >= 18 && head[..4] == *b"\x7fELF" {
        return u16::from_le_bytes([head[16], head[17]]) == 4; // ET_CORE
    }
    if crate::heapsnap::looks_like_snapshot(&head[..n]) {
        return true;
    }
    elfcore::unpack::Compression::detect(&head[..n]).is_some()
}

/// The cores under `inputs`, sorted: files named are taken as given (a broken one becomes a
/// failed record), directories are searched four levels deep for files that look like cores.
pub fn collect_cores(inputs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo: Vec<(PathBuf, usize, bool)> =
        inputs.iter().map(|p| (p.clone(), 0, true)).collect();
    while let Some((p, depth, given)) = todo.pop() {
        if p.is_dir() {
            if depth > 4 {
                continue;
            }
            if let Ok(rd) = std::fs::read_dir(&p) {
                for e in rd.flatten() {
                    todo.push((e.path(), depth + 1, false));
                }
            }
        } else if given || (p.is_file() && looks_like_core(&p)) {
            out.push(p);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Keys of the records an earlier run wrote as JSON lines to `out`.
pub fn done_keys(out: &Path) -> HashSet<String> {
    let Ok(f) = std::fs::File::open(out) else {
        return HashSet::new();
    };
    std::io::BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str::<CoreRecord>(&l).ok())
        .map(|r| r.key)
        .collect()
}

/// Available memory (MemAvailable), for the default budget.
pub fn mem_available() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let l = s.lines().find(|l| l.starts_with("MemAvailable:"))?;
    l.split_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()
        .map(|k| k * 1024)
}

/// What analyzing `p` is expected to hold in memory: about the size of its data on disk
/// (compressed cores are counted four times their size).
pub fn estimate(p: &Path) -> u64 {
    let blocks = std::fs::metadata(p)
        .map(|m| std::os::unix::fs::MetadataExt::blocks(&m) * 512)
        .unwrap_or(0);
    if looks_like_core(p) && elfcore::unpack::detect_file(p).ok().flatten().is_some() {
        blocks * 4
    } else {
        blocks
    }
}

/// What a batch is asked to do.
#[derive(Debug, Clone)]
pub struct BatchPlan {
    /// The cores to analyze, in order.
    pub cores: Vec<PathBuf>,
    /// Cores found but skipped because an earlier run has them.
    pub skipped: usize,
    /// Cores analyzed at once.
    pub jobs: usize,
    /// Bytes of cores in flight at most (see [`estimate`]); a core larger than the budget
    /// runs alone.
    pub budget: u64,
    /// How to open each core.
    pub open: OpenOptions,
}

impl BatchPlan {
    /// The plan for `inputs`: cores found there, less those whose key is in `done`; the budget
    /// defaults to 60% of available memory.
    pub fn new(
        inputs: &[PathBuf],
        done: &HashSet<String>,
        jobs: usize,
        budget: Option<u64>,
        open: OpenOptions,
    ) -> BatchPlan {
        let all = collect_cores(inputs);
        let cores: Vec<PathBuf> = all
            .iter()
            .filter(|p| !done.contains(&file_key(p)))
            .cloned()
            .collect();
        BatchPlan {
            skipped: all.len() - cores.len(),
            cores,
            jobs: jobs.max(1),
            budget: budget
                .or_else(|| mem_available().map(|m| m / 10 * 6))
                .unwrap_or(4 << 30),
            open,
        }
    }
}

/// A group of crashes with the same signature.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CrashGroup {
    /// The signature (cause | largest constructor | innermost application functions).
    pub signature: String,
    /// The cores in the group.
    pub cores: Vec<String>,
    /// The Node.js versions among them.
    pub versions: Vec<String>,
}

/// What a batch did: every record (sorted by core), and the crashes grouped.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct BatchSummary {
    /// The records, sorted by core path.
    pub records: Vec<CoreRecord>,
    /// Cores skipped because an earlier run has them.
    pub skipped: usize,
    /// Records that failed.
    pub failed: usize,
    /// Groups of successful records with equal signatures, largest first.
    pub groups: Vec<CrashGroup>,
}

impl BatchSummary {
    /// Sort the records and group them.
    pub fn of(mut records: Vec<CoreRecord>, skipped: usize) -> BatchSummary {
        records.sort_by(|x, y| x.core.cmp(&y.core));
        let mut by_sig: BTreeMap<&str, Vec<&CoreRecord>> = BTreeMap::new();
        for r in records.iter().filter(|r| r.status == RecordStatus::Ok) {
            by_sig.entry(r.signature.as_str()).or_default().push(r);
        }
        let mut groups: Vec<CrashGroup> = by_sig
            .into_iter()
            .map(|(sig, rs)| {
                let mut versions: Vec<String> = rs.iter().filter_map(|r| r.node.clone()).collect();
                versions.sort();
                versions.dedup();
                CrashGroup {
                    signature: sig.to_string(),
                    cores: rs.iter().map(|r| r.core.clone()).collect(),
                    versions,
                }
            })
            .collect();
        groups.sort_by(|a, b| {
            b.cores
                .len()
                .cmp(&a.cores.len())
                .then(a.signature.cmp(&b.signature))
        });
        BatchSummary {
            failed: records
                .iter()
                .filter(|r| r.status != RecordStatus::Ok)
                .count(),
            records,
            skipped,
            groups,
        }
    }
}

/// Run a batch: `plan.jobs` worker threads take cores from a queue, each starting once the
/// cores in flight fit the memory budget; `on_start(core)` and `on_record(record)` are called
/// from the workers as cores start and finish (to draw progress and write lines).
pub fn run_batch(
    plan: &BatchPlan,
    on_start: &(dyn Fn(&Path) + Sync),
    on_record: &(dyn Fn(&CoreRecord) + Sync),
) -> BatchSummary {
    let queue = Mutex::new(plan.cores.iter().cloned().collect::<VecDeque<_>>());
    // Bytes of the cores in flight; a core starts when it fits the budget, or when nothing
    // else runs.
    let in_flight = (Mutex::new(0u64), Condvar::new());
    let records: Mutex<Vec<CoreRecord>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..plan.jobs {
            s.spawn(|| loop {
                let Some(p) = queue.lock().ok().and_then(|mut q| q.pop_front()) else {
                    return;
                };
                let need = estimate(&p);
                {
                    let (m, cv) = &in_flight;
                    let mut used = m.lock().unwrap_or_else(|e| e.into_inner());
                    while *used > 0 && *used + need > plan.budget {
                        used = cv.wait(used).unwrap_or_else(|e| e.into_inner());
                    }
                    *used += need;
                }
                on_start(&p);
                let rec = analyze(&p, &plan.open);
                {
                    let (m, cv) = &in_flight;
                    let mut used = m.lock().unwrap_or_else(|e| e.into_inner());
                    *used = used.saturating_sub(need);
                    cv.notify_all();
                }
                on_record(&rec);
                records.lock().unwrap_or_else(|e| e.into_inner()).push(rec);
            });
        }
    });
    BatchSummary::of(records.into_inner().unwrap_or_default(), plan.skipped)
}
