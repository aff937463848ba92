//! What llnode's own test suite (nodejs/llnode `test/plugin/*.js`) asks of a post-mortem tool,
//! on cores of `fixtures/scenarios/llnode.js` for every supported Node version. The expected
//! values come from the process itself: Node's own `Error.stack` taken in the frames the
//! process died in, `Function.prototype.toString()` of the functions, and the values the
//! scenario's source passes.

mod common;
use common::{json, text, v8dump};

use serde_json::Value;
use v8dump_testkit::{fixture, Fixture, MAJORS};

/// One frame of a V8 stack trace line: `at NAME (LOCATION)` or `at LOCATION`.
fn node_frames(stack: &str) -> Vec<(Option<String>, String)> {
    stack
        .lines()
        .filter_map(|l| l.trim().strip_prefix("at "))
        .map(
            |f| match f.strip_suffix(')').and_then(|f| f.rsplit_once(" (")) {
                Some((name, loc)) => (Some(name.to_string()), loc.to_string()),
                None => (None, f.to_string()),
            },
        )
        .collect()
}

fn js_frames(f: &Fixture) -> Vec<Value> {
    let bt = json(&v8dump(&[
        "bt",
        f.core.to_str().unwrap(),
        "--args",
        "--json",
    ]));
    bt["threads"][0]["frames"]
        .as_array()
        .expect("frames")
        .iter()
        .filter_map(|fr| fr.get("js").cloned())
        .collect()
}

fn location(js: &Value) -> String {
    format!(
        "{}:{}:{}",
        js["script"].as_str().unwrap_or("?"),
        js["line"],
        js["column"]
    )
}

#[test]
fn frames_are_named_and_placed_as_nodes_own_stack_names_them() {
    for major in MAJORS {
        let f = fixture("llnode", major);
        let live = f.stats["extra"]["liveStack"].as_str().expect("liveStack");
        let want = node_frames(live);
        assert!(
            want.len() >= 20,
            "node{major}: Node's stack is short: {live}"
        );
        let got = js_frames(&f);
        let start = got
            .iter()
            .position(|j| j["name"] == "more")
            .unwrap_or_else(|| panic!("node{major}: no frame `more` in {got:#?}"));
        let got = &got[start..];
        assert!(
            got.len() >= want.len(),
            "node{major}: {} JS frames from `more`, Node has {}",
            got.len(),
            want.len()
        );
        for (i, (name, loc)) in want.iter().enumerate() {
            let js = &got[i];
            let shown = js["name"].as_str().unwrap();
            match name {
                Some(n) => assert_eq!(shown, n, "node{major}: frame {i} ({loc})"),
                None => assert_eq!(shown, "(anonymous)", "node{major}: frame {i} ({loc})"),
            }
            // Node took its stack in `more` a line above the call the process died in.
            if i > 0 && js["exact"] == true {
                assert_eq!(&location(js), loc, "node{major}: frame {i} {shown}");
            }
        }
        // The scenario's own frames all run in the interpreter: every position is exact.
        let exact = got[1..14].iter().filter(|j| j["exact"] == true).count();
        assert_eq!(exact, 13, "node{major}: {got:#?}");
    }
}

#[test]
fn every_argument_is_shown_for_zero_to_five_arguments_and_fewer_or_more_than_declared() {
    // What the scenario passes (fixtures/scenarios/llnode.js, a0 .. more).
    let one = "\"one\"";
    let expected: &[(&str, &[&str])] = &[
        ("more", &["true", "undefined", "\"three\"", "4"]),
        ("fewer", &["\"only\""]),
        ("a5", &[one, "2", "3.5", "null", "<Object>"]),
        ("a4", &[one, "2", "3.5", "null"]),
        ("a3", &[one, "2", "3.5"]),
        ("a2", &[one, "2"]),
        ("a1", &[one]),
        ("a0", &[]),
    ];
    for major in MAJORS {
        let f = fixture("llnode", major);
        let got = js_frames(&f);
        for (name, args) in expected {
            let js = got
                .iter()
                .find(|j| j["name"] == *name)
                .unwrap_or_else(|| panic!("node{major}: no frame {name}"));
            let shown: Vec<&str> = js["args"]
                .as_array()
                .expect("args")
                .iter()
                .map(|a| a["summary"].as_str().unwrap_or("?"))
                .collect();
            assert_eq!(&shown, args, "node{major}: arguments of {name}");
            assert_eq!(
                js["this"]["summary"], "undefined",
                "node{major}: {name} is strict"
            );
        }
        // A method's receiver.
        let step = got.iter().find(|j| j["name"] == "Runner.step").unwrap();
        assert_eq!(step["this"]["summary"], "<Runner>", "node{major}");
        // The text gives the addresses to follow: the function and object arguments.
        let t = text(&v8dump(&["bt", f.core.to_str().unwrap(), "--args"]));
        let a5 = got.iter().find(|j| j["name"] == "a5").unwrap();
        let obj = a5["args"][4]["value"].as_str().unwrap().to_string();
        assert!(
            t.contains(&format!("arg4 = {obj} <Object>")),
            "node{major}: {t}"
        );
        assert!(
            t.contains(&format!("fn = {:#x}", a5["function"].as_u64().unwrap())),
            "node{major}"
        );
    }
}

