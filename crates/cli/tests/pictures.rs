//! Pictures: the HTML report in a real browser and the retained-memory flame graph read back by
//! real readers. Expectations come from the scenarios (the counts `listener_leak.js` recorded in
//! stats.json, the listener's position in its source), from the browser (what it rendered, what
//! it requested) and from Go's pprof (what it reads in the profile), never from v8dump itself.
//!
//! The browser is Debian's `/usr/bin/chromium`, driven by `fixtures/tools/check_page.js`
//! through npm's `playwright-core`; pprof is Debian's `go tool pprof`. Screenshots go to the
//! test's output directory (`target/tmp/pictures/`).

mod common;
use common::{json, text, v8dump};

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use v8dump_testkit::{fixture, playwright, repo_root, scenario_position, Fixture, TempDir, MAJORS};

fn out_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pictures");
    std::fs::create_dir_all(&d).expect("create the screenshot directory");
    d
}

fn count(f: &Fixture, key: &str) -> u64 {
    f.stats["extra"][key]
        .as_u64()
        .unwrap_or_else(|| panic!("stats.json extra.{key}"))
}

/// The listener's place as V8 records it: `listener_leak.js:LINE:COL`, read from the source.
fn listener_place() -> String {
    let (line, col) = scenario_position("listener_leak", "(msg) =>");
    format!("listener_leak.js:{line}:{col}")
}

/// Open `page` in Chromium; what it rendered (see `check_page.js`), after clicking the treemap
/// frame named `click`.
fn browse(page: &Path, shot: &Path, click: &str) -> Value {
    let modules = playwright();
    let out = Command::new("node")
        .arg(repo_root().join("fixtures/tools/check_page.js"))
        .args([page.as_os_str(), shot.as_os_str()])
        .arg(click)
        .env("NODE_PATH", &modules)
        .output()
        .expect("run node with playwright-core (and /usr/bin/chromium)");
    assert!(
        out.status.success(),
        "check_page.js on {}: {}",
        page.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("check_page.js prints JSON")
}

/// The checks every page of the listener leak passes, core or snapshot.
fn assert_listener_page(page: &Path, f: &Fixture, what: &str) {
    let size = std::fs::metadata(page).expect("the page").len();
    assert!(size < 10 << 20, "{what}: the page is {size} bytes");
    let shot = out_dir().join(format!("{}.png", what.replace([' ', '/'], "-")));
    let r = browse(page, &shot, "RealtimeService");
    // Nothing leaves the page: the only request is the file itself.
    let page_url = format!("file://{}", page.display());
    assert_eq!(r["requests"], serde_json::json!([page_url]), "{what}");
    assert_eq!(r["errors"], serde_json::json!([]), "{what}: script errors");
    let listeners = count(f, "listeners");
    let first = r["suspects"][0].as_str().unwrap_or_default();
    assert!(
        first.starts_with("#1 realtimeService._events['data-update']:")
            && first.contains(&format!(" {listeners} listeners ")),
        "{what}: the top suspect reads {first:?}"
    );
    let steps: Vec<&str> = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        steps.iter().any(|s| s.contains("._events RealtimeService"))
            && steps.iter().any(|s| s.ends_with(".realtimeService global")),
        "{what}: the retainer chain {steps:?}"
    );
    let place = listener_place();
    assert!(
        steps
            .iter()
            .any(|s| s.starts_with("listener:") && s.contains(&place)),
        "{what}: no listener at {place} in {steps:?}"
    );
    // The treemap is drawn: rectangles with an area, labels on the largest.
    let drawn = r["drawn"].as_u64().unwrap_or(0);
    assert!(drawn >= 20, "{what}: {drawn} treemap rectangles drawn");
    assert_eq!(r["rects"], r["drawn"], "{what}: empty rectangles");
    assert!(
        r["labels"].as_array().unwrap().iter().any(|l| l
            .as_str()
            .is_some_and(|l| l.starts_with("RealtimeService "))),
        "{what}: labels {}",
        r["labels"]
    );
    // Clicking the emitter's frame zooms into it.
    let crumbs = r["crumbs"].as_str().unwrap_or_default();
    assert!(
        crumbs.starts_with("(roots) (") && crumbs.contains("RealtimeService ("),
        "{what}: after the click the breadcrumbs read {crumbs:?}"
    );
    let tower = r["tower"].as_str().unwrap_or_default();
    assert!(
        tower.contains("RealtimeService")
            && tower.contains(&place)
            && tower.contains("UserSession"),
        "{what}: {tower}"
    );
    // Sorted by count, the first row has at least as many objects as the sessions planted.
    let first_count: u64 = r["firstCtor"][1]
        .as_str()
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    assert!(
        first_count >= count(f, "UserSession"),
        "{what}: sorted by count, the first row is {}",
        r["firstCtor"]
    );
    assert!(r["ctorRows"].as_u64().unwrap_or(0) >= 10, "{what}");
    assert!(shot.is_file(), "{what}: no screenshot");
}

