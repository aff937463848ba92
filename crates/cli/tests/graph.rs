//! `diff`, `findrefs` and `retainers` end to end on real cores. Expected values come from the
//! scenarios: diff_small and diff_large ran 1000 and 3000 requests of the same program
//! (stats.json `extra.requests`); listener_leak's sessions are held by closures registered in
//! order, so session `id` is listener `[id]`.

mod common;
use common::{json, text, v8dump};

use v8dump_testkit::{fixture, repo_root, MAJORS};

#[test]
fn diff_puts_the_leaking_constructor_first_with_its_count_delta() {
    for major in MAJORS {
        let (a, b) = (fixture("diff_small", major), fixture("diff_large", major));
        let delta = b.stats["extra"]["requests"].as_i64().unwrap()
            - a.stats["extra"]["requests"].as_i64().unwrap();
        let (ca, cb) = (a.core.to_str().unwrap(), b.core.to_str().unwrap());
        let diff = json(&v8dump(&["diff", ca, cb, "--json", "--all"]));
        let rows = diff["rows"].as_array().expect("rows");
        assert_eq!(
            rows[0]["name"], "LeakedRequest",
            "node{major}: {:?}",
            rows[0]
        );
        assert_eq!(rows[0]["count_delta"].as_i64(), Some(delta), "node{major}");
        assert_eq!(rows[0]["count_b"].as_i64(), Some(3000), "node{major}");
        let stable = rows
            .iter()
            .find(|r| r["name"] == "ConfigEntry")
            .unwrap_or_else(|| panic!("node{major}: ConfigEntry missing with --all"));
        assert_eq!(stable["count_a"], 400);
        assert_eq!(stable["count_delta"], 0);
        // The text form leads with the same row.
        let t = text(&v8dump(&["diff", ca, cb, "--top", "1"]));
        let first = t.lines().nth(1).unwrap_or_default();
        assert!(
            first.ends_with("LeakedRequest") && first.contains(&format!("+{delta}")),
            "node{major}: {first}"
        );
    }
}

