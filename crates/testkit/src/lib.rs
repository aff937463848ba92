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
pub const MAJORS: [u32; 4] = [18, 20, 22, 24];

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
    ensure_all();
    let dir = cache_dir()
        .join("cores")
        .join(scenario)
        .join(format!("node{major}"));
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
