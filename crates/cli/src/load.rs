//! Loading a heap with a progress bar on the terminal (nothing when stderr is not a terminal).

use crate::CoreArgs;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Instant;
use v8core::graph::dominators::Dominators;
use v8core::graph::reverse::Graph;
use v8core::heap::index::Progress;
use v8core::Heap;

/// Open the core, walk, mark and name its heap.
pub fn heap(args: &CoreArgs) -> Result<Heap, v8core::Error> {
    let t = Instant::now();
    let p = args.open()?;
    if std::env::var_os("V8DUMP_TIMINGS").is_some_and(|v| v != "0") {
        eprintln!(
            "{:<22} {:>8.3} s  {}",
            "opening",
            t.elapsed().as_secs_f64(),
            rss()
        );
    }
    Ok(with_progress("heap loaded", |progress| {
        Heap::load(p, progress)
    }))
}

/// The reference graph of a loaded heap.
pub fn graph(heap: &Heap) -> Graph {
    with_progress("references indexed", |progress| {
        Graph::build(&heap.p, &heap.index, &heap.marking, progress)
    })
}

/// The dominator tree and retained sizes of a loaded heap.
pub fn dominators(heap: &Heap, g: &Graph) -> Dominators {
    with_progress("dominators computed", |progress| {
        Dominators::build(heap, g, progress)
    })
}

/// Run `f` with a progress callback that draws a bar on a terminal (nothing when stderr is not
/// a terminal). With V8DUMP_TIMINGS=1, prints how long each stage took and the memory in use
/// (stderr), for benchmarks; `done` names the whole.
pub fn with_progress<T>(done: &str, f: impl FnOnce(Progress) -> T) -> T {
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template("{spinner} {msg:<20} [{bar:30}] {pos}/{len} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Some(b)
    } else {
        None
    };
    let timings = std::env::var_os("V8DUMP_TIMINGS").is_some_and(|v| v != "0");
    let start = Instant::now();
    let stage = Mutex::new((String::new(), Instant::now()));
    let progress = |what: &str, done: u64, total: u64| {
        if let Ok(mut s) = stage.lock() {
            if s.0 != what {
                if timings && !s.0.is_empty() {
                    eprintln!(
                        "{:<22} {:>8.3} s  {}",
                        s.0,
                        s.1.elapsed().as_secs_f64(),
                        rss()
                    );
                }
                *s = (what.to_string(), Instant::now());
                if let Some(b) = &bar {
                    b.set_message(what.to_string());
                    b.set_length(total);
                }
            }
        }
        if let Some(b) = &bar {
            b.set_position(done);
        }
    };
    let out = f(&progress);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if timings {
        if let Ok(s) = stage.lock() {
            eprintln!(
                "{:<22} {:>8.3} s  {}",
                s.0,
                s.1.elapsed().as_secs_f64(),
                rss()
            );
        }
        eprintln!("{:<22} {:>8.3} s", done, start.elapsed().as_secs_f64());
    }
    out
}

/// Resident and peak resident set of this process, from /proc (Linux), for the timings.
fn rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |k: &str| {
        status
            .lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map(|kib| format!("{} MiB", kib / 1024))
            .unwrap_or_else(|| "?".into())
    };
    format!(
        "rss {} (anon {}, file {}), peak {}",
        field("VmRSS:"),
        field("RssAnon:"),
        field("RssFile:"),
        field("VmHWM:")
    )
}