#[test]
fn findrefs_and_retainers_name_the_listener_chain() {
    // x86-64 cores of every version, and the arm64 builds' (made under qemu-user, whose cores
    // name no files: the executable is given).
    let cores = v8dump_testkit::x64_and_arm64("listener_leak", &MAJORS, "exact_listener_leak");
    for (major, f) in cores {
        let core = f.core.to_str().unwrap();
        let node = f.node.to_str().unwrap();
        let v8dump = |args: &[&str]| {
            let mut a = args.to_vec();
            a.extend(["-e", node]);
            v8dump(&a)
        };
        let found = json(&v8dump(&[
            "findjsinstances",
            core,
            "UserSession",
            "--json",
            "--limit",
            "1",
            "--skip",
            "100",
        ]));
        let addr = found["instances"][0]["address"]
            .as_str()
            .unwrap()
            .to_string();
        let inspected = json(&v8dump(&["inspect", core, &addr, "--json"]));
        let id = inspected["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["key"] == "id")
            .and_then(|e| e["value"]["text"].as_str()?.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{major}: no id in {inspected}"));

        let refs = json(&v8dump(&["findrefs", core, &addr, "--json"]));
        let refs = refs["refs"].as_array().unwrap();
        assert!(
            refs.iter()
                .any(|r| r["edge"] == "session" && r["kind"] == "context"),
            "{major}: {refs:?}"
        );

        let answer = json(&v8dump(&["retainers", core, &addr, "--json"]));
        let paths = &answer["paths"];
        let chain = paths[0]["chain"].as_str().unwrap();
        // The listener, named as DevTools names functions: `name @ file:line:column`.
        let src = std::fs::read_to_string(repo_root().join("fixtures/scenarios/listener_leak.js"))
            .unwrap();
        let (line, text) = src
            .lines()
            .enumerate()
            .find(|(_, l)| l.contains("emitter.on(EVENT, (msg) =>"))
            .unwrap();
        let col = text.find("(msg)").unwrap() + 1;
        let want = format!(
            "UserSession <- session system / Context <- context (anonymous) @ listener_leak.js:{}:{col} \
             <- [{id}] Array <- .data-update Object <- ._events RealtimeService <- .realtimeService global",
            line + 1
        );
        assert!(chain.starts_with(&want), "{major}:\n{chain}\nwant\n{want}");
        assert_eq!(paths[0]["root_kind"]["type"], "global");
    }
}

#[test]
fn diff_by_holder_names_the_holders_that_grew_and_a_gate_fails_with_status_3() {
    for major in MAJORS {
        let (a, b) = (fixture("diff_small", major), fixture("diff_large", major));
        let extra = |f: &v8dump_testkit::Fixture, k: &str| f.stats["extra"][k].as_i64().unwrap();
        let requests = extra(&b, "requests") - extra(&a, "requests");
        let listeners = extra(&b, "listeners") - extra(&a, "listeners");
        let (ca, cb) = (a.core.to_str().unwrap(), b.core.to_str().unwrap());
        let d = json(&v8dump(&["diff", ca, cb, "--by", "holder", "--json"]));
        let holders = d["holders"].as_array().expect("holders");
        let row = |name: &str| {
            holders
                .iter()
                .find(|h| h["holder"] == name)
                .unwrap_or_else(|| panic!("node{major}: no holder {name} in {holders:?}"))
        };
        let log = row("requestLog");
        assert_eq!(log["kind"], "array_elements", "node{major}: {log}");
        assert_eq!(
            log["children_delta"].as_i64(),
            Some(requests),
            "node{major}"
        );
        let events = row("realtimeService._events['data-update']");
        assert_eq!(events["kind"], "event_listeners", "node{major}: {events}");
        assert_eq!(
            events["children_delta"].as_i64(),
            Some(listeners),
            "node{major}"
        );
        assert_eq!(
            events["children_a"].as_i64(),
            Some(extra(&a, "listeners")),
            "node{major}"
        );
        // The two planted holders grew most (node's own holders vary by up to about 300 KiB
        // between runs; each planted one grows by 0.7-1 MiB).
        let first_two: Vec<&str> = holders[..2]
            .iter()
            .map(|h| h["holder"].as_str().unwrap())
            .collect();
        assert!(
            first_two.contains(&"requestLog")
                && first_two.contains(&"realtimeService._events['data-update']"),
            "node{major}: {first_two:?} in {:?}",
            &holders[..holders.len().min(5)]
        );

        // Within limits: success, and the gate says so.
        let ok = v8dump(&[
            "diff",
            ca,
            cb,
            "--json",
            "--max-growth",
            "1G",
            "--max-growth-of",
            "ConfigEntry=0",
        ]);
        assert_eq!(
            ok.status.code(),
            Some(0),
            "node{major}: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
        let g = &json(&ok)["gate"];
        assert_eq!(g["exceeded"], false, "node{major}: {g}");
        // Past a limit: exit status 3, the answer still printed, naming the holder.
        let over = v8dump(&["diff", ca, cb, "--json", "--max-holder-growth", "16K"]);
        assert_eq!(over.status.code(), Some(3), "node{major}");
        let g: serde_json::Value = serde_json::from_slice(&over.stdout).unwrap();
        let culprit = g["gate"]["culprit"].as_str().unwrap_or_default();
        assert!(
            culprit.contains("requestLog") || culprit.contains("realtimeService"),
            "node{major}: {culprit}"
        );
        let over = v8dump(&["diff", ca, cb, "--max-growth-of", "LeakedRequest=1K"]);
        assert_eq!(over.status.code(), Some(3), "node{major}");
        assert!(String::from_utf8_lossy(&over.stdout).contains("FAIL constructor LeakedRequest"));
    }
    // A size that is not one is a usage error.
    let f = fixture("diff_small", 20);
    let c = f.core.to_str().unwrap();
    let bad = v8dump(&["diff", c, c, "--max-growth", "lots"]);
    assert_eq!(bad.status.code(), Some(2));
}
