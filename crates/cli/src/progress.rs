//! Opening a session with a progress bar on the terminal (nothing when stderr is not a
//! terminal), and stage timings for benchmarks (`V8DUMP_TIMINGS=1`).

use crate::app::CoreArgs;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use v8core::input::Input;
use v8core::{Session, SnapshotSession};

fn timings() -> bool {
    std::env::var_os("V8DUMP_TIMINGS").is_some_and(|v| v != "0")
}

/// Open the core as `args` say; long steps of the session draw a bar on stderr when it is a
/// terminal, and with V8DUMP_TIMINGS=1 print each stage's time and memory.
pub fn session(args: &CoreArgs) -> Result<Session, v8core::Error> {
    // Opening (the core's notes, the executable's symbols, the page search and the sanity
    // checks) reports no counts: the bar spins under its name until the first counted stage.
    let r = Reporter::new(args.quiet);
    r.call("opening", 0, 1);
    let s = Session::open(&args.core, &args.options())?;
    Ok(s.with_progress(Arc::new(move |what, done, total| r.call(what, done, total))))
}

/// Open the core or heap snapshot `args.core` names (told apart by content), with the same
/// progress bar and timings as [`session`].
pub fn input(args: &CoreArgs) -> Result<Input, v8core::Error> {
    if !v8core::heapsnap::is_snapshot_file(&args.core)? {
        return session(args).map(Input::Core);
    }
    let t = Instant::now();
    // Reading the file is the long step here: the bar is drawn while it is opened.
    let r = Reporter::new(args.quiet);
    let s = SnapshotSession::open_with(
        &args.core,
        Some(Arc::new(move |what, done, total| r.call(what, done, total))),
    )?;
    opened(t);
    Ok(Input::Snapshot(s))
}

/// With V8DUMP_TIMINGS=1: how long opening took, and the memory used.
fn opened(t: Instant) {
    if timings() {
        eprintln!(
            "{:<22} {:>8.3} s  {}",
            "opening",
            t.elapsed().as_secs_f64(),
            rss()
        );
    }
}

/// Draws the bar and keeps the stage timings.
struct Reporter {
    bar: Option<ProgressBar>,
    timings: bool,
    stage: Mutex<(String, Instant)>,
}

impl Reporter {
    /// `quiet`: no bar (the timings of V8DUMP_TIMINGS=1 are still printed).
    fn new(quiet: bool) -> Reporter {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} {msg:<20} [{bar:30}] {pos}/{len} {elapsed}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b.enable_steady_tick(std::time::Duration::from_millis(150));
            b
        });
        Reporter {
            bar,
            timings: timings(),
            stage: Mutex::new((String::new(), Instant::now())),
        }
    }

    fn call(&self, what: &str, done: u64, total: u64) {
        if let Ok(mut s) = self.stage.lock() {
            if s.0 != what {
                if self.timings && !s.0.is_empty() {
                    eprintln!(
                        "{:<22} {:>8.3} s  {}",
                        s.0,
                        s.1.elapsed().as_secs_f64(),
                        rss()
                    );
                }
                *s = (what.to_string(), Instant::now());
                if let Some(b) = &self.bar {
                    b.set_message(what.to_string());
                    b.set_length(total);
                }
            }
        }
        if let Some(b) = &self.bar {
            b.set_position(done);
            if done >= total {
                b.finish_and_clear();
            }
        }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        if self.timings {
            if let Ok(s) = self.stage.lock() {
                if !s.0.is_empty() {
                    eprintln!(
                        "{:<22} {:>8.3} s  {}",
                        s.0,
                        s.1.elapsed().as_secs_f64(),
                        rss()
                    );
                }
            }
        }
    }
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
