//! `findjsobjects`, `findjsinstances` and `inspect` end to end on real cores. Expected counts
//! come from the scenario (stats.json `extra.kinds`, written by the scenario itself).

mod common;
use common::{json, v8dump};

use v8dump_testkit::{fixture, MAJORS};

#[test]
fn findjsobjects_json_text_and_instances_agree_with_the_scenario() {
    for major in MAJORS {
        let f = fixture("exact_objects", major);
        let core = f.core.to_str().unwrap();
        let kinds = &f.stats["extra"]["kinds"];
        let census = json(&v8dump(&["findjsobjects", core, "--json"]));
        let rows = census["rows"].as_array().expect("rows");
        let row = |n: &str| rows.iter().find(|r| r["name"] == n).cloned();
        for class in [
            "Puppy",
            "ManyProps",
            "ManyFastProps",
            "DictByDelete",
            "FixtureError",
        ] {
            let r = row(class).unwrap_or_else(|| panic!("node{major}: no {class}"));
            assert_eq!(r["count"], kinds[class], "node{major} {class}");
            assert!(r["size"].as_u64().unwrap() > 0);
        }
        // Sorted by total size, largest first.
        let sizes: Vec<u64> = rows.iter().map(|r| r["size"].as_u64().unwrap()).collect();
        assert!(
            sizes.windows(2).all(|w| w[0] >= w[1]),
            "node{major}: not sorted"
        );

        // Text: right-aligned counts, the name last, a totals line.
        let o = v8dump(&["findjsobjects", core, "--top", "5"]);
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].trim_start().starts_with("Instances"), "{text}");
        let name_col = lines[0].find("Name").unwrap();
        for l in &lines[1..6] {
            assert!(
                l.len() > name_col && l[..name_col].ends_with("  "),
                "{text}"
            );
        }
        assert!(lines.last().unwrap().contains("reachable"), "{text}");

        // findjsinstances: all Puppies, paging.
        let all = json(&v8dump(&["findjsinstances", core, "Puppy", "--json"]));
        assert_eq!(all["total"], kinds["Puppy"]);
        let page = json(&v8dump(&[
            "findjsinstances",
            core,
            "Puppy",
            "--json",
            "--limit",
            "10",
            "--skip",
            "20",
        ]));
        let items = page["instances"].as_array().unwrap();
        assert_eq!(items.len(), 5, "node{major}: 25 puppies, skip 20");
        assert_eq!(items[0]["address"], all["instances"][20]["address"]);

        // inspect one of them.
        let addr = items[0]["address"].as_str().unwrap();
        let v = json(&v8dump(&["inspect", core, addr, "--json"]));
        assert_eq!(v["constructor"], "Puppy");
        assert_eq!(v["kind"], "object");
        let o = v8dump(&["inspect", core, addr]);
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            text.contains("<Puppy>") && text.contains("name: ") && text.contains("\"puppy-"),
            "{text}"
        );
    }
}

#[test]
fn bad_names_and_addresses_are_clear_errors() {
    let f = fixture("exact_objects", 20);
    let core = f.core.to_str().unwrap();
    let o = v8dump(&["findjsinstances", core, "puppy"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no objects named \"puppy\"") && err.contains("Puppy"),
        "{err}"
    );
    let o = v8dump(&["inspect", core, "not-an-address"]);
    assert_eq!(o.status.code(), Some(1));
    // A garbage pointer is a marked answer, not an error or a panic.
    let v = json(&v8dump(&["inspect", core, "0xdeadbeef1", "--json"]));
    assert_eq!(v["kind"], "unreadable");
}

#[test]
fn all_types_rows_add_up_to_the_heap_and_group_strings_as_devtools_does() {
    for major in MAJORS {
        let f = fixture("objects", major);
        let c = f.core.to_str().unwrap();
        for all in [true, false] {
            let mut args = vec!["findjsobjects", c, "--all-types", "--json"];
            if all {
                args.push("--all");
            }
            let a = json(&v8dump(&args));
            let rows = a["rows"].as_array().unwrap();
            let count: u64 = rows.iter().map(|r| r["count"].as_u64().unwrap()).sum();
            let want = if all {
                &a["heap"]["objects"]
            } else {
                &a["heap"]["reachable"]
            };
            assert_eq!(count, want.as_u64().unwrap(), "node{major} all={all}");
            assert_eq!(
                a["total"]["objects"].as_u64().unwrap(),
                count,
                "node{major}"
            );
        }
        // The string groups are V8's: within 2% of the snapshot's nodes of each type (the
        // snapshot is taken a moment before the core).
        let a = json(&v8dump(&["findjsobjects", c, "--all-types", "--json"]));
        let snap = v8dump_testkit::snapshot_type_counts(&f.snapshot());
        for (group, ty) in [
            ("(string)", "string"),
            ("(concatenated string)", "concatenated string"),
            ("(closure)", "closure"),
        ] {
            let ours = a["rows"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["name"] == group)
                .and_then(|r| r["count"].as_u64())
                .unwrap_or_else(|| panic!("node{major}: no {group} row"));
            let theirs = snap[ty];
            assert!(
                ours.abs_diff(theirs) * 50 <= theirs,
                "node{major}: {group} {ours}, V8's snapshot {theirs}"
            );
        }
    }
}

