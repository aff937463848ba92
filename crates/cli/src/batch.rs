//! `batch`: many cores, one JSON line each, in parallel within a memory budget; a final table
//! and the crashes grouped by signature.

use crate::fmt::{bytes, Table};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use v8core::crash::batch::{analyze, file_key, CoreRecord};
use v8core::OpenOptions;

type Res = Result<(), Box<dyn std::error::Error>>;

/// Options of `batch`.
pub struct BatchArgs {
    /// Files and directories.
    pub inputs: Vec<PathBuf>,
    /// Cores analyzed at once.
    pub jobs: usize,
    /// JSON lines file (appended); stdout when `None`.
    pub out: Option<PathBuf>,
    /// Re-analyze cores already in `out`.
    pub force: bool,
    /// Executable search directories.
    pub exe_dirs: Vec<PathBuf>,
    /// Memory budget in bytes for cores in flight.
    pub budget: Option<u64>,
}

/// Whether `p` looks like a core: an ELF core header, or a compressed file (whose inside is
/// checked when it is opened).
fn looks_like_core(p: &Path) -> bool {
    let mut head = [0u8; 18];
    let n = std::fs::File::open(p)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    if n >= 18 && head[..4] == *b"\x7fELF" {
        return u16::from_le_bytes([head[16], head[17]]) == 4; // ET_CORE
    }
    elfcore::unpack::Compression::detect(&head[..n]).is_some()
}

