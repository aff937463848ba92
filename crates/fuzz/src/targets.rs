//! The targets (see the crate docs).

use crate::mutate;
use crate::{Round, Target};
use elfcore::space::FileLookup;
use elfcore::{Address, AddressSpace, CoreFile, Memory, Overlay};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use v8core::inspect::Limits;
use v8core::leaks::LeakOptions;
use v8core::session::ObjectsQuery;
use v8core::{OpenOptions, Process, Session, SnapshotSession};
use v8dump_testkit::{fixture, fixture_arm64, ARM64_MAJORS, MAJORS};

fn le(b: &[u8], at: usize, n: usize) -> u64 {
    let mut w = [0u8; 8];
    if let Some(s) = b.get(at..at + n) {
        w[..n].copy_from_slice(s);
    }
    u64::from_le_bytes(w)
}

/// The headers and notes of a core: its bytes up to the end of its last PT_NOTE segment.
fn headers_and_notes(core: &[u8]) -> Vec<u8> {
    let (phoff, phnum) = (le(core, 32, 8) as usize, le(core, 56, 2) as usize);
    let mut end = phoff + 56 * phnum;
    for i in 0..phnum {
        let h = phoff + 56 * i;
        if le(core, h, 4) == 4 {
            end = end.max((le(core, h + 8, 8) + le(core, h + 32, 8)) as usize);
        }
    }
    core[..end.min(core.len()).min(4 << 20)].to_vec()
}

/// `elf` and `space`.
pub struct Elf {
    seeds: Vec<Vec<u8>>,
    space: bool,
    opened: u64,
}

impl Elf {
    pub fn new(space: bool) -> Elf {
        // x86-64 kernel cores of every version, and arm64 cores qemu-user wrote.
        let cores = MAJORS.iter().map(|&m| fixture("basic", m).core).chain(
            ARM64_MAJORS
                .iter()
                .map(|&m| fixture_arm64("exact_objects", m).core),
        );
        let seeds = cores
            .map(|c| headers_and_notes(&std::fs::read(c).unwrap()))
            .collect();
        Elf {
            seeds,
            space,
            opened: 0,
        }
    }
}

impl Target for Elf {
    fn round(&mut self, r: Round<'_>) {
        let mut data = self.seeds[r.rng.usize(..self.seeds.len())].clone();
        mutate::bytes(r.rng, &mut data, 6, 8 << 20);
        std::fs::write(r.input, &data).expect("write the input");
        let Ok(core) = CoreFile::open(r.input) else {
            return;
        };
        self.opened += 1;
        let _ = core.check_complete();
        let _ = (
            core.threads().len(),
            core.mapped_files().len(),
            core.auxv().len(),
        );
        let _ = (core.siginfo(), core.process().is_some(), core.truncation());
        if !self.space {
            return;
        }
        let core = Arc::new(core);
        let space = AddressSpace::new(core.clone(), &FileLookup::default());
        let segs = core.segments();
        for _ in 0..64 {
            let a = match segs.get(r.rng.usize(..segs.len().max(1))) {
                Some(s) => s.vaddr.0.wrapping_add(r.rng.u64(..s.memsz.max(1) + 64)),
                None => r.rng.u64(..),
            };
            let n = 1usize << r.rng.u32(0..21);
            let _ = space.read_vec(Address(a), n);
            let _ = space.slice(Address(a), n);
            let _ = space.read_u64(Address(a));
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} seeds from the fixture cores, {} mutated files opened as cores",
            self.seeds.len(),
            self.opened
        )
    }
}

struct Loaded {
    name: String,
    process: Arc<Process>,
    overlay: Arc<Overlay>,
}

/// `heap`: a layer of damage over one heap page of a real core, then the questions.
pub struct Heap {
    cores: Vec<Loaded>,
    originals: HashMap<(usize, usize), Vec<u8>>,
    rounds: u64,
}

impl Heap {
    pub fn new(_input: &Path) -> Heap {
        let fixtures = MAJORS
            .iter()
            .map(|&m| (format!("node{m}"), fixture("basic", m)))
            .chain(
                ARM64_MAJORS
                    .iter()
                    .map(|&m| (format!("arm64-node{m}"), fixture_arm64("exact_objects", m))),
            );
        let cores = fixtures
            .map(|(name, f)| {
                let m = name.clone();
                let opts = OpenOptions {
                    executable: Some(f.node.clone()),
                    ..Default::default()
                };
                let mut overlay = None;
                let process = Process::open_wrapped(&f.core, &opts, |d| {
                    let o = Arc::new(Overlay::new(d));
                    overlay = Some(o.clone());
                    o
                })
                .unwrap_or_else(|e| panic!("open the {m} fixture: {e}"));
                Loaded {
                    name,
                    process: Arc::new(process),
                    overlay: overlay.expect("the overlay was made"),
                }
            })
            .collect();
        Heap {
            cores,
            originals: HashMap::new(),
            rounds: 0,
        }
    }
}

