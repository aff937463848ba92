//! Test support shared by the crates' integration tests: real cores of real node binaries.
//!
//! [`fixture`] returns a core made by `fixtures/make_cores.py` from a scenario in
//! `fixtures/scenarios/`, making it first if the cache lacks it (the script re-makes a core when
//! its scenario or node binary changed, and serializes concurrent callers with a lock). A missing
//! prerequisite (node, npm, the registry) fails the test: tests never pass by skipping.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// The supported Node.js majors.
pub const MAJORS: [u32; 6] = [18, 20, 22, 24, 25, 26];
/// The Node majors whose linux-arm64 builds make fixture cores
/// (`fixtures/node-versions-arm64.txt`).
pub const ARM64_MAJORS: [u32; 3] = [22, 24, 26];

/// One generated core and what the scenario recorded about itself.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The directory holding the core and its side files.
    pub dir: PathBuf,
    /// The core file.
    pub core: PathBuf,
    /// The node binary that ran the scenario.
    pub node: PathBuf,
    /// `run.json`: how the core was made.
    pub run: serde_json::Value,
    /// `stats.json`: what the process said about itself just before it died.
    pub stats: serde_json::Value,
}

impl Fixture {
    /// V8's heap snapshot written just before the abort.
    pub fn snapshot(&self) -> PathBuf {
        self.dir.join("heap.heapsnapshot")
    }
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/testkit is two levels down")
        .to_path_buf()
}

/// The fixture cache directory.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("V8DUMP_FIXTURE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("fixtures/cache"))
}

static MADE: Mutex<bool> = Mutex::new(false);