/// `inspect --json` of the value at `addr`.
fn inspect(f: &Fixture, addr: &str, extra: &[&str]) -> Value {
    let mut args = vec!["inspect", f.core.to_str().unwrap(), addr, "--json"];
    args.extend_from_slice(extra);
    json(&v8dump(&args))
}

/// The address of property `key` of an inspected object.
fn prop(v: &Value, key: &str) -> String {
    v["entries"]
        .as_array()
        .and_then(|es| es.iter().find(|e| e["key"] == key))
        .and_then(|e| e["value"]["address"].as_str())
        .unwrap_or_else(|| panic!("no property {key} in {v:#}"))
        .to_string()
}

/// `globalThis.llnodeFixture`, inspected.
fn holder(f: &Fixture) -> Value {
    let found = json(&v8dump(&[
        "findjsinstances",
        f.core.to_str().unwrap(),
        "LlnodeHolder",
        "--json",
    ]));
    assert_eq!(found["total"], 1, "{found}");
    inspect(f, found["instances"][0]["address"].as_str().unwrap(), &[])
}

#[test]
fn source_text_is_what_function_to_string_gives_with_the_lines_numbered() {
    let scenario =
        std::fs::read_to_string(v8dump_testkit::repo_root().join("fixtures/scenarios/llnode.js"))
            .unwrap();
    let file_lines: Vec<&str> = scenario.lines().collect();
    for major in MAJORS {
        let f = fixture("llnode", major);
        let sources = inspect(&f, &prop(&holder(&f), "sources"), &[]);
        let want = &f.stats["extra"]["sources"];
        for key in ["threeParams", "arrowSource", "method"] {
            let addr = prop(&sources, key);
            let s = json(&v8dump(&[
                "source",
                f.core.to_str().unwrap(),
                &addr,
                "--json",
            ]));
            let text = want[key].as_str().unwrap();
            assert_eq!(s["text"], text, "node{major}: {key}");
            // The numbered lines are the scenario file's lines, and the first holds the text's
            // start at the column given.
            let lines = s["lines"].as_array().unwrap();
            assert_eq!(lines.len(), text.lines().count(), "node{major}: {key}");
            for l in lines {
                let n = l["line"].as_u64().unwrap() as usize;
                assert_eq!(l["text"], file_lines[n - 1], "node{major}: {key} line {n}");
            }
            let first = text.lines().next().unwrap();
            let at = scenario.find(first).expect("the text is in the scenario");
            let line = scenario[..at].matches('\n').count() as u64 + 1;
            let col = (at - scenario[..at].rfind('\n').map_or(0, |n| n + 1)) as u64 + 1;
            assert_eq!(
                (s["start"]["line"].as_u64(), s["start"]["column"].as_u64()),
                (Some(line), Some(col)),
                "node{major}: {key}"
            );
        }
        // Context lines, in text.
        let addr = prop(&sources, "threeParams");
        let t = text(&v8dump(&[
            "source",
            f.core.to_str().unwrap(),
            &addr,
            "-C",
            "1",
        ]));
        let line = file_lines
            .iter()
            .position(|l| l.starts_with("function threeParams("))
            .unwrap() as u64
            + 1;
        assert!(
            t.contains(&format!("{}   {}", line - 1, file_lines[line as usize - 2])),
            "node{major}: {t}"
        );
        // The function of a frame, by its frame pointer, with its current line marked.
        let frames = json(&v8dump(&["bt", f.core.to_str().unwrap(), "--json"]));
        let a2 = frames["threads"][0]["frames"]
            .as_array()
            .unwrap()
            .iter()
            .find(|fr| fr["js"]["name"] == "a2")
            .expect("frame a2")
            .clone();
        let fp = format!("{:#x}", a2["fp"].as_u64().unwrap());
        let t = text(&v8dump(&[
            "source",
            f.core.to_str().unwrap(),
            &fp,
            "--frame",
        ]));
        let call = file_lines
            .iter()
            .position(|l| l.starts_with("function a2("))
            .unwrap()
            + 1;
        assert!(
            t.contains(&format!("{call} > {}", file_lines[call - 1])),
            "node{major}: {t}"
        );
        // A garbage address and a frame pointer no frame has: clear errors, not a crash.
        for args in [vec!["0x10"], vec!["0x1000", "--frame"]] {
            let mut argv = vec!["source", f.core.to_str().unwrap()];
            argv.extend(args.iter().copied());
            let o = v8dump(&argv);
            let err = String::from_utf8_lossy(&o.stderr).to_string();
            assert_eq!(o.status.code(), Some(1), "node{major}: {err}");
            assert!(
                err.contains("not mapped") || err.contains("no JavaScript frame"),
                "node{major}: {err}"
            );
        }
        // Not a function: a clear error.
        let o = v8dump(&[
            "source",
            f.core.to_str().unwrap(),
            &prop(&holder(&f), "sixItems"),
        ]);
        assert!(!o.status.success());
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("not a function"),
            "node{major}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

fn entry<'a>(v: &'a Value, key: &str) -> &'a Value {
    v["entries"]
        .as_array()
        .and_then(|es| es.iter().find(|e| e["key"] == key))
        .unwrap_or_else(|| panic!("no entry {key} in {v:#}"))
}

