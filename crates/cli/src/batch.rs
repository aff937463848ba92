//! `batch`: many cores, one JSON line each, in parallel within a memory budget; a final table
//! and the crashes grouped by signature. The work is `v8core::crash::batch::run_batch`; here
//! are the output file, the progress bar and the summary's place (stdout, or stderr when the
//! lines go to stdout).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use v8core::crash::batch::{done_keys, run_batch, BatchPlan};
use v8core::render::Render;
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
    /// No progress bar.
    pub quiet: bool,
}

/// `batch`.
pub fn run(a: &BatchArgs) -> Res {
    let done = a
        .out
        .as_ref()
        .filter(|_| !a.force)
        .map(|o| done_keys(o))
        .unwrap_or_default();
    let plan = BatchPlan::new(
        &a.inputs,
        &done,
        a.jobs,
        a.budget,
        OpenOptions {
            exe_dirs: a.exe_dirs.clone(),
            ..Default::default()
        },
    );
    let sink: Box<dyn Write + Send> = match &a.out {
        Some(o) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(o)
                .map_err(|e| format!("cannot open {}: {e}", o.display()))?,
        ),
        None => Box::new(std::io::stdout()),
    };
    let sink = Mutex::new(sink);
    let bar = (!a.quiet && std::io::stderr().is_terminal()).then(|| {
        let b = ProgressBar::with_draw_target(
            Some(plan.cores.len() as u64),
            ProgressDrawTarget::stderr(),
        );
        b.set_style(
            ProgressStyle::with_template("{spinner} cores [{bar:30}] {pos}/{len} {elapsed} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        b
    });
    let out_err: Mutex<Option<String>> = Mutex::new(None);
    let summary = run_batch(
        &plan,
        &|p| {
            if let Some(b) = &bar {
                b.set_message(
                    p.file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                );
            }
        },
        &|rec| {
            if let Ok(line) = serde_json::to_string(rec) {
                let mut w = sink.lock().unwrap_or_else(|e| e.into_inner());
                if let Err(e) = writeln!(w, "{line}").and_then(|_| w.flush()) {
                    *out_err.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
                }
            }
            if let Some(b) = &bar {
                b.inc(1);
            }
        },
    );
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if let Some(e) = out_err.into_inner().unwrap_or_default() {
        return Err(format!("writing the output failed: {e}").into());
    }
    let mut text = String::new();
    summary.render(&mut text);
    if a.out.is_some() {
        std::io::stdout().write_all(text.as_bytes())?;
    } else {
        std::io::stderr().write_all(text.as_bytes())?;
    }
    Ok(())
}
