//! Running the `v8dump` binary from the CLI's integration tests.
#![allow(dead_code)] // each test file uses its own subset

use std::process::{Command, Output};

/// Run `v8dump` with `args`.
pub fn v8dump(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_v8dump"))
        .args(args)
        .output()
        .expect("run v8dump")
}

/// Its stdout as JSON, after checking it succeeded.
pub fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("JSON on stdout")
}

/// Its stdout as text, after checking it succeeded.
pub fn text(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Every command on a damaged input (`args`: the core and its options) either answers with
/// the mark `mark` (text) and the caveat `kind` (JSON), or fails with one line that says `why`
/// (never blaming something else, never a panic). With `object`, the commands that take an
/// address are run on it too. Commands in `skip` are left out.
pub fn assert_marked_or_explained(
    args: &[&std::ffi::OsStr],
    object: Option<&str>,
    skip: &[&str],
    mark: &str,
    kind: &str,
    why: &str,
) {
    let tmp = v8dump_testkit::TempDir::new("marked");
    let snap = tmp.join("x.heapsnapshot");
    let mut commands: Vec<Vec<&std::ffi::OsStr>> = vec![
        vec!["findjsobjects".as_ref()],
        vec!["top".as_ref()],
        vec!["report".as_ref()],
        vec!["bt".as_ref()],
        vec!["nodeinfo".as_ref()],
        vec!["memory".as_ref()],
        vec!["leaks".as_ref()],
        vec!["heapsnapshot".as_ref(), "-o".as_ref(), snap.as_os_str()],
    ];
    if let Some(a) = object {
        for c in ["inspect", "retainers", "findrefs"] {
            commands.push(vec![c.as_ref(), a.as_ref()]);
        }
    }
    for c in commands {
        if skip.iter().any(|s| c[0] == *s) {
            continue;
        }
        let mut argv: Vec<&std::ffi::OsStr> = vec![c[0]];
        argv.extend(args);
        argv.extend(&c[1..]);
        let run = |argv: &[&std::ffi::OsStr]| {
            Command::new(env!("CARGO_BIN_EXE_v8dump"))
                .args(argv)
                .output()
                .expect("run v8dump")
        };
        let o = run(&argv);
        let what = format!("{argv:?}");
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        );
        assert_ne!(o.status.code(), Some(101), "{what}: panic {err}");
        if o.status.success() || o.status.code() == Some(4) {
            assert!(out.contains(mark), "{what}: no {mark}:\n{out}");
            argv.push("--json".as_ref());
            let o = run(&argv);
            let j: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
            let kinds: Vec<&str> = j["partial"]["reasons"]
                .as_array()
                .map(|r| r.iter().filter_map(|x| x["kind"].as_str()).collect())
                .unwrap_or_default();
            assert!(kinds.contains(&kind), "{what}: {}", j["partial"]);
        } else {
            assert!(
                err.contains(why),
                "{what}: the error does not say {why:?}: {err}"
            );
            assert!(
                !err.contains("coredump_filter"),
                "{what}: blames coredump_filter: {err}"
            );
        }
    }
}