/// One rule for what a person types, in `inspect`, `retainers` and `findrefs`: an exact Smi
/// (low half zero) is a number, an address inside an object is that object, and any other
/// even word (a libc return address from `bt`) is neither: never a number read from its high
/// half.
#[test]
fn inspect_reads_addresses_by_the_same_rule_as_retainers() {
    for major in [20, 26] {
        let f = fixture("listener_leak", major);
        let core = f.core.to_str().unwrap();
        let what = format!("node{major}");
        // A return address into libc, as `bt` shows it, is not a Smi.
        let bt = json(&v8dump(&["bt", core, "--json"]));
        let pc = bt["threads"][0]["frames"]
            .as_array()
            .unwrap()
            .iter()
            .find(|fr| {
                fr["native"]["module"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("libc"))
            })
            .and_then(|fr| fr["pc"].as_u64())
            .expect("a libc frame");
        assert_ne!(pc & 0xffff_ffff, 0);
        let pc = format!("{pc:#x}");
        let v = json(&v8dump(&["inspect", core, &pc, "--json"]));
        assert_eq!(v["kind"], "unreadable", "{what}: {v}");
        assert!(
            v["notes"][0].as_str().unwrap().contains("is not a Smi"),
            "{what}: {v}"
        );
        // 1 as V8 writes it on x64.
        let one = json(&v8dump(&["inspect", core, "0x100000000", "--json"]));
        assert_eq!(one["kind"], "number", "{what}: {one}");
        assert_eq!(one["text"], "1", "{what}: {one}");
        // Inside a UserSession: that UserSession, for inspect as for retainers.
        let i = json(&v8dump(&[
            "findjsinstances",
            core,
            "UserSession",
            "--json",
            "--limit",
            "1",
        ]));
        let start = i["instances"][0]["address"].as_str().unwrap().to_string();
        let tagged = u64::from_str_radix(start.trim_start_matches("0x"), 16).unwrap();
        let inside = format!("{:#x}", tagged - 1 + 16);
        let v = json(&v8dump(&["inspect", core, &inside, "--json"]));
        assert_eq!(v["address"].as_str(), Some(start.as_str()), "{what}: {v}");
        assert_eq!(v["constructor"], "UserSession", "{what}: {v}");
        let r = json(&v8dump(&["retainers", core, &inside, "--json"]));
        assert_eq!(r["target"].as_str(), Some(start.as_str()), "{what}: {r}");
    }
}

/// Names a program chooses (`fixtures/scenarios/hostile_names.js`: a constructor named by a
/// `Symbol.toStringTag` holding terminal control sequences, a property key that would clear
/// the screen, a string with a bell) reach no terminal raw: no command's text holds a control
/// byte but the line break, and the name is shown escaped.
#[test]
fn no_byte_from_the_core_controls_the_terminal() {
    for major in MAJORS {
        let f = fixture("hostile_names", major);
        let core = f.core.to_str().unwrap();
        let name = f.stats["extra"]["className"].as_str().unwrap().to_string();
        assert!(name.contains('\u{1b}'));
        let i = json(&v8dump(&[
            "findjsinstances",
            core,
            &name,
            "--json",
            "--limit",
            "1",
        ]));
        let hostile = i["instances"][0]["address"].as_str().unwrap().to_string();
        let i = json(&v8dump(&[
            "findjsinstances",
            core,
            "Evil",
            "--json",
            "--limit",
            "1",
        ]));
        let evil = i["instances"][0]["address"].as_str().unwrap().to_string();
        let tmp = v8dump_testkit::TempDir::new(&format!("hostile{major}"));
        let page = tmp.join("r.html");
        let flame = tmp.join("f.folded");
        let runs: Vec<Vec<&str>> = vec![
            vec!["findjsobjects", core],
            vec!["findjsobjects", core, "-d"],
            vec!["findjsinstances", core, &name],
            vec!["inspect", core, &hostile],
            vec!["inspect", core, &evil],
            vec!["retainers", core, &evil],
            vec!["findrefs", core, &hostile],
            vec!["findrefs", core, "-n", "key\u{1b}[2J"],
            vec!["findrefs", core, "-s", "clear"],
            vec!["top", core],
            vec!["leaks", core],
            vec!["report", core],
            vec!["flamegraph", core],
            vec!["report", core, "--html", page.to_str().unwrap()],
            vec!["flamegraph", core, "-o", flame.to_str().unwrap()],
        ];
        let mut seen_escaped = false;
        for argv in runs {
            let o = v8dump(&argv);
            assert!(
                o.status.success(),
                "{argv:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            let out = String::from_utf8_lossy(&o.stdout);
            let bad: Vec<char> = out
                .chars()
                .filter(|&c| c != '\n' && (c < ' ' || ('\u{7f}'..'\u{a0}').contains(&c)))
                .collect();
            assert!(
                bad.is_empty(),
                "node{major} {argv:?}: control characters {bad:?} in\n{out}"
            );
            seen_escaped |= out.contains("Evil\\u{1b}]0;pwned\\u{7}\\u{1b}[31mRed");
        }
        assert!(seen_escaped, "node{major}: the hostile name is never shown");
        // The folded stacks hold the name escaped too (they are read by people's tools).
        let folded = std::fs::read_to_string(&flame).unwrap();
        assert!(
            !folded.contains('\u{1b}') && !folded.contains('\u{7}'),
            "node{major}"
        );
    }
}
