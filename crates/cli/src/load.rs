//! Loading a heap with a progress bar on the terminal (nothing when stderr is not a terminal).

use crate::CoreArgs;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use v8core::Heap;

/// Open the core, walk, mark and name its heap.
pub fn heap(args: &CoreArgs) -> Result<Heap, v8core::Error> {
    let p = args.open()?;
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
    let stage = Mutex::new(String::new());
    let progress = |what: &str, done: u64, total: u64| {
        if let Some(b) = &bar {
            if let Ok(mut s) = stage.lock() {
                if *s != what {
                    *s = what.to_string();
                    b.set_message(what.to_string());
                    b.set_length(total);
                }
            }
            b.set_position(done);
        }
    };
    let heap = Heap::load(p, &progress);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(heap)
}