/// Make sure every fixture core is current (runs the script once per test process).
pub fn ensure_all() {
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    if *made {
        return;
    }
    let script = repo_root().join("fixtures/make_cores.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg("--cache")
        .arg(cache_dir())
        .output()
        .expect("python3 runs fixtures/make_cores.py");
    assert!(
        out.status.success(),
        "fixtures/make_cores.py failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    *made = true;
}

fn read_json(p: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", p.display()))
}

/// The core of `scenario` made by node `major`.
pub fn fixture(scenario: &str, major: u32) -> Fixture {
    fixture_in(scenario, &format!("node{major}"))
}

/// The core of `scenario` made by the linux-arm64 build of node `major`, under qemu-user
/// (for the scenarios whose header says `arch=x64,arm64`).
pub fn fixture_arm64(scenario: &str, major: u32) -> Fixture {
    fixture_in(scenario, &format!("arm64-node{major}"))
}

/// The cores of `scenario` made by the x86-64 builds of `majors`, then those of `arm64` (the
/// same program, the scenario that opts in to arm64) made by every arm64 build, each with a
/// label for messages (`node22`, `arm64 node22`).
pub fn x64_and_arm64(scenario: &str, majors: &[u32], arm64: &str) -> Vec<(String, Fixture)> {
    majors
        .iter()
        .map(|&m| (format!("node{m}"), fixture(scenario, m)))
        .chain(
            ARM64_MAJORS
                .iter()
                .map(|&m| (format!("arm64 node{m}"), fixture_arm64(arm64, m))),
        )
        .collect()
}

fn fixture_in(scenario: &str, name: &str) -> Fixture {
    ensure_all();
    let dir = cache_dir().join("cores").join(scenario).join(name);
    let run = read_json(&dir.join("run.json"));
    let stats = read_json(&dir.join("stats.json"));
    let node = PathBuf::from(
        run["node_path"]
            .as_str()
            .expect("run.json names the node binary"),
    );
    Fixture {
        core: dir.join("core"),
        dir,
        node,
        run,
        stats,
    }
}

/// A scratch directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh directory under the system temp dir.
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "v8dump-test-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    /// A path inside it.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Per-name totals of the snapshot's objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SnapshotCount {
    /// Objects of type "object" with this name.
    pub count: u64,
    /// Their total self size.
    pub size: u64,
    /// Of these, objects that only the "(Handle scope)" and "(Stack roots)" roots keep alive
    /// (directly or through other such objects): temporaries of the code that was running when
    /// the snapshot was taken, which the core may or may not still reference.
    pub temp_count: u64,
    /// Their total self size.
    pub temp_size: u64,
}

/// A list of names in a snapshot's meta (field names, type names).
fn names(x: &serde_json::Value) -> Vec<String> {
    x.as_array()
        .expect("meta list")
        .iter()
        .map(|f| f.as_str().expect("meta name").to_string())
        .collect()
}

/// A `.heapsnapshot` read whole: its JSON and the names of its node fields and node types.
/// The oracle readers below share it; none shares code with v8dump.
struct SnapshotFile {
    v: serde_json::Value,
    fields: Vec<String>,
    types: Vec<String>,
}

impl SnapshotFile {
    fn read(path: &Path) -> SnapshotFile {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let v: serde_json::Value = serde_json::from_str(&text).expect("heap snapshot is JSON");
        let meta = &v["snapshot"]["meta"];
        let (fields, types) = (names(&meta["node_fields"]), names(&meta["node_types"][0]));
        SnapshotFile { v, fields, types }
    }

    /// The column of node field `name`.
    fn col(&self, name: &str) -> usize {
        self.fields
            .iter()
            .position(|f| f == name)
            .unwrap_or_else(|| panic!("no node field {name}"))
    }

    /// Each node's fields.
    fn nodes(&self) -> impl Iterator<Item = &[serde_json::Value]> {
        self.v["nodes"]
            .as_array()
            .expect("nodes")
            .chunks_exact(self.fields.len())
    }

    /// The type name of a node.
    fn type_of(&self, n: &[serde_json::Value], ti: usize) -> &str {
        &self.types[n[ti].as_u64().expect("node type") as usize]
    }

    /// The string at index `w` of the string table.
    fn string(&self, w: &serde_json::Value) -> &str {
        self.v["strings"][w.as_u64().expect("string index") as usize]
            .as_str()
            .expect("a string")
    }
}

/// Every node of a `.heapsnapshot` as (type, name), in the file's order.
pub fn snapshot_nodes(path: &Path) -> Vec<(String, String)> {
    let snap = SnapshotFile::read(path);
    let (ti, ni) = (snap.col("type"), snap.col("name"));
    snap.nodes()
        .map(|n| {
            (
                snap.type_of(n, ti).to_string(),
                snap.string(&n[ni]).to_string(),
            )
        })
        .collect()
}

/// Nodes per node type (`string`, `concatenated string`, `array`...) in a `.heapsnapshot`.
pub fn snapshot_type_counts(path: &Path) -> std::collections::BTreeMap<String, u64> {
    let snap = SnapshotFile::read(path);
    let ti = snap.col("type");
    let mut out = std::collections::BTreeMap::new();
    for n in snap.nodes() {
        *out.entry(snap.type_of(n, ti).to_string()).or_default() += 1;
    }
    out
}

/// V8's own answer, read from a `.heapsnapshot` file: for every node of type "object", count
/// and total self size per name, and which of them are stack temporaries. This is the oracle
/// `findjsobjects` is checked against; it shares no code with v8dump.
pub fn snapshot_counts(path: &Path) -> std::collections::BTreeMap<String, SnapshotCount> {
    let snap = SnapshotFile::read(path);
    let v = &snap.v;
    let meta = &v["snapshot"]["meta"];
    let (nf, ef) = (&snap.fields, names(&meta["edge_fields"]));
    let (ntypes, etypes) = (&snap.types, names(&meta["edge_types"][0]));
    let col = |f: &[String], n: &str| f.iter().position(|x| x == n).expect("field");
    let (ti, ni, si, eci) = (
        col(nf, "type"),
        col(nf, "name"),
        col(nf, "self_size"),
        col(nf, "edge_count"),
    );
    let (eti, eto) = (col(&ef, "type"), col(&ef, "to_node"));
    let num = |x: &serde_json::Value| x.as_u64().expect("number");
    let strings: Vec<&str> = v["strings"]
        .as_array()
        .expect("strings")
        .iter()
        .map(|s| s.as_str().expect("string"))
        .collect();
    let nodes: Vec<u64> = v["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(num)
        .collect();
    let edges: Vec<u64> = v["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(num)
        .collect();
    let k = nf.len();
    let nnodes = nodes.len() / k;
    // Which nodes are reachable from the snapshot's root (node 0) through strong edges when
    // the stack and handle-scope roots are left out? The others were temporaries.
    let mut first_edge = vec![0usize; nnodes + 1];
    for n in 0..nnodes {
        first_edge[n + 1] = first_edge[n] + nodes[n * k + eci] as usize * ef.len();
    }
    let mut other_retainer = vec![false; nnodes];
    let mut todo = vec![0usize];
    other_retainer[0] = true;
    while let Some(n) = todo.pop() {
        let name = strings[nodes[n * k + ni] as usize];
        if ntypes[nodes[n * k + ti] as usize] == "synthetic"
            && (name == "(Handle scope)" || name == "(Stack roots)")
        {
            continue;
        }
        let mut e = first_edge[n];
        while e < first_edge[n + 1] {
            let to = edges[e + eto] as usize / k;
            if etypes[edges[e + eti] as usize] != "weak" && !other_retainer[to] {
                other_retainer[to] = true;
                todo.push(to);
            }
            e += ef.len();
        }
    }
    let mut out = std::collections::BTreeMap::new();
    for n in 0..nnodes {
        if ntypes[nodes[n * k + ti] as usize] != "object" {
            continue;
        }
        let name = strings[nodes[n * k + ni] as usize].to_string();
        let size = nodes[n * k + si];
        let c: &mut SnapshotCount = out.entry(name).or_default();
        c.count += 1;
        c.size += size;
        if !other_retainer[n] {
            c.temp_count += 1;
            c.temp_size += size;
        }
    }
    out
}

/// V8's own answer, read from a `.heapsnapshot` file: for every node of type "object", count
/// and total self size per name. This is the oracle `findjsobjects` is checked against; it
/// shares no code with v8dump.
pub fn snapshot_histogram(path: &Path) -> std::collections::BTreeMap<String, (u64, u64)> {
    let snap = SnapshotFile::read(path);
    let (ti, ni, si) = (snap.col("type"), snap.col("name"), snap.col("self_size"));
    let mut out = std::collections::BTreeMap::new();
    for n in snap.nodes() {
        if snap.type_of(n, ti) != "object" {
            continue;
        }
        let e: &mut (u64, u64) = out.entry(snap.string(&n[ni]).to_string()).or_default();
        e.0 += 1;
        e.1 += n[si].as_u64().expect("self size");
    }
    out
}

/// Compare per-name (count, total self size) against V8's snapshot, for every name the
/// snapshot lists at least 10 times. Equal, or short by no more than the snapshot's stack
/// temporaries of that name (objects only "(Handle scope)"/"(Stack roots)" kept alive, whose
/// slots the core may have reused). Returns the mismatches, one line each, and how many names
/// were checked.
pub fn compare_with_snapshot(
    what: &str,
    oracle: &std::collections::BTreeMap<String, SnapshotCount>,
    ours: &std::collections::HashMap<String, (u64, u64)>,
) -> (Vec<String>, usize) {
    let mut bad = Vec::new();
    let mut checked = 0;
    for (name, o) in oracle {
        let (count, size) = (o.count, o.size);
        if count < 10 {
            continue;
        }
        checked += 1;
        let got = ours.get(name).copied().unwrap_or((0, 0));
        let temporaries_gone = got.0 <= count
            && got.1 <= size
            && count - got.0 <= o.temp_count
            && size - got.1 <= o.temp_size;
        if got != (count, size) && !temporaries_gone {
            bad.push(format!(
                "{what}: {name:?}: snapshot {count} objects / {size} B, v8dump {} / {} B",
                got.0, got.1
            ));
        }
    }
    (bad, checked)
}

/// The memlab heap snapshot parser (npm `@memlab/core`), installed once into the fixture cache
/// with npm (no browser download, no install scripts). Returns its `node_modules` directory.
pub fn memlab() -> PathBuf {
    npm_package("memlab", "@memlab/core@2.0.5", "@memlab/core")
}

/// Playwright's browser driver (npm `playwright-core`, which downloads no browser), installed
/// once into the fixture cache; the page tests drive Debian's `/usr/bin/chromium` with it.
/// Returns its `node_modules` directory.
pub fn playwright() -> PathBuf {
    npm_package("playwright", "playwright-core@1.65.1", "playwright-core")
}

/// Install the npm package `spec` once into `fixtures/cache/<dir>` (no install scripts) and
/// return that `node_modules`; `name` is the package's directory in it.
fn npm_package(dir: &str, spec: &str, name: &str) -> PathBuf {
    static DONE: Mutex<()> = Mutex::new(());
    let _guard = DONE.lock().unwrap_or_else(|e| e.into_inner());
    let dir = cache_dir().join(dir);
    let modules = dir.join("node_modules");
    if modules.join(name).join("package.json").is_file() {
        return modules;
    }
    std::fs::create_dir_all(&dir).expect("create npm package dir");
    std::fs::write(
        dir.join("package.json"),
        "{\"name\": \"v8dump-test-tools\", \"private\": true}\n",
    )
    .expect("write package.json");
    let out = Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            spec,
        ])
        .env("PUPPETEER_SKIP_DOWNLOAD", "1")
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| panic!("run npm (needed to install {spec}): {e}"));
    assert!(
        out.status.success(),
        "npm install {spec} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    modules
}

/// Where V8 says a function starts, read from the scenario's source (not from v8dump): the
/// 1-based line and column of the first `(` at or after the first occurrence of `needle` in
/// `fixtures/scenarios/<scenario>.js`. V8 puts a function's start position at its parameter
/// list, so `needle` is the function's head: `"remember(url"`, `"function pollMetrics("`,
/// `"(update) =>"`. Panics if the needle is not there exactly once.
pub fn scenario_position(scenario: &str, needle: &str) -> (u64, u64) {
    let path = repo_root().join(format!("fixtures/scenarios/{scenario}.js"));
    let src =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let at = src
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} is not in {}", path.display()));
    assert_eq!(
        src.matches(needle).count(),
        1,
        "{needle:?} occurs more than once in {}",
        path.display()
    );
    let paren = at
        + src[at..]
            .find('(')
            .expect("a parameter list after the needle");
    let before = &src[..paren];
    let line = before.matches('\n').count() as u64 + 1;
    let col = (paren - before.rfind('\n').map_or(0, |n| n + 1)) as u64 + 1;
    (line, col)
}