impl Target for Heap {
    fn round(&mut self, r: Round<'_>) {
        self.rounds += 1;
        let ci = r.rng.usize(..self.cores.len());
        let c = &self.cores[ci];
        let pages = &c.process.pages.pages;
        if pages.is_empty() {
            return;
        }
        let pi = r.rng.usize(..pages.len());
        let page = &pages[pi];
        let (lo, len) = (
            page.area_start,
            (page.area_end.0 - page.area_start.0) as usize,
        );
        c.overlay.set_patch(Address(0), Vec::new());
        let original = self
            .originals
            .entry((ci, pi))
            .or_insert_with(|| c.process.memory().read_vec(lo, len).unwrap_or_default());
        if original.is_empty() {
            return;
        }
        let mut bytes = original.clone();
        let others: Vec<u64> = pages.iter().map(|p| p.area_start.0 | 1).collect();
        mutate::heap_words(r.rng, &mut bytes, lo.0, &others, 10);
        // The input on disk: the page's address, then its damaged bytes.
        let mut file = lo.0.to_le_bytes().to_vec();
        file.extend_from_slice(&bytes);
        std::fs::write(r.input, &file).expect("write the input");
        c.overlay.set_patch(lo, bytes);
        let verbose = std::env::var_os("V8DUMP_FUZZ_VERBOSE").is_some();
        let t0 = std::time::Instant::now();
        let step = |what: &str| {
            if verbose {
                eprintln!("{} page {pi}: {what} at {:?}", c.name, t0.elapsed());
            }
        };
        let s = Session::from_shared(c.process.clone());
        let _ = s.objects(&ObjectsQuery::default());
        let _ = s.partial();
        step("objects");
        let h = s.heap();
        let first = h.index.first_from(lo.0);
        let end = h.index.first_from(lo.0 + len as u64);
        let on_page: Vec<u64> = (first..end).map(|i| h.index.addr(i)).collect();
        for k in 0..on_page.len().min(48) {
            let a = on_page[r.rng.usize(..on_page.len())] | 1;
            step(&format!("inspect {a:#x}"));
            let _ = s.inspect(a, Limits::default());
            if k < 4 {
                step(&format!("retainers {a:#x}"));
                let _ = s.retainers(a, 2, 12);
                step(&format!("findrefs {a:#x}"));
                let _ = s.refs(a, 16);
            }
        }
        step("inspect");
        if self.rounds.is_multiple_of(4) {
            let _ = s.top(10);
            step("top");
            let _ = s.leaks(&LeakOptions::default());
            step("leaks");
        }
        if self.rounds.is_multiple_of(16) {
            let _ = s.report();
            let _ = s.memory();
            let _ = s.node_info(false);
            step("report");
        }
        let _ = &c.name;
    }

    fn describe(&self) -> String {
        let v: Vec<String> = self.cores.iter().map(|c| c.name.clone()).collect();
        format!(
            "cores of {} (basic.js; exact_objects.js on arm64), one damaged page per round",
            v.join(", ")
        )
    }
}

/// `snapshot`: damaged `.heapsnapshot` files.
pub struct Snapshot {
    seeds: Vec<Vec<u8>>,
    parsed: u64,
}

impl Snapshot {
    pub fn new() -> Snapshot {
        let seeds = [20, 26]
            .iter()
            .map(|&m| std::fs::read(fixture("basic", m).snapshot()).expect("the fixture snapshot"))
            .collect();
        Snapshot { seeds, parsed: 0 }
    }
}

/// Replace a number in JSON text with an edge value (counts, indices, lengths).
fn json_number(rng: &mut fastrand::Rng, data: &mut Vec<u8>) {
    const EDGE: [&[u8]; 8] = [
        b"0",
        b"-1",
        b"4294967295",
        b"4294967296",
        b"9007199254740993",
        b"1e308",
        b"99999999999999999999",
        b"2147483647",
    ];
    let at = rng.usize(..data.len().max(1));
    let Some(start) = data[at..]
        .iter()
        .position(u8::is_ascii_digit)
        .map(|p| p + at)
    else {
        return;
    };
    let end = data[start..]
        .iter()
        .position(|b| !b.is_ascii_digit())
        .map_or(data.len(), |p| p + start);
    data.splice(start..end, EDGE[rng.usize(..EDGE.len())].iter().copied());
}

impl Target for Snapshot {
    fn round(&mut self, r: Round<'_>) {
        let mut data = self.seeds[r.rng.usize(..self.seeds.len())].clone();
        for _ in 0..r.rng.usize(1..8) {
            json_number(r.rng, &mut data);
        }
        // Half the rounds stay valid JSON (numbers changed: counts, indices, lengths), so the
        // parser's checks of the graph are reached, not only its JSON errors.
        if r.rng.bool() {
            mutate::bytes(r.rng, &mut data, 1, 64 << 20);
        }
        std::fs::write(r.input, &data).expect("write the input");
        let Ok(s) = SnapshotSession::open(r.input) else {
            return;
        };
        self.parsed += 1;
        let _ = s.info();
        let _ = s.objects(&ObjectsQuery::default());
        let top = s.top(10);
        for row in top.body.rows.iter().take(3) {
            if let Some(id) = row.address.strip_prefix('@').and_then(|t| t.parse().ok()) {
                let _ = s.inspect(id, Limits::default());
                let _ = s.retainers(id, 2, 12);
            }
        }
        if self.parsed.is_multiple_of(4) {
            let _ = s.report();
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} seeds (node's own snapshots), {} damaged files parsed",
            self.seeds.len(),
            self.parsed
        )
    }
}