#[test]
fn the_html_report_names_the_listener_leak_in_a_real_browser() {
    for major in MAJORS {
        let f = fixture("listener_leak", major);
        let what = format!("report node{major}");
        let tmp = TempDir::new(&format!("page{major}"));
        let page = tmp.join("report.html");
        let w = json(&v8dump(&[
            "report",
            f.core.to_str().unwrap(),
            "--html",
            page.to_str().unwrap(),
            "--json",
        ]));
        assert_eq!(w["suspects"].as_u64(), Some(1), "{what}: {w}");
        assert_listener_page(&page, &f, &what);
        let r = browse(&page, &tmp.join("again.png"), "");
        // The JS stack is the core's: the scenario's harness called process.abort().
        assert!(
            r["stack"]
                .as_str()
                .unwrap_or("")
                .contains("writeStatsAndAbort"),
            "{what}: stack {}",
            r["stack"]
        );
    }
}

#[test]
fn the_html_report_of_a_heap_snapshot_names_the_same_leak() {
    for major in [20, 26] {
        let f = fixture("listener_leak", major);
        let what = format!("snapshot report node{major}");
        let tmp = TempDir::new(&format!("spage{major}"));
        let page = tmp.join("report.html");
        text(&v8dump(&[
            "report",
            f.snapshot().to_str().unwrap(),
            "--html",
            page.to_str().unwrap(),
        ]));
        assert_listener_page(&page, &f, &what);
    }
}