/// V8's count of string objects whose text is `text`, from a `.heapsnapshot` file (nodes of
/// type "string" are named by their characters).
pub fn snapshot_string_count(path: &Path, text: &str) -> u64 {
    let snap = SnapshotFile::read(path);
    let (ti, ni) = (snap.col("type"), snap.col("name"));
    snap.nodes()
        .filter(|n| snap.type_of(n, ti) == "string" && snap.string(&n[ni]) == text)
        .count() as u64
}

/// The little-endian `n`-byte number at `o` of `b`.
fn le(b: &[u8], o: usize, n: usize) -> u64 {
    let mut v = [0u8; 8];
    v[..n].copy_from_slice(&b[o..o + n]);
    u64::from_le_bytes(v)
}

/// Where in the core file `bytes` the `width` bytes at address `addr` are, from its PT_LOAD
/// program headers. Panics if they are not in the core's data.
fn file_offset(bytes: &[u8], addr: u64, width: usize) -> usize {
    let (phoff, phnum) = (le(bytes, 32, 8) as usize, le(bytes, 56, 2) as usize);
    let off = (0..phnum)
        .map(|k| phoff + k * 56)
        .filter(|&ph| le(bytes, ph, 4) == 1)
        .find_map(|ph| {
            let (fo, va, fsz) = (
                le(bytes, ph + 8, 8),
                le(bytes, ph + 16, 8),
                le(bytes, ph + 32, 8),
            );
            (va <= addr && addr + width as u64 <= va + fsz).then(|| (fo + addr - va) as usize)
        })
        .unwrap_or_else(|| panic!("{addr:#x} is not in the core's data"));
    assert!(
        off + width <= bytes.len(),
        "{addr:#x} is past the core's end"
    );
    off
}

/// A copy of the core at `core` in `dir` with the little-endian words `patches` (address,
/// value, width in bytes: 4 or 8) written over the bytes the core holds for those addresses,
/// found through its program headers (read here, not by v8dump). Panics if an address is not
/// in the core's data.
pub fn patched_core(core: &Path, dir: &Path, patches: &[(u64, u64, usize)]) -> PathBuf {
    let mut bytes = std::fs::read(core).expect("read the core");
    for &(addr, value, width) in patches {
        let off = file_offset(&bytes, addr, width);
        bytes[off..off + width].copy_from_slice(&value.to_le_bytes()[..width]);
    }
    let out = dir.join("patched.core");
    std::fs::write(&out, &bytes).expect("write the patched core");
    out
}

/// The little-endian 8-byte word the core holds at `addr` (read through its program headers).
pub fn core_word(core: &Path, addr: u64) -> u64 {
    let bytes = std::fs::read(core).expect("read the core");
    le(&bytes, file_offset(&bytes, addr, 8), 8)
}
