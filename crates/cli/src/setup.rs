//! `v8dump lldb-init`: make lldb load the `v8` commands at start.
//!
//! The plugin is the module `v8dump.lldb` of the Python package, and lldb runs its own
//! embedded Python (Debian's lldb-19: the system's python3). When that Python can import the
//! package (installed for it), one line in ~/.lldbinit is enough. When it cannot (the package
//! is in a venv, or installed for another Python), the package's directory goes on lldb's
//! `sys.path` first: the package is abi3 and pure Python around it, so any CPython 3.8+ loads
//! it. The lines are written once, inside a marked block that a later run replaces; the result
//! is checked by starting lldb with the file.

use std::path::{Path, PathBuf};
use std::process::Command;

type Res = Result<(), Box<dyn std::error::Error>>;

const BEGIN: &str = "# >>> v8dump lldb-init >>>";
const END: &str = "# <<< v8dump lldb-init <<<";

/// What lldb's Python says of itself and of the package.
struct LldbPython {
    version: String,
    prefix: String,
    /// Where it imports `v8dump` from, if it can.
    package: Option<PathBuf>,
}

fn find_lldb(given: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["lldb-19", "lldb"] {
        for dir in std::env::split_paths(&path) {
            let c = dir.join(name);
            if c.is_file() {
                return Ok(c);
            }
        }
    }
    Err(
        "no lldb-19 or lldb on PATH (Debian: apt-get install lldb-19 python3-lldb-19); \
         name one with --lldb"
            .into(),
    )
}

/// Run `lldb --batch` with no init file and `script` lines; its stdout.
fn lldb_script(lldb: &Path, init: Option<&Path>, lines: &[&str]) -> Result<String, String> {
    let mut c = Command::new(lldb);
    c.arg("--batch");
    match init {
        // The file under test, as lldb would read it at start.
        Some(f) => c.arg("-x").arg("-s").arg(f),
        None => c.arg("-x"),
    };
    for l in lines {
        c.arg("-o").arg(l);
    }
    // lldb's Python must show what it finds by itself, not this environment's path.
    c.env_remove("PYTHONPATH").env_remove("PYTHONHOME");
    let out = c
        .output()
        .map_err(|e| format!("cannot run {}: {e}", lldb.display()))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

fn probe(lldb: &Path) -> Result<LldbPython, String> {
    let out = lldb_script(
        lldb,
        None,
        &[
            "script import sys; print('V8DUMP-PY', sys.version.split()[0], sys.prefix)",
            "script import importlib.util as u; s = u.find_spec('v8dump'); \
             print('V8DUMP-PKG', s.submodule_search_locations[0] if s else '-')",
        ],
    )?;
    let field = |tag: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(tag).map(|r| r.trim().to_string()))
    };
    let py = field("V8DUMP-PY ").ok_or_else(|| {
        format!(
            "{} has no working Python (Debian: apt-get install python3-lldb-19); it said: {}",
            lldb.display(),
            out.trim()
        )
    })?;
    let (version, prefix) = py.split_once(' ').unwrap_or((&py, ""));
    let package = field("V8DUMP-PKG ").filter(|p| p != "-").map(PathBuf::from);
    Ok(LldbPython {
        version: version.into(),
        prefix: prefix.into(),
        package,
    })
}

/// `text` with the marked block replaced by `block` (or `block` appended).
fn with_block(text: &str, block: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    let mut placed = false;
    for line in text.lines() {
        if line.trim() == BEGIN {
            inside = true;
            continue;
        }
        if inside {
            if line.trim() == END {
                inside = false;
                if !placed {
                    out.push_str(block);
                    placed = true;
                }
            }
            continue;
        }
        // A line the user wrote by hand that loads the plugin goes: the block loads it.
        if line.trim() == "command script import v8dump.lldb" {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if !placed {
        out.push_str(block);
    }
    out
}

pub fn lldb_init(lldb: Option<&Path>, init: Option<&Path>, python_path: Option<&Path>) -> Res {
    let lldb = find_lldb(lldb)?;
    let init = match init {
        Some(f) => f.to_path_buf(),
        None => PathBuf::from(
            std::env::var_os("HOME").ok_or("HOME is not set; name the file with --lldbinit")?,
        )
        .join(".lldbinit"),
    };
    let ours = python_path
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("V8DUMP_PYTHON_PATH").map(PathBuf::from));
    let py = probe(&lldb)?;
    println!(
        "lldb        {} (Python {}, {})",
        lldb.display(),
        py.version,
        py.prefix
    );
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    let mut block = format!("{BEGIN}\n");
    match (&py.package, &ours) {
        (Some(found), Some(dir)) if same(found, &dir.join("v8dump")) => {
            println!("package     {} (lldb's Python imports it)", found.display());
        }
        (_, Some(dir)) => {
            let pkg = dir.join("v8dump");
            if !pkg.join("lldb.py").is_file() {
                return Err(format!(
                    "{} holds no v8dump package with the lldb plugin (v8dump/lldb.py)",
                    dir.display()
                )
                .into());
            }
            let dir = dir.canonicalize().unwrap_or_else(|_| dir.clone());
            let lit = serde_json::to_string(&dir.to_string_lossy())?;
            println!(
                "package     {} (not importable by lldb's Python: put on its sys.path)",
                pkg.display()
            );
            block.push_str(&format!(
                "script import sys; sys.path.insert(0, {lit}) if {lit} not in sys.path else None\n"
            ));
        }
        (Some(found), None) => {
            println!("package     {} (lldb's Python imports it)", found.display());
        }
        (None, None) => {
            return Err(format!(
                "lldb's Python ({}) cannot import the v8dump package, and this v8dump was not \
                 started by the Python package: install it (pip install v8dump, or the wheel \
                 built from crates/python) and run that install's `v8dump lldb-init`, or name \
                 the directory that holds the package with --python-path",
                py.prefix
            )
            .into());
        }
    }
    block.push_str("command script import v8dump.lldb\n");
    block.push_str(&format!("{END}\n"));
    let old = match std::fs::read_to_string(&init) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", init.display()).into()),
    };
    let new = with_block(&old, &block);
    if new == old {
        println!("lldbinit    {} (already set up; unchanged)", init.display());
    } else {
        std::fs::write(&init, &new).map_err(|e| format!("cannot write {}: {e}", init.display()))?;
        println!("lldbinit    {} (v8dump's block written)", init.display());
    }
    // Check it as lldb will run it.
    let out = lldb_script(&lldb, Some(&init), &["help v8"])?;
    if out.contains("findjsobjects") && out.contains("retainers") {
        println!("check       ok: lldb loads the v8 commands from it (`help v8` lists them)");
        Ok(())
    } else {
        Err(format!(
            "{} was written, but lldb does not load the v8 commands from it; lldb said:\n{}",
            init.display(),
            out.trim()
        )
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_is_written_once_and_replaced_in_place() {
        let block = format!("{BEGIN}\ncommand script import v8dump.lldb\n{END}\n");
        let once = with_block("settings set a b\n", &block);
        assert_eq!(once, format!("settings set a b\n{block}"));
        assert_eq!(with_block(&once, &block), once);
        let other = format!("{BEGIN}\nscript x\ncommand script import v8dump.lldb\n{END}\n");
        let replaced = with_block(&format!("{once}settings set c d\n"), &other);
        assert_eq!(
            replaced,
            format!("settings set a b\n{other}settings set c d\n")
        );
        // A hand-written import line is folded into the block.
        let hand = with_block("command script import v8dump.lldb\n", &block);
        assert_eq!(hand, block);
    }
}
