//! Damaged heaps: real fixture cores with words overwritten in a copy (at addresses v8dump
//! finds, in bytes the test reads and writes through the core's own program headers). What
//! the damage makes impossible must be said, and nothing read from the damage may size an
//! allocation or a loop.

mod common;
use common::{assert_marked_or_explained, json, v8dump};

use serde_json::Value;
use std::os::unix::process::CommandExt;
use std::process::Command;
use v8dump_testkit::{core_word, fixture, patched_core, TempDir};

/// The message of the caveat of `kind` in a `--json` answer (the test fails without one).
fn caveat(j: &Value, kind: &str, what: &str) -> String {
    j["partial"]["reasons"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["kind"] == kind))
        .and_then(|r| r["message"].as_str())
        .unwrap_or_else(|| panic!("{what}: no {kind} in {}", j["partial"]))
        .to_string()
}

/// The one DamageTargets instance of a `damage_targets.js` core: its address and its
/// `inspect --json`.
fn damage_targets(core: &str) -> (String, Value) {
    let i = json(&v8dump(&[
        "findjsinstances",
        core,
        "DamageTargets",
        "--json",
    ]));
    let holder = i["instances"][0]["address"].as_str().unwrap().to_string();
    let v = json(&v8dump(&["inspect", core, &holder, "--json"]));
    (holder, v)
}

/// The value of property `key` in an `inspect --json` answer.
fn entry_of(v: &Value, key: &str, what: &str) -> Value {
    v["entries"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["key"] == key))
        .unwrap_or_else(|| panic!("{what}: no {key} in {v}"))["value"]
        .clone()
}

fn addr_of(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// Run v8dump under a 6 GiB address-space limit: an answer (exit 0) or a one-line error
/// (exit 1), never an abort or a panic.
fn run_limited(argv: &[&str], node: &std::path::Path) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_v8dump"));
    c.args(argv).arg("-e").arg(node);
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        c.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 6 << 30,
                rlim_max: 6 << 30,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = c.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        matches!(o.status.code(), Some(0) | Some(1)),
        "{argv:?}: {:?}: {err}",
        o.status
    );
    assert!(!err.contains("memory allocation"), "{argv:?}: {err}");
    o
}

/// A length read from a damaged heap is not trusted with memory: the listeners' elements store
/// of the listener leak, its length overwritten with 2^31-1, is exported, inspected and
/// counted under the limit (the claimed length would need 16 GiB).
#[test]
fn a_huge_length_in_a_damaged_heap_allocates_nothing_for_it() {
    let f = fixture("listener_leak", 24);
    let core = f.core.to_str().unwrap();
    let top = json(&v8dump(&["top", core, "--json", "--limit", "20"]));
    let rows = top["rows"].as_array().unwrap();
    let store = rows
        .iter()
        .find(|r| r["name"] == "(object elements)")
        .expect("the listeners' store among the largest");
    let array = rows
        .iter()
        .find(|r| r["name"] == "Array")
        .expect("the listeners array");
    // FixedArray: map, then the length as a Smi.
    let length_field = addr_of(&store["address"]) - 1 + 8;
    let old = core_word(&f.core, length_field);
    assert_eq!(old & 0xffff_ffff, 0, "the length is a Smi");
    assert!(old >> 32 >= f.stats["extra"]["listeners"].as_u64().unwrap());
    let tmp = TempDir::new("huge-length");
    let damaged = patched_core(&f.core, &tmp.0, &[(length_field, 0x7fff_ffff << 32, 8)]);
    let snap = tmp.join("out.heapsnapshot");
    let array_addr = array["address"].as_str().unwrap();
    let d = damaged.to_str().unwrap();
    for argv in [
        vec!["heapsnapshot", d, "-o", snap.to_str().unwrap()],
        vec!["inspect", d, array_addr],
        vec!["findjsobjects", d],
        vec!["top", d],
        vec!["leaks", d],
        vec!["retainers", d, array_addr],
    ] {
        run_limited(&argv, &f.node);
    }
}