#[test]
fn inspect_shows_buffer_bytes_native_accessor_values_and_an_unread_errors_stack() {
    for major in MAJORS {
        let f = fixture("llnode", major);
        let h = holder(&f);
        // The ArrayBuffer's bytes (the scenario sets 1..5), cut by --entries.
        let ab = inspect(&f, &prop(&h, "bytes"), &[]);
        let bytes: Vec<&str> = ab["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["value"]["text"].as_str().unwrap())
            .collect();
        assert_eq!(bytes, ["1", "2", "3", "4", "5"], "node{major}");
        let cut = inspect(&f, &prop(&h, "bytes"), &["--entries", "2"]);
        assert_eq!(cut["entries"].as_array().unwrap().len(), 2, "node{major}");
        assert_eq!(cut["truncated"], true, "node{major}");

        // length and name as the program reads them, not V8's AccessorInfo.
        let extra = &f.stats["extra"];
        let fun = inspect(&f, &prop(&h, "threeParams"), &[]);
        let len = entry(&fun, "length");
        assert_eq!(
            len["value"]["text"],
            extra["threeParamsLength"].to_string(),
            "node{major}"
        );
        assert_eq!(len["native_getter"], true, "node{major}");
        assert_eq!(
            entry(&fun, "name")["value"]["text"],
            "threeParams",
            "node{major}"
        );
        let arr = inspect(&f, &prop(&h, "sixItems"), &[]);
        assert_eq!(
            entry(&arr, "length")["value"]["text"],
            extra["sixItemsLength"].to_string(),
            "node{major}"
        );
        // Where the function starts (V8 starts it at its parameter list).
        let (line, col) = v8dump_testkit::scenario_position("llnode", "function threeParams(");
        let details: Vec<(String, String)> =
            serde_json::from_value(fun["details"].clone()).unwrap();
        assert!(
            details.contains(&("line".into(), line.to_string())),
            "node{major}: {details:?}"
        );
        assert!(
            details.contains(&("column".into(), col.to_string())),
            "node{major}"
        );

        // A zlib stream's handle carries node's C++ stream in its embedder fields.
        let gzip = inspect(&f, &prop(&h, "gzip"), &[]);
        let handle = inspect(&f, &prop(&gzip, "_handle"), &[]);
        assert!(
            handle["entries"].as_array().unwrap().iter().any(|e| {
                e["key"].as_str().unwrap().starts_with("[[embedder field")
                    && e["value"]["constructor"]
                        .as_str()
                        .is_some_and(|c| c.ends_with("ZlibStream"))
            }),
            "node{major}: {handle:#}"
        );
        // The error whose stack nobody read: its captured frames are the frames of its twin's
        // stack, made at the same place and read by the scenario.
        let err = inspect(&f, &prop(&h, "unreadError"), &[]);
        let read = extra["readStack"].as_str().unwrap();
        let want = node_frames(read);
        let got: Vec<(Option<String>, String)> = err["frames"]
            .as_array()
            .unwrap_or_else(|| panic!("node{major}: no frames in {err:#}"))
            .iter()
            .map(|fr| {
                let loc = format!(
                    "{}:{}:{}",
                    fr["script"].as_str().unwrap_or("<anonymous>"),
                    fr["line"],
                    fr["column"]
                );
                (fr["name"].as_str().map(str::to_string), loc)
            })
            .collect();
        assert_eq!(got, want, "node{major}");
        let stack = err["details"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d[0] == "stack")
            .map(|d| d[1].as_str().unwrap().to_string())
            .expect("stack detail");
        assert_eq!(
            stack,
            read.replace("llnode-error-1", "llnode-error-0"),
            "node{major}"
        );
        // V8's private keys, named.
        let keys: Vec<&str> = err["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["key"].as_str().unwrap())
            .collect();
        assert!(
            keys.contains(&"[[error_stack_symbol]]"),
            "node{major}: {keys:?}"
        );
        assert!(!keys.contains(&"[[private]]"), "node{major}: {keys:?}");
        if major >= 24 {
            let m = entry(&err, "[[error_message_symbol]]");
            assert_eq!(m["value"]["text"], "llnode-error-0", "node{major}");
        }
    }
}

fn sorted(v: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = v.into_iter().collect();
    v.sort();
    v
}

#[test]
fn handles_requests_and_timers_are_what_node_itself_listed() {
    for major in MAJORS {
        let f = fixture("handles", major);
        let extra = &f.stats["extra"];
        let a = json(&v8dump(&["handles", f.core.to_str().unwrap(), "--json"]));
        let envs = a["environments"].as_array().expect("environments");
        assert_eq!(envs.len(), 1, "node{major}: {a:#}");
        let handles = envs[0]["handles"].as_array().unwrap();
        let requests = envs[0]["requests"].as_array().unwrap();
        let names = |v: &Value| {
            v.as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        // process._getActiveHandles(): the referenced handles, by their JavaScript owner.
        let ours = handles.iter().filter(|h| h["referenced"] == true).map(|h| {
            h["owner_name"]
                .as_str()
                .or(h["object_name"].as_str())
                .unwrap()
                .to_string()
        });
        assert_eq!(
            sorted(ours),
            sorted(names(&extra["handles"])),
            "node{major}: {a:#}"
        );
        // process._getActiveRequests().
        let ours = requests
            .iter()
            .map(|q| q["object_name"].as_str().unwrap().to_string());
        assert_eq!(
            sorted(ours),
            sorted(names(&extra["requests"])),
            "node{major}"
        );
        // getActiveResourcesInfo() has one 'Timeout' per referenced timer.
        let timers = a["timers"].as_array().unwrap();
        let refd = timers.iter().filter(|t| t["referenced"] == true).count();
        let want = names(&extra["resources"])
            .iter()
            .filter(|r| *r == "Timeout")
            .count();
        assert_eq!(refd, want, "node{major}: {timers:#?}");

        // What each one is.
        let tcp = handles.iter().find(|h| h["uv_type"] == "tcp").expect("tcp");
        assert_eq!(tcp["listening"], true, "node{major}");
        assert_eq!(tcp["owner_name"], "Server", "node{major}");
        assert!(tcp["fd"].as_i64().is_some_and(|fd| fd > 2), "node{major}");
        let watch = handles
            .iter()
            .find(|h| h["uv_type"] == "fs_event")
            .expect("fs_event");
        assert_eq!(watch["detail"], extra["watchedPath"], "node{major}");
        assert_eq!(handles.iter().filter(|h| h["uv_type"] == "udp").count(), 1);
        let stat = &requests[0];
        assert_eq!(stat["uv_type"], "fs", "node{major}");
        assert_eq!(stat["operation"], "stat", "node{major}");
        assert_eq!(stat["target"], extra["statPath"], "node{major}");
        let (line, _) = v8dump_testkit::scenario_position("handles", "function statDone(");
        assert!(
            stat["callback"]
                .as_str()
                .is_some_and(|c| c.starts_with(&format!("statDone (handles.js:{line}:"))),
            "node{major}: {stat:#}"
        );
        // The interval and the unref'ed timeout, with their callbacks; the cleared one is gone.
        let interval = timers
            .iter()
            .find(|t| t["repeat_ms"] == 12345.0)
            .unwrap_or_else(|| panic!("node{major}: no interval in {timers:#?}"));
        assert!(interval["callback"]
            .as_str()
            .unwrap()
            .starts_with("pollMetrics (handles.js:"));
        let unref = timers
            .iter()
            .find(|t| t["delay_ms"] == 54321.0)
            .expect("timeout");
        assert_eq!(unref["referenced"], false, "node{major}");
        assert_eq!(timers.len(), 2, "node{major}: {timers:#?}");
        // The TCP handle's JavaScript object carries the wrap in its embedder fields, named by
        // its C++ class.
        let obj = inspect(&f, tcp["object"].as_str().unwrap(), &[]);
        let fields: Vec<&Value> = obj["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["key"].as_str().unwrap().starts_with("[[embedder field"))
            .collect();
        assert!(
            fields
                .iter()
                .any(|e| e["value"]["constructor"] == "node::TCPWrap"
                    && e["value"]["text"] == tcp["wrap"]),
            "node{major}: {fields:#?}"
        );
        // The report says it too.
        let rep = text(&v8dump(&["report", f.core.to_str().unwrap()]));
        assert!(
            rep.contains("PENDING   3 handles, 1 request, 2 timers"),
            "node{major}: {rep}"
        );
    }
}

#[test]
fn nodeinfo_shows_process_release_as_the_process_had_it() {
    for major in MAJORS {
        let f = fixture("llnode", major);
        let info = json(&v8dump(&["nodeinfo", f.core.to_str().unwrap(), "--json"]));
        let got: Vec<(String, String)> = serde_json::from_value(info["release"].clone()).unwrap();
        let want: Vec<(String, String)> = f.stats["extra"]["release"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let mut g = got.clone();
        g.sort();
        let mut w = want.clone();
        w.sort();
        assert_eq!(g, w, "node{major}");
        assert!(
            g.iter().any(|(k, v)| k == "name" && v == "node"),
            "node{major}"
        );
    }
}

#[test]
fn frames_the_deoptimizer_built_are_javascript_frames_named_and_placed_as_node_places_them() {
    for major in MAJORS {
        let f = fixture("deopt", major);
        let want = node_frames(f.stats["extra"]["liveStack"].as_str().unwrap());
        let bt = json(&v8dump(&["bt", f.core.to_str().unwrap(), "--json"]));
        let frames = bt["threads"][0]["frames"].as_array().unwrap();
        let start = frames
            .iter()
            .position(|fr| fr["js"]["name"] == "hx")
            .unwrap_or_else(|| panic!("node{major}: no frame hx"));
        let end = frames
            .iter()
            .position(|fr| fr["js"]["name"] == "Object.<anonymous>")
            .unwrap_or_else(|| panic!("node{major}: no module frame"));
        // Between them only JavaScript frames: none left as unnamed native code.
        for fr in &frames[start..=end] {
            assert!(fr.get("js").is_some(), "node{major}: {fr:#}");
        }
        // In Node's order (frames a JIT inlined into its caller may be missing), each exact
        // position where Node puts it.
        let mut at = 0;
        for fr in &frames[start..=end] {
            let js = &fr["js"];
            let name = js["name"].as_str().unwrap();
            let k = want[at..]
                .iter()
                .position(|(n, _)| n.as_deref() == Some(name))
                .unwrap_or_else(|| panic!("node{major}: {name} out of Node's order {want:?}"));
            at += k;
            if js["exact"] == true && name != "hx" {
                assert_eq!(location(js), want[at].1, "node{major}: {name}");
            }
            at += 1;
        }
        // Unless an optimized frame still holds inlined callees, every one of Node's frames is
        // there (where the deoptimizer ran, h1..h5 are back as interpreted frames).
        let optimized = frames[start..=end].iter().any(|fr| {
            matches!(
                fr["kind"].as_str(),
                Some("maglev" | "turbofan" | "optimized")
            )
        });
        if !optimized {
            let names: Vec<Option<String>> = frames[start..=end]
                .iter()
                .map(|fr| fr["js"]["name"].as_str().map(str::to_string))
                .collect();
            let node: Vec<Option<String>> = want
                .iter()
                .skip_while(|(n, _)| n.as_deref() != Some("hx"))
                .take(names.len())
                .map(|(n, _)| n.clone())
                .collect();
            assert_eq!(names, node, "node{major}");
        }
    }
}
