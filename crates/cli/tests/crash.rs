//! `bt`, `nodeinfo` and `report` end to end on real cores of every version. Expected values come
//! from the scenarios: oom.js's source (the line of `function leakForever`), stats.json (argv,
//! execArgv and versions as the process itself reported them; the leaking class and global),
//! run.json (the secret-looking variable make_cores.py put in the environment).
//!
//! Golden files (`crates/cli/tests/golden/`) keep the text form of `bt` and `nodeinfo` on the
//! `basic` cores, with addresses, numbers and paths masked; `V8DUMP_BLESS=1` rewrites them.

mod common;
use common::{json, text, v8dump};

use std::path::Path;
use v8dump_testkit::{fixture, repo_root, MAJORS};

/// 1-based line of the first line of `file` containing `needle`.
fn line_of(file: &Path, needle: &str) -> u64 {
    let src = std::fs::read_to_string(file).expect("scenario source");
    src.lines()
        .position(|l| l.contains(needle))
        .map(|i| i as u64 + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in {}", file.display()))
}

#[test]
fn bt_shows_the_leaking_function_and_native_frames_to_the_start() {
    let script = repo_root().join("fixtures/scenarios/oom.js");
    let want_line = line_of(&script, "function leakForever");
    // x86-64 kernel cores of every version, and arm64 cores made under qemu-user (which name
    // no files: the executable is given).
    for (major, f) in v8dump_testkit::x64_and_arm64("oom", &MAJORS, "oom") {
        let bts = json(&v8dump(&[
            "bt",
            f.core.to_str().unwrap(),
            "-e",
            f.node.to_str().unwrap(),
            "--json",
        ]));
        let frames = bts["threads"][0]["frames"].as_array().expect("frames");
        // Node printed its own native stack as it died: those return addresses are frames.
        let (natives, _) = printed_stack(&f.dir);
        assert!(natives.len() >= 4, "{major}: node printed {natives:x?}");
        let pcs: Vec<u64> = frames.iter().filter_map(|fr| fr["pc"].as_u64()).collect();
        for a in &natives {
            assert!(pcs.contains(a), "{major}: {a:#x} not among {pcs:x?}");
        }
        let js = frames
            .iter()
            .find(|fr| fr["js"]["name"] == "leakForever")
            .unwrap_or_else(|| panic!("{major}: no leakForever frame"));
        assert!(
            js["js"]["script"]
                .as_str()
                .unwrap_or("")
                .ends_with("oom.js"),
            "{major}: {js}"
        );
        // The hot loop runs in some tier, read from its code (never left as unknown).
        let kind = js["kind"].as_str().unwrap_or("");
        assert!(
            ["interpreted", "baseline", "maglev", "turbofan"].contains(&kind),
            "{major}: leakForever runs as {kind}"
        );
        // The function's own line, or the line being run inside it (the loop's body).
        let line = js["js"]["line"].as_u64().unwrap_or(0);
        let end = line_of(&script, "globalThis.leaked.push(new LeakyThing(i))");
        assert!(
            line == want_line || (js["js"]["exact"] == true && line > want_line && line <= end),
            "{major}: leakForever at line {line}, defined at {want_line}"
        );
        let natives: Vec<&str> = frames
            .iter()
            .filter_map(|fr| fr["native"]["symbol"].as_str())
            .collect();
        assert!(
            natives.iter().any(|s| s.contains("OOMErrorHandler")),
            "{major}: {natives:?}"
        );
        // node's main() is `jmp node::Start`: node::Start is the outermost node frame, called
        // by the C library's start code.
        let start = frames
            .iter()
            .position(|fr| {
                fr["native"]["symbol"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("node::Start(int, char**)"))
            })
            .unwrap_or_else(|| panic!("{major}: no node::Start frame in {natives:?}"));
        // Then the C library's start code: named where the core names its files (a kernel
        // core), known by where it was mapped where it does not (qemu's).
        let outer = frames[start + 1]["native"]["module"].as_str().unwrap_or("");
        assert!(
            outer.starts_with("libc") || outer.contains("that the core does not name"),
            "{major}: after node::Start comes {outer}"
        );
        // JS frames sit between V8's entry frame and the exit frame into the runtime.
        let kinds: Vec<&str> = frames
            .iter()
            .filter_map(|fr| fr["frame_type"].as_str())
            .collect();
        assert!(kinds.contains(&"EntryFrame"), "{major}: {kinds:?}");
        assert!(kinds.contains(&"ExitFrame"), "{major}: {kinds:?}");
    }
}

#[test]
fn nodeinfo_has_the_exact_argv_and_masks_secrets() {
    for major in MAJORS {
        let f = fixture("oom", major);
        let core = f.core.to_str().unwrap();
        let info = json(&v8dump(&["nodeinfo", core, "--json"]));
        assert_eq!(info["argv"], f.stats["argv"], "node{major}");
        assert_eq!(info["exec_argv"], f.stats["execArgv"], "node{major}");
        assert!(
            info["exec_argv"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a.as_str().unwrap().starts_with("--max-old-space-size=")),
            "node{major}"
        );
        assert_eq!(info["exec_path"], f.stats["execPath"], "node{major}");
        assert_eq!(
            info["version"].as_str().map(|v| v.trim_start_matches('v')),
            f.stats["versions"]["node"].as_str(),
            "node{major}"
        );
        assert_eq!(info["pid"], f.stats["pid"], "node{major}");
        let versions = info["versions"].as_array().unwrap();
        for key in ["node", "v8", "uv"] {
            let v = versions
                .iter()
                .find(|p| p[0] == key)
                .unwrap_or_else(|| panic!("node{major}: no versions.{key}"));
            assert_eq!(v[1], f.stats["versions"][key], "node{major} {key}");
        }
        // The secret make_cores.py set: masked, and shown with --show-secrets.
        let (name, secret) = f.run["env_extra"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(k, _)| k.contains("SECRET"))
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .expect("run.json has a secret-looking variable");
        let plain = text(&v8dump(&["nodeinfo", core]));
        assert!(!plain.contains(&secret), "node{major}: secret shown");
        let line = plain
            .lines()
            .find(|l| l.trim_start().starts_with(&name))
            .unwrap_or_else(|| panic!("node{major}: {name} not listed"));
        assert!(line.contains("********"), "node{major}: {line}");
        let shown = text(&v8dump(&["nodeinfo", core, "--show-secrets"]));
        assert!(shown.contains(&secret), "node{major}");
        // The working directory the harness reported.
        assert_eq!(info["cwd"]["value"], f.stats["cwd"], "node{major}");
    }
}

#[test]
fn report_names_the_leaking_constructor_first_with_its_retainer_path() {
    for major in MAJORS {
        let f = fixture("oom", major);
        let class = f.stats["extra"]["class"].as_str().unwrap();
        let global = f.stats["extra"]["global"].as_str().unwrap();
        let r = json(&v8dump(&["report", f.core.to_str().unwrap(), "--json"]));
        assert_eq!(r["cause"]["kind"], "oom", "node{major}");
        assert_eq!(r["cause"]["heap_limit_mib"], 32, "node{major}");
        assert_eq!(r["top_by_size"][0]["name"], class, "node{major}");
        let chain = r["holders"][0]["chain"].as_str().unwrap_or("");
        assert!(
            chain.starts_with(class) && chain.contains(&format!(".{global} global")),
            "node{major}: {chain}"
        );
        assert!(
            r["stack"]["frames"]
                .as_array()
                .unwrap()
                .iter()
                .any(|fr| fr["js"]["name"] == "leakForever"),
            "node{major}"
        );
    }
}

/// Mask what changes from run to run: addresses, numbers, the repository's path, and the tier
/// a JS function runs in (a function called a few dozen times may be baseline-compiled on one
/// run and still interpreted on the next, and only interpreted frames have an exact line).
fn mask(s: &str) -> String {
    let root = repo_root().display().to_string();
    let mut s = s.replace(&root, "<ROOT>").replace(" (function start)", "");
    for tier in ["interpreted", "baseline", "maglev", "turbofan", "optimized"] {
        s = s.replace(&format!(" {tier} "), " <js> ");
    }
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'0' && b.get(i + 1) == Some(&b'x') {
            out.push_str("0xADDR");
            i += 2;
            while i < b.len() && b[i].is_ascii_hexdigit() {
                i += 1;
            }
        } else if b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphabetic()) {
            out.push('N');
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    // Column widths follow the masked values: compare without runs of spaces.
    out.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn golden(name: &str, actual: &str) {
    let path = repo_root().join("crates/cli/tests/golden").join(name);
    if std::env::var_os("V8DUMP_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} missing: run with V8DUMP_BLESS=1", path.display()));
    assert_eq!(actual, want, "{name} differs (V8DUMP_BLESS=1 rewrites it)");
}

#[test]
fn bt_and_nodeinfo_text_match_the_golden_files() {
    for major in MAJORS {
        let f = fixture("basic", major);
        let core = f.core.to_str().unwrap();
        golden(
            &format!("bt-basic-node{major}.txt"),
            &mask(&text(&v8dump(&["bt", core]))),
        );
        // The environment differs between machines: keep the scenario's own variables.
        let info = text(&v8dump(&["nodeinfo", core]));
        let at = info.find("environment at start").unwrap_or(info.len());
        let (head, env) = info.split_at(at);
        let kept: String = head.to_string()
            + &env
                .lines()
                .enumerate()
                .filter(|(k, l)| *k == 0 || l.trim_start().starts_with("V8DUMP_"))
                .map(|(_, l)| format!("{l}\n"))
                .collect::<String>();
        golden(&format!("nodeinfo-basic-node{major}.txt"), &mask(&kept));
    }
}

/// What node printed of itself when it aborted (`output.txt`): the return addresses of its
/// "Native stack trace" after the first (which is where it took the trace, not a caller), and
/// the `script:line:column` of each frame of its "JavaScript stack trace".
fn printed_stack(dir: &Path) -> (Vec<u64>, Vec<String>) {
    let out = std::fs::read_to_string(dir.join("output.txt")).unwrap();
    let (mut natives, mut js) = (Vec::new(), Vec::new());
    let mut section = "";
    for line in out.lines() {
        // Node 18 prints its OOM trace right after the FATAL ERROR line, with no heading.
        if line.contains("Native stack trace") || line.starts_with("FATAL ERROR") {
            section = "native";
            continue;
        }
        if line.contains("JavaScript stack trace") {
            section = "js";
            continue;
        }
        let Some((n, rest)) = line.trim().split_once(": ") else {
            continue;
        };
        if n.parse::<u32>().is_err() {
            continue;
        }
        match section {
            "native" if n != "1" => {
                let a = rest.split_whitespace().next().unwrap_or("");
                if let Ok(a) = u64::from_str_radix(a.trim_start_matches("0x"), 16) {
                    natives.push(a);
                }
            }
            "js" => {
                // "name (script:line:col)" or "script:line:col"
                let loc = match rest.rsplit_once(" (") {
                    Some((_, l)) if rest.ends_with(')') => l.trim_end_matches(')'),
                    _ => rest,
                };
                js.push(loc.to_string());
            }
            _ => {}
        }
    }
    (natives, js)
}

/// `bt` on the linux-arm64 builds' cores (made under qemu-user, whose cores name no files:
/// the executable is given) shows the stack node printed of itself as it aborted: its
/// JavaScript frames, in order, at the same script, line and column, and its native return
/// addresses among the frames. The same holds on x86-64.
#[test]
fn bt_shows_the_stack_node_printed_on_arm64_and_x64() {
    let cores = v8dump_testkit::x64_and_arm64("exact_objects", &[22, 26], "exact_objects");
    for (what, f) in cores {
        let (natives, js) = printed_stack(&f.dir);
        assert!(js.len() >= 2, "{what}: node printed {js:?}");
        let bt = json(&v8dump(&[
            "bt",
            f.core.to_str().unwrap(),
            "-e",
            f.node.to_str().unwrap(),
            "--json",
        ]));
        assert!(bt["partial"].is_null(), "{what}: {}", bt["partial"]);
        let frames = bt["threads"][0]["frames"].as_array().unwrap();
        let ours: Vec<String> = frames
            .iter()
            .filter(|fr| fr["js"].is_object())
            .map(|fr| {
                let j = &fr["js"];
                format!(
                    "{}:{}:{}",
                    j["script"].as_str().unwrap_or("?"),
                    j["line"],
                    j["column"]
                )
            })
            .collect();
        assert_eq!(ours, js, "{what}");
        let pcs: Vec<u64> = frames.iter().filter_map(|fr| fr["pc"].as_u64()).collect();
        for a in &natives {
            assert!(pcs.contains(a), "{what}: {a:#x} not among {pcs:x?}");
        }
        // Node's own frames are named, down to node::Start.
        assert!(
            frames.iter().any(|fr| fr["native"]["symbol"]
                .as_str()
                .is_some_and(|s| s.starts_with("node::Start("))),
            "{what}"
        );
    }
}