#[test]
fn a_heap_without_a_leak_gets_a_page_without_a_suspect() {
    let f = fixture("bounded", 24);
    let tmp = TempDir::new("bounded-page");
    let page = tmp.join("report.html");
    let w = json(&v8dump(&[
        "report",
        f.core.to_str().unwrap(),
        "--html",
        page.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(w["suspects"].as_u64(), Some(0), "{w}");
    let r = browse(&page, &out_dir().join("bounded-node24.png"), "");
    assert_eq!(r["suspects"], serde_json::json!([]), "{r}");
    assert!(
        r["headline"].as_str().unwrap_or("").contains("no suspect"),
        "{}",
        r["headline"]
    );
    assert!(r["drawn"].as_u64().unwrap_or(0) >= 20);
}

/// `go tool pprof ARGS FILE`'s output.
fn pprof(args: &[&str], file: &Path) -> String {
    let out = Command::new("go")
        .args(["tool", "pprof"])
        .args(args)
        .arg(file)
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("run go tool pprof (Debian's golang-go)");
    assert!(
        out.status.success(),
        "pprof {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// pprof's `-traces`: each sample's value and its stack, leaf first.
fn traces(out: &str) -> Vec<(u64, Vec<String>)> {
    let mut all = Vec::new();
    for block in out.split("-----------+") {
        let mut lines = block.lines().skip(1).filter(|l| !l.trim().is_empty());
        let Some(first) = lines.next() else { continue };
        let first = first.trim();
        let Some((value, leaf)) = first.split_once(char::is_whitespace) else {
            continue;
        };
        let Ok(value) = value.parse::<u64>() else {
            continue;
        };
        let mut stack = vec![leaf.trim().to_string()];
        stack.extend(lines.map(|l| l.trim().to_string()));
        all.push((value, stack));
    }
    all
}

#[test]
fn the_flame_graph_shows_the_listeners_as_the_widest_tower() {
    let place = listener_place();
    for major in MAJORS {
        let f = fixture("listener_leak", major);
        let what = format!("flamegraph node{major}");
        let tmp = TempDir::new(&format!("flame{major}"));
        let core = f.core.to_str().unwrap();

        // SVG: the widest tower runs through the emitter, its listeners and their sessions.
        let svg = tmp.join("retained.svg");
        let w = json(&v8dump(&[
            "flamegraph",
            core,
            "-o",
            svg.to_str().unwrap(),
            "--json",
        ]));
        assert_eq!(w["format"], "svg", "{what}");
        let tower: Vec<&str> = w["widest"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x[0].as_str())
            .collect();
        let at = |name: &str| tower.iter().position(|t| *t == name);
        let emitter = at("RealtimeService").unwrap_or_else(|| panic!("{what}: {tower:?}"));
        let listener = tower
            .iter()
            .position(|t| t.ends_with(&format!("({place})")))
            .unwrap_or_else(|| panic!("{what}: no listener at {place} in {tower:?}"));
        let session = at("UserSession").unwrap_or_else(|| panic!("{what}: {tower:?}"));
        assert!(
            emitter < listener && listener < session,
            "{what}: {tower:?}"
        );
        let drawn = std::fs::read_to_string(&svg).expect("the SVG");
        assert!(
            drawn.starts_with("<?xml") && drawn.contains("<svg"),
            "{what}"
        );
        assert!(
            drawn.contains("<title>RealtimeService ("),
            "{what}: no emitter frame drawn"
        );
        let _ = std::fs::copy(&svg, out_dir().join(format!("flamegraph-node{major}.svg")));

        // Folded stacks add up to the tree's bytes.
        let folded = tmp.join("retained.folded");
        let w = json(&v8dump(&[
            "flamegraph",
            core,
            "-o",
            folded.to_str().unwrap(),
            "--json",
        ]));
        let lines = std::fs::read_to_string(&folded).expect("the folded file");
        let sum: u64 = lines
            .lines()
            .map(|l| {
                l.rsplit(' ')
                    .next()
                    .unwrap()
                    .parse::<u64>()
                    .expect("a count")
            })
            .sum();
        assert_eq!(Some(sum), w["total_bytes"].as_u64(), "{what}");
        assert!(lines.lines().all(|l| l.starts_with("(roots)")), "{what}");

        // pprof: Go's reader finds every planted session, each on the listener's stack.
        let prof = tmp.join("retained.pb.gz");
        text(&v8dump(&["flamegraph", core, "-o", prof.to_str().unwrap()]));
        let t = traces(&pprof(&["-traces", "-sample_index=objects"], &prof));
        let sessions: Vec<&(u64, Vec<String>)> =
            t.iter().filter(|(_, s)| s[0] == "UserSession").collect();
        let n: u64 = sessions.iter().map(|(v, _)| v).sum();
        assert_eq!(n, count(&f, "UserSession"), "{what}: {sessions:?}");
        for (_, stack) in &sessions {
            assert!(
                stack.iter().any(|x| x == "RealtimeService")
                    && stack.iter().any(|x| x.ends_with(&format!("({place})")))
                    && stack.last().map(String::as_str) == Some("(roots)"),
                "{what}: {stack:?}"
            );
        }
        // By cumulative objects, the emitter's entry holds what each planted session brought:
        // the session, its socket, Buffer and ArrayBuffer, the listener and its context.
        let top = pprof(
            &["-top", "-cum", "-sample_index=objects", "-nodecount=40"],
            &prof,
        );
        let row = top
            .lines()
            .find(|l| l.trim_end().ends_with(" RealtimeService"))
            .unwrap_or_else(|| panic!("{what}: no RealtimeService in {top}"));
        let cum: u64 = row
            .split_whitespace()
            .nth(3)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        assert!(cum >= 6 * count(&f, "UserSession"), "{what}: {row}");
    }
}

#[test]
fn a_heap_snapshot_draws_the_same_tower() {
    let place = listener_place();
    for major in [18, 26] {
        let f = fixture("listener_leak", major);
        let what = format!("snapshot flamegraph node{major}");
        let tmp = TempDir::new(&format!("sflame{major}"));
        let out = tmp.join("t.json");
        let w = json(&v8dump(&[
            "flamegraph",
            f.snapshot().to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--json",
        ]));
        let tower: Vec<&str> = w["widest"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x[0].as_str())
            .collect();
        assert!(
            tower.contains(&"RealtimeService")
                && tower.iter().any(|t| t.ends_with(&format!("({place})")))
                && tower.contains(&"UserSession"),
            "{what}: {tower:?}"
        );
        // Every UserSession object of V8's snapshot (as the testkit's own reader counts them)
        // is in a frame of that name, and nothing else is; each frame comes after its parent.
        let tree: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        let frames = tree["frames"].as_array().unwrap();
        let sessions: u64 = frames
            .iter()
            .filter(|f| f["name"] == "UserSession")
            .map(|f| f["self_objects"].as_u64().unwrap())
            .sum();
        let planted = v8dump_testkit::snapshot_counts(&f.snapshot())["UserSession"].count;
        assert!(planted >= count(&f, "UserSession"), "{what}: {planted}");
        assert_eq!(sessions, planted, "{what}");
        assert!(frames
            .iter()
            .skip(1)
            .all(|f| f["parent"].as_u64().unwrap() < f["id"].as_u64().unwrap()));
        assert_eq!(frames[0]["bytes"], tree["total_bytes"], "{what}");
    }
}