/// Impossible values are said, not shown as values: a flat string whose length is 2^31-1, a
/// cons string whose second half is itself, a Map whose table claims 2^31-1 entries
/// (`fixtures/scenarios/damage_targets.js`), on the oldest and newest supported V8.
#[test]
fn impossible_strings_and_maps_are_marked_damaged() {
    for major in [18, 26] {
        let f = fixture("damage_targets", major);
        let what = format!("node{major}");
        let core = f.core.to_str().unwrap();
        let (_, v) = damage_targets(core);
        let entry = |k: &str| entry_of(&v, k, &what);
        let (cons, flat, map, weak) = (entry("cons"), entry("flat"), entry("map"), entry("weak"));
        // The undamaged values first, against what the scenario recorded.
        assert_eq!(cons["text"], f.stats["extra"]["cons"], "{what}");
        assert_eq!(flat["text"], f.stats["extra"]["flat"], "{what}");
        let m = json(&v8dump(&[
            "inspect",
            core,
            map["address"].as_str().unwrap(),
            "--json",
        ]));
        assert_eq!(m["length"], f.stats["extra"]["map_size"], "{what}: {m}");
        assert!(m.get("notes").is_none(), "{what}: {m}");
        let (cons_at, flat_at, map_at) = (
            addr_of(&cons["address"]),
            addr_of(&flat["address"]),
            addr_of(&map["address"]),
        );
        // String: map, hash (4 bytes), length (4 bytes); ConsString: first, second after.
        // JSMap: map, properties, elements, table; the table's first slot (after map and
        // length) is its entry count, a Smi.
        let table = core_word(&f.core, map_at - 1 + 24);
        assert_eq!(table & 1, 1, "{what}: the table is a pointer");
        // The WeakMap (JSWeakCollection: the same fields) and its EphemeronHashTable, whose
        // length (a FixedArray's) the fuzzer found sizing a loop of 2^31 reads.
        let weak_at = addr_of(&weak["address"]);
        let w = json(&v8dump(&[
            "inspect",
            core,
            weak["address"].as_str().unwrap(),
            "--json",
        ]));
        assert_eq!(w["length"], f.stats["extra"]["weak_size"], "{what}: {w}");
        let weak_table = core_word(&f.core, weak_at - 1 + 24);
        assert_eq!(weak_table & 1, 1, "{what}: the weak table is a pointer");
        let tmp = TempDir::new(&format!("impossible{major}"));
        let damaged = patched_core(
            &f.core,
            &tmp.0,
            &[
                (flat_at - 1 + 12, 0x7fff_ffff, 4),
                (cons_at - 1 + 24, cons_at, 8),
                (table - 1 + 16, 0x7fff_ffff << 32, 8),
                (weak_table - 1 + 8, 0x7fff_ffff << 32, 8),
            ],
        );
        let d = damaged.to_str().unwrap();
        let note = |addr: u64| -> String {
            let o = run_limited(&["inspect", d, &format!("{addr:#x}"), "--json"], &f.node);
            let j: Value = serde_json::from_slice(&o.stdout).expect("JSON");
            j["notes"]
                .as_array()
                .map(|n| {
                    n.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default()
        };
        let n = note(flat_at);
        assert!(
            n.contains("damaged") && n.contains("2147483647"),
            "{what}: flat: {n:?}"
        );
        let n = note(cons_at);
        assert!(
            n.contains("damaged") && n.contains("itself"),
            "{what}: cons: {n:?}"
        );
        let started = std::time::Instant::now();
        let n = note(weak_at);
        assert!(
            n.contains("damaged") && n.contains("2147483647"),
            "{what}: weak: {n:?}"
        );
        assert!(
            started.elapsed().as_secs() < 30,
            "{what}: {:?}",
            started.elapsed()
        );
        let n = note(map_at);
        assert!(
            n.contains("damaged") && n.contains("2147483647"),
            "{what}: map: {n:?}"
        );
        let o = run_limited(&["inspect", d, &format!("{map_at:#x}"), "--json"], &f.node);
        let j: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!(j["length"].as_u64().unwrap() < 1 << 20, "{what}: {j}");
    }
}

/// The file offset of the byte at `addr` in `core`, through its program headers (read here).
fn file_offset(core: &[u8], addr: u64) -> Option<u64> {
    let u = |o: usize, n: usize| -> u64 {
        let mut b = [0u8; 8];
        b[..n].copy_from_slice(&core[o..o + n]);
        u64::from_le_bytes(b)
    };
    let (phoff, phnum) = (u(32, 8) as usize, u(56, 2) as usize);
    (0..phnum).find_map(|i| {
        let h = phoff + 56 * i;
        let (ty, off, va, filesz) = (u(h, 4), u(h + 8, 8), u(h + 16, 8), u(h + 32, 8));
        (ty == 1 && va <= addr && addr < va + filesz).then(|| off + addr - va)
    })
}

/// A core cut inside its heap: the pages past the cut are counted as missing, per space, in
/// every answer. The pages are those of the whole core; which of them are past the cut is
/// read from the program headers here. A space's page list is followed through the missing
/// pages where it can be (from V8 13 a page's metadata lives outside the page); where a link
/// is in the missing part, the answer says "at least".
#[test]
fn a_core_cut_inside_its_heap_says_how_much_of_each_space_is_missing() {
    for major in [18, 22, 26] {
        let what = format!("node{major}");
        let f = fixture("listener_leak", major);
        let core = f.core.to_str().unwrap();
        let bytes = std::fs::read(&f.core).unwrap();
        let info = json(&v8dump(&["info", core, "--json", "--pages"]));
        let mut old: Vec<u64> = info["heap"]["pages"]
            .as_array()
            .or_else(|| info["pages"].as_array())
            .expect("pages")
            .iter()
            .filter(|p| p["space"] == "old_space")
            .map(|p| file_offset(&bytes, addr_of(&p["base"])).expect("a page in the file"))
            .collect();
        old.sort();
        assert!(old.len() >= 4, "{what}: {} old-space pages", old.len());
        let cut = old[old.len() / 2] + 4096;
        let gone = old.iter().filter(|&&o| o + 64 > cut).count() as u64;
        let tmp = TempDir::new(&format!("cut-heap{major}"));
        let short = tmp.join("core");
        std::fs::write(&short, &bytes[..cut as usize]).unwrap();
        let s = short.to_str().unwrap();
        let node = f.node.to_str().unwrap();
        let o = v8dump(&[
            "findjsobjects",
            s,
            "-e",
            node,
            "--allow-truncated",
            "--json",
        ]);
        // 4: printed, but no object could be read (the cut took what every object needs).
        assert!(
            matches!(o.status.code(), Some(0) | Some(4)),
            "{what}: {o:?}"
        );
        let j: Value = serde_json::from_slice(&o.stdout).expect("JSON");
        let m = caveat(&j, "missing_heap", &what);
        // "old_space: [at least ]P% ([at least ]N pages...)"
        let at = m
            .find("old_space:")
            .unwrap_or_else(|| panic!("{what}: no old_space in {m}"));
        let part = &m[at..at + m[at..].find(')').unwrap_or(m.len() - at)];
        let pages: u64 = part
            .split('(')
            .nth(1)
            .and_then(|p| p.split_whitespace().find_map(|w| w.parse().ok()))
            .unwrap_or_else(|| panic!("{what}: no page count in {part:?}"));
        // Exact where the list could be followed to its end (from V8 13, when the page
        // metadata outside the pages survived the cut); a lower bound where it could not. A
        // page before the cut whose list link (from V8 13, in metadata outside the pages) was
        // past it is not seen either: the bound is every old-space page the cut core does
        // not show.
        if part.contains("at least") {
            let cut_info = json(&v8dump(&[
                "info",
                s,
                "-e",
                node,
                "--allow-truncated",
                "--json",
                "--pages",
            ]));
            let seen = cut_info["pages"]
                .as_array()
                .expect("pages")
                .iter()
                .filter(|p| p["space"] == "old_space")
                .count() as u64;
            let unseen = old.len() as u64 - seen;
            assert!(unseen >= gone, "{what}: {seen} seen of {}", old.len());
            assert!(
                pages >= 1 && pages <= unseen,
                "{what}: {unseen} not seen: {m}"
            );
        } else {
            assert_eq!(pages, gone, "{what}: {m}");
        }
        assert_marked_or_explained(
            &[
                short.as_os_str(),
                "-e".as_ref(),
                f.node.as_os_str(),
                "--allow-truncated".as_ref(),
            ],
            None,
            &[],
            "warning: counts may be low: heap memory is missing from the core",
            "missing_heap",
            "truncated",
        );
    }
}

/// Objects whose map word is overwritten cannot be parsed: they leave the counts, and every
/// answer says that live objects point into memory that is not objects, naming the first. The
/// count of what was damaged is V8's own (its snapshot) minus the damaged ones.
#[test]
fn damaged_object_headers_mark_every_answer() {
    for major in [18, 22, 26] {
        let what = format!("node{major}");
        let f = fixture("listener_leak", major);
        let core = f.core.to_str().unwrap();
        let i = json(&v8dump(&[
            "findjsinstances",
            core,
            "UserSession",
            "--json",
            "--limit",
            "100000",
        ]));
        let sessions: Vec<u64> = i["instances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| addr_of(&x["address"]))
            .collect();
        let planted = f.stats["extra"]["UserSession"].as_u64().unwrap();
        assert_eq!(sessions.len() as u64, planted, "{what}");
        let hit = &sessions[..3];
        let patches: Vec<(u64, u64, usize)> = hit
            .iter()
            .map(|&a| (a - 1, 0x4141_4141_4141_4141, 8))
            .collect();
        let tmp = TempDir::new(&format!("damaged-headers{major}"));
        let damaged = patched_core(&f.core, &tmp.0, &patches);
        let d = damaged.to_str().unwrap();
        let node = f.node.to_str().unwrap();
        let j = json(&v8dump(&["findjsobjects", d, "-e", node, "--json"]));
        let row = j["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "UserSession");
        assert_eq!(row.unwrap()["count"].as_u64(), Some(planted - 3), "{what}");
        let m = caveat(&j, "damaged_heap", &what);
        let refs: u64 = m
            .split("hold, ")
            .nth(1)
            .and_then(|t| t.split_whitespace().next())
            .and_then(|w| w.parse().ok())
            .unwrap_or(0);
        assert!(refs >= 3, "{what}: {m}");
        assert!(
            hit.iter().any(|a| m.contains(&format!("{a:#x}"))),
            "{what}: names none: {m}"
        );
        // An undamaged session next to them is still read, and the answers about it marked.
        let other = format!("{:#x}", sessions[10]);
        assert_marked_or_explained(
            &[damaged.as_os_str(), "-e".as_ref(), f.node.as_os_str()],
            Some(&other),
            // `bt` reads only the frames' functions, not the heap's objects.
            &["bt"],
            "warning: counts may be low: the heap is damaged",
            "damaged_heap",
            "no such error is expected",
        );
    }
}

/// A copy of `core` in which the PT_LOAD segment holding `addr` keeps only its bytes below
/// `addr` in the file (its `p_filesz` made smaller, read and written through the program
/// headers here): memory from `addr` on is not in the dump, as if the kernel had stopped
/// writing that mapping there, while the rest of the core stays whole.
fn core_without_tail_from(
    core: &std::path::Path,
    dir: &std::path::Path,
    addr: u64,
) -> std::path::PathBuf {
    let mut bytes = std::fs::read(core).unwrap();
    let u = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let phoff = u(&bytes, 32) as usize;
    let phnum = u16::from_le_bytes(bytes[56..58].try_into().unwrap()) as usize;
    let ph = (0..phnum)
        .map(|i| phoff + 56 * i)
        .find(|&h| {
            let (ty, va, filesz) = (
                u32::from_le_bytes(bytes[h..h + 4].try_into().unwrap()),
                u(&bytes, h + 16),
                u(&bytes, h + 32),
            );
            ty == 1 && va <= addr && addr < va + filesz
        })
        .expect("a segment in the file holds the address");
    let va = u(&bytes, ph + 16);
    bytes[ph + 32..ph + 40].copy_from_slice(&(addr - va).to_le_bytes());
    let out = dir.join("cut-object.core");
    std::fs::write(&out, &bytes).unwrap();
    out
}

/// A live large object whose body is partly not in the dump (the 1 MiB elements store of
/// `damage_targets.js`'s array, its second half gone) is still counted, and every heap answer
/// says that a live object is cut short, how much of it is missing and where it starts.
#[test]
fn a_live_object_cut_short_is_counted_in_every_answer() {
    for major in [18, 22, 26] {
        let f = fixture("damage_targets", major);
        let what = format!("node{major}");
        let core = f.core.to_str().unwrap();
        let (holder, v) = damage_targets(core);
        let large = entry_of(&v, "large", &what);
        let a = json(&v8dump(&[
            "inspect",
            core,
            large["address"].as_str().unwrap(),
            "--json",
        ]));
        assert_eq!(a["length"], f.stats["extra"]["large_length"], "{what}: {a}");
        // JSArray: map, properties, elements, length. The elements store: map, length (a Smi),
        // then one word per element.
        let elements = core_word(&f.core, addr_of(&large["address"]) - 1 + 16);
        assert_eq!(elements & 1, 1, "{what}: elements is a pointer");
        let n = f.stats["extra"]["large_length"].as_u64().unwrap();
        let start = elements - 1;
        let cut = (start + 16 + 8 * n / 2 + 4095) & !4095;
        // The whole core has no such mark.
        let j = json(&v8dump(&["findjsobjects", core, "--json"]));
        assert!(j["partial"].is_null(), "{what}: {}", j["partial"]);
        let tmp = TempDir::new(&format!("cut-object{major}"));
        let damaged = core_without_tail_from(&f.core, &tmp.0, cut);
        let d = damaged.to_str().unwrap();
        let node = f.node.to_str().unwrap();
        let j = json(&v8dump(&["findjsobjects", d, "-e", node, "--json"]));
        let m = caveat(&j, "missing_heap", &what);
        // "N live object(s) is/are cut short, X of its/their body missing"
        let cut_short: u64 = m
            .split(" live object")
            .next()
            .and_then(|t| t.rsplit(|c: char| !c.is_ascii_digit()).next())
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("{what}: no cut-short count in {m}"));
        assert!(cut_short >= 1, "{what}: {m}");
        assert!(m.contains("cut short"), "{what}: {m}");
        // The array is still there, with its length.
        let a = json(&v8dump(&[
            "inspect",
            d,
            "-e",
            node,
            large["address"].as_str().unwrap(),
            "--json",
        ]));
        assert_eq!(a["length"], f.stats["extra"]["large_length"], "{what}: {a}");
        assert_marked_or_explained(
            &[damaged.as_os_str(), "-e".as_ref(), f.node.as_os_str()],
            Some(&holder),
            // `bt` reads the stacks and the frames' functions, none of them in that mapping.
            &["bt"],
            "warning: counts may be low: heap memory is missing from the core",
            "missing_heap",
            "no such error is expected",
        );
    }
}

/// A frame that runs bytecode is a JS function's: when its function slot (V8's
/// `StandardFrameConstants::kFunctionOffset`, two words below the frame pointer, checked in
/// the core here) is overwritten, `bt` says which frame could not be read and marks the answer,
/// instead of showing the frame as native code.
#[test]
fn bt_says_which_frame_it_could_not_read() {
    for major in [18, 22, 26] {
        let f = fixture("oom", major);
        let what = format!("node{major}");
        let core = f.core.to_str().unwrap();
        let bt = json(&v8dump(&["bt", core, "--json"]));
        assert!(bt["partial"].is_null(), "{what}: {}", bt["partial"]);
        let frames = bt["threads"][0]["frames"].as_array().unwrap();
        assert!(frames.iter().all(|fr| fr.get("damage").is_none()), "{what}");
        let (k, fr) = frames
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, fr)| fr["kind"] == "interpreted" && fr["fp"].is_u64())
            .unwrap_or_else(|| panic!("{what}: no interpreted frame"));
        let fp = fr["fp"].as_u64().unwrap();
        let func = fr["js"]["function"].as_u64().unwrap();
        assert_eq!(core_word(&f.core, fp - 16), func, "{what}: frame {k}");
        let tmp = TempDir::new(&format!("bt-damaged{major}"));
        let damaged = patched_core(&f.core, &tmp.0, &[(fp - 16, 0x0000_4141_4141_4141, 8)]);
        let d = damaged.to_str().unwrap();
        let node = f.node.to_str().unwrap();
        let j = json(&v8dump(&["bt", d, "-e", node, "--json"]));
        let frames = j["threads"][0]["frames"].as_array().unwrap();
        let hit = frames
            .iter()
            .find(|x| x["fp"].as_u64() == Some(fp))
            .unwrap_or_else(|| panic!("{what}: the frame at {fp:#x} is gone"));
        let dmg = hit["damage"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: {hit}"));
        assert!(
            dmg.contains(&format!("{fp:#x}")) && dmg.contains("0x414141414141"),
            "{what}: {dmg}"
        );
        let kinds: Vec<&str> = j["partial"]["reasons"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: not marked"))
            .iter()
            .filter_map(|r| r["kind"].as_str())
            .collect();
        assert_eq!(kinds, ["damaged_heap"], "{what}");
        let text = String::from_utf8(v8dump(&["bt", d, "-e", node]).stdout).unwrap();
        assert!(
            text.starts_with("warning: frames may be misnamed"),
            "{what}: {text}"
        );
        assert!(
            text.contains("damaged: the function slot"),
            "{what}: {text}"
        );
        // The frames before and after it are read as before.
        let before: Vec<&Value> = bt["threads"][0]["frames"]
            .as_array()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(frames.len(), before.len(), "{what}");
        for (x, y) in frames
            .iter()
            .zip(before)
            .filter(|(x, _)| x["fp"].as_u64() != Some(fp))
        {
            assert_eq!(x["js"]["name"], y["js"]["name"], "{what}");
        }
    }
}
