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
    for major in MAJORS {
        let f = fixture("listener_leak", major);
        let core = f.core.to_str().unwrap();
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
            .unwrap_or_else(|| panic!("node{major}: no id in {inspected}"));

        let refs = json(&v8dump(&["findrefs", core, &addr, "--json"]));
        let refs = refs["refs"].as_array().unwrap();
        assert!(
            refs.iter()
                .any(|r| r["edge"] == "session" && r["kind"] == "context"),
            "node{major}: {refs:?}"
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
        assert!(
            chain.starts_with(&want),
            "node{major}:\n{chain}\nwant\n{want}"
        );
        assert_eq!(paths[0]["root_kind"]["type"], "global");
    }
}
