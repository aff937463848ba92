//! Fuzz targets for v8dump's parsers, on stable Rust: each target mutates real inputs (from
//! the fixture cache) at random, runs a parser on them with panics caught, and stops at the
//! first panic or hang, leaving the input that caused it in the output directory.
//!
//! ```text
//! v8dump-fuzz TARGET [--seconds N] [--seed S] [--out DIR] [--hang SECONDS]
//! ```
//!
//! Targets:
//! - `elf`: the ELF and note parser (`elfcore::CoreFile`) on the headers and notes of fixture
//!   cores;
//! - `space`: the address space built over such a core (`elfcore::AddressSpace`), read at
//!   random addresses and lengths;
//! - `heap`: the page walker, marking, naming, the object decoder (`inspect`) and the graph
//!   questions (`top`, `leaks`) on real cores of every version whose heap pages are damaged
//!   in memory (`elfcore::Overlay`) each round;
//! - `snapshot`: the heap-snapshot parser and its answers on damaged `.heapsnapshot` files.
//!
//! Not coverage-guided (that needs a nightly toolchain): the mutations are chosen to reach
//! the parsers' decisions from real inputs (ELF and note fields, map words, lengths, pointers,
//! JSON numbers and punctuation). Exit status: 0 clean, 1 a panic, 2 a hang, 3 bad usage.

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod mutate;
mod targets;

/// What one round of a target runs on: written to disk before the round, so that whatever
/// happens (even an abort) the input is there.
pub struct Round<'a> {
    /// Where the round's input file is (targets that read files write it here).
    pub input: &'a Path,
    /// The random source of this round.
    pub rng: &'a mut fastrand::Rng,
}

/// A fuzz target: set up once, then run round after round.
pub trait Target {
    /// One round. Panics are the failures looked for.
    fn round(&mut self, r: Round<'_>);
    /// A line about what was run, for the summary.
    fn describe(&self) -> String;
}

struct Args {
    target: String,
    seconds: u64,
    seed: u64,
    out: PathBuf,
    hang: u64,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        target: String::new(),
        seconds: 60,
        seed: 1,
        out: PathBuf::from("target/fuzz"),
        hang: 60,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        let mut val = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match x.as_str() {
            "--seconds" => a.seconds = val("--seconds")?.parse().map_err(|e| format!("{e}"))?,
            "--seed" => a.seed = val("--seed")?.parse().map_err(|e| format!("{e}"))?,
            "--hang" => a.hang = val("--hang")?.parse().map_err(|e| format!("{e}"))?,
            "--out" => a.out = PathBuf::from(val("--out")?),
            "-h" | "--help" => return Err(String::new()),
            t if a.target.is_empty() && !t.starts_with('-') => a.target = t.to_string(),
            t => return Err(format!("unexpected argument {t:?}")),
        }
    }
    if a.target.is_empty() {
        return Err("which target? elf, space, heap or snapshot".into());
    }
    Ok(a)
}

fn main() {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "{e}\nusage: v8dump-fuzz elf|space|heap|snapshot [--seconds N] [--seed S] \
                 [--out DIR] [--hang SECONDS]"
            );
            std::process::exit(3);
        }
    };
    let dir = a.out.join(&a.target);
    std::fs::create_dir_all(&dir).expect("create the output directory");
    let input = dir.join("current-input");
    let mut target: Box<dyn Target> = match a.target.as_str() {
        "elf" => Box::new(targets::Elf::new(false)),
        "space" => Box::new(targets::Elf::new(true)),
        "heap" => Box::new(targets::Heap::new(&input)),
        "snapshot" => Box::new(targets::Snapshot::new()),
        t => {
            eprintln!("no target {t:?}: elf, space, heap or snapshot");
            std::process::exit(3);
        }
    };
    // A panic's message goes to the summary, not the terminal, round after round.
    let last_panic: Arc<Mutex<String>> = Arc::default();
    let lp = last_panic.clone();
    panic::set_hook(Box::new(move |info| {
        if let Ok(mut s) = lp.lock() {
            *s = info.to_string();
        }
    }));
    // The watchdog: a round running past --hang seconds is a hang.
    let started = Arc::new(AtomicU64::new(0));
    let epoch = Instant::now();
    {
        let started = started.clone();
        let (hang, input) = (a.hang, input.clone());
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_secs(1));
            let s = started.load(Ordering::Relaxed);
            if s > 0 && epoch.elapsed().as_secs().saturating_sub(s) > hang {
                eprintln!(
                    "v8dump-fuzz: HANG: a round ran past {hang} s; its input: {}",
                    input.display()
                );
                std::process::exit(2);
            }
        });
    }
    let mut rng = fastrand::Rng::with_seed(a.seed);
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let mut rounds = 0u64;
    while Instant::now() < deadline {
        started.store(epoch.elapsed().as_secs().max(1), Ordering::Relaxed);
        let r = panic::catch_unwind(AssertUnwindSafe(|| {
            target.round(Round {
                input: &input,
                rng: &mut rng,
            })
        }));
        started.store(0, Ordering::Relaxed);
        rounds += 1;
        if r.is_err() {
            let keep = dir.join(format!("panic-{}-{rounds}", a.seed));
            let _ = std::fs::copy(&input, &keep);
            let msg = last_panic.lock().map(|s| s.clone()).unwrap_or_default();
            eprintln!(
                "v8dump-fuzz: PANIC in round {rounds} of {}: {msg}\ninput kept at {}",
                a.target,
                keep.display()
            );
            std::process::exit(1);
        }
    }
    let _ = std::fs::remove_file(&input);
    println!(
        "{}: {rounds} rounds in {} s, seed {}, no panic and no hang ({})",
        a.target,
        a.seconds,
        a.seed,
        target.describe()
    );
}