/// The cores under `inputs` (directories searched four levels deep), sorted.
fn collect(inputs: &[PathBuf]) -> Vec<PathBuf> {
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
            // Files named on the command line are taken as given: a broken one is a failed line.
            out.push(p);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Keys of the cores an earlier run already wrote to `out`.
fn done_keys(out: &Path) -> HashSet<String> {
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
fn mem_available() -> Option<u64> {
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
fn estimate(p: &Path) -> u64 {
    let blocks = std::fs::metadata(p)
        .map(|m| std::os::unix::fs::MetadataExt::blocks(&m) * 512)
        .unwrap_or(0);
    if looks_like_core(p) && elfcore::unpack::detect_file(p).ok().flatten().is_some() {
        blocks * 4
    } else {
        blocks
    }
}

/// `batch`.
pub fn run(a: &BatchArgs) -> Res {
    let all = collect(&a.inputs);
    let done = a
        .out
        .as_ref()
        .filter(|_| !a.force)
        .map(|o| done_keys(o))
        .unwrap_or_default();
    let todo: Vec<PathBuf> = all
        .iter()
        .filter(|p| !done.contains(&file_key(p)))
        .cloned()
        .collect();
    let skipped = all.len() - todo.len();
    let budget = a
        .budget
        .or_else(|| mem_available().map(|m| m / 10 * 6))
        .unwrap_or(4 << 30);
    let opts = OpenOptions {
        exe_dirs: a.exe_dirs.clone(),
        ..Default::default()
    };
    let mut sink: Box<dyn Write + Send> = match &a.out {
        Some(o) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(o)
                .map_err(|e| format!("cannot open {}: {e}", o.display()))?,
        ),
        None => Box::new(std::io::stdout()),
    };
    let bar = (std::io::stderr().is_terminal()).then(|| {
        let b =
            ProgressBar::with_draw_target(Some(todo.len() as u64), ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template("{spinner} cores [{bar:30}] {pos}/{len} {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        b
    });
    let queue = Mutex::new(todo.into_iter().collect::<VecDeque<_>>());
    // Bytes of the cores in flight; a core starts when it fits the budget, or when nothing
    // else runs.
    let in_flight = (Mutex::new(0u64), Condvar::new());
    let records: Mutex<Vec<CoreRecord>> = Mutex::new(Vec::new());
    let out_err: Mutex<Option<String>> = Mutex::new(None);
    let jobs = a.jobs.max(1);
    let sink_m = Mutex::new(&mut sink);
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let Some(p) = queue.lock().ok().and_then(|mut q| q.pop_front()) else {
                    return;
                };
                let need = estimate(&p);
                {
                    let (m, cv) = &in_flight;
                    let mut used = m.lock().unwrap_or_else(|e| e.into_inner());
                    while *used > 0 && *used + need > budget {
                        used = cv.wait(used).unwrap_or_else(|e| e.into_inner());
                    }
                    *used += need;
                }
                if let Some(b) = &bar {
                    b.set_message(
                        p.file_name()
                            .map(|f| f.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                    );
                }
                let rec = analyze(&p, &opts);
                {
                    let (m, cv) = &in_flight;
                    let mut used = m.lock().unwrap_or_else(|e| e.into_inner());
                    *used = used.saturating_sub(need);
                    cv.notify_all();
                }
                if let Ok(line) = serde_json::to_string(&rec) {
                    let mut w = sink_m.lock().unwrap_or_else(|e| e.into_inner());
                    if let Err(e) = writeln!(w, "{line}").and_then(|_| w.flush()) {
                        *out_err.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
                    }
                }
                if let Some(b) = &bar {
                    b.inc(1);
                }
                records.lock().unwrap_or_else(|e| e.into_inner()).push(rec);
            });
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if let Some(e) = out_err.into_inner().unwrap_or_default() {
        return Err(format!("writing the output failed: {e}").into());
    }
    let mut recs = records.into_inner().unwrap_or_default();
    recs.sort_by(|x, y| x.core.cmp(&y.core));
    // The summary goes to stderr when the lines go to stdout.
    let mut report: Box<dyn Write> = if a.out.is_some() {
        Box::new(std::io::stdout())
    } else {
        Box::new(std::io::stderr())
    };
    summary(&mut report, &recs, skipped)?;
    Ok(())
}

fn summary(w: &mut dyn Write, recs: &[CoreRecord], skipped: usize) -> std::io::Result<()> {
    let mut t = Table::new(&["Core", "Status", "Node", "Cause", "Largest", "Time"], &[]);
    for r in recs {
        let name = Path::new(&r.core)
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| r.core.clone());
        let largest = r
            .top
            .first()
            .map(|x| format!("{} ({} objects, {})", x.name, x.count, bytes(x.size)))
            .unwrap_or_default();
        let status = r.status.clone();
        t.row(vec![
            name,
            status,
            r.node.clone().unwrap_or_default(),
            r.cause.clone().unwrap_or_default(),
            largest,
            format!("{:.1} s", r.seconds),
        ]);
    }
    write!(w, "{}", t.render())?;
    let failed = recs.iter().filter(|r| r.status != "ok").count();
    for r in recs.iter().filter(|r| r.error.is_some()) {
        writeln!(
            w,
            "failed: {}: {}",
            r.core,
            r.error.as_deref().unwrap_or_default()
        )?;
    }
    writeln!(
        w,
        "\n{} cores analyzed ({} failed){}",
        recs.len(),
        failed,
        if skipped > 0 {
            format!(", {skipped} already in the output (--force to redo)")
        } else {
            String::new()
        }
    )?;
    // Crashes of the same leak: same cause, largest constructor and innermost JS functions.
    let mut groups: BTreeMap<&str, Vec<&CoreRecord>> = BTreeMap::new();
    for r in recs.iter().filter(|r| r.status == "ok") {
        groups.entry(r.signature.as_str()).or_default().push(r);
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
    writeln!(
        w,
        "\n{} group{} of crashes:",
        groups.len(),
        if groups.len() == 1 { "" } else { "s" }
    )?;
    let mut g = Table::new(
        &[
            "Cores",
            "Signature (cause | largest | JS stack)",
            "Versions",
        ],
        &[0],
    );
    for (sig, rs) in &groups {
        let mut versions: Vec<String> = rs.iter().filter_map(|r| r.node.clone()).collect();
        versions.sort();
        versions.dedup();
        g.row(vec![
            rs.len().to_string(),
            sig.to_string(),
            versions.join(", "),
        ]);
    }
    write!(w, "{}", g.render())
}
