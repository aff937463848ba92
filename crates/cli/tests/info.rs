//! `v8dump info` end to end: real cores of every supported version, and bad input of every kind.

use std::path::Path;
use std::process::{Command, Output};
use v8dump_testkit::{fixture, TempDir, MAJORS};

mod common;
use common::assert_marked_or_explained;

fn v8dump(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_v8dump"));
    for a in args {
        c.arg(a);
    }
    c.output().expect("run v8dump")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A failed run: exit code 1 (not a panic's 101), one line on stderr naming the problem.
fn assert_one_line_error(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "expected exit 1, got {:?}; stderr: {err}",
        o.status
    );
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("v8dump: error: "), "{err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks {n:?}: {err}");
    }
}

#[test]
fn info_text_names_version_signal_and_spaces_on_every_version() {
    for major in MAJORS {
        let f = fixture("basic", major);
        let o = v8dump(&[&"info", &f.core]);
        let out = stdout(&o);
        assert!(o.status.success(), "node{major}: {}", stderr(&o));
        let node = f.stats["versions"]["node"].as_str().unwrap();
        let line = |key: &str| {
            out.lines()
                .find(|l| l.starts_with(key))
                .unwrap_or_else(|| panic!("no {key} line in:\n{out}"))
                .to_string()
        };
        assert_eq!(line("node "), format!("node        v{node}"));
        assert!(line("signal ").contains("SIGABRT (6)"), "{out}");
        assert!(line("executable ").contains("matches the core"), "{out}");
        assert!(!out.contains("FAIL"), "node{major}: a check failed:\n{out}");
        // The space table: one row per space V8 reports as non-empty, pages as V8 counts them.
        for s in f.stats["heapSpaceStatistics"].as_array().unwrap() {
            let (name, size) = (
                s["space_name"].as_str().unwrap(),
                s["space_size"].as_u64().unwrap(),
            );
            if size == 0 || name == "read_only_space" || name.contains("large_object") {
                continue;
            }
            let row = line(&format!("{name} "));
            let pages: u64 = row.split_whitespace().nth(1).unwrap().parse().unwrap();
            assert_eq!(pages, size.div_ceil(1 << 18), "node{major} {name}: {row}");
        }
    }
}

#[test]
fn info_json_is_stable_and_complete() {
    let f = fixture("objects", 22);
    let o = v8dump(&[&"info", &"--json", &f.core]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v["node_version"], f.stats["versions"]["node"]);
    assert_eq!(v["crash"]["signal"], 6);
    assert_eq!(v["crash"]["signal_name"], "SIGABRT");
    assert_eq!(
        v["crash"]["sender_pid"], f.stats["pid"],
        "abort() signals the process itself"
    );
    assert_eq!(v["executable"]["status"], "verified");
    assert_eq!(v["core"]["pid"], f.stats["pid"]);
    // Addresses are hex strings, never lossy JSON numbers.
    assert!(v["heap"]["heap"].as_str().unwrap().starts_with("0x"));
    let old = &v["heap"]["spaces"]["old_space"];
    let want = f.stats["heapSpaceStatistics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["space_name"] == "old_space")
        .unwrap();
    assert_eq!(old["committed"], want["space_size"]);
    // --pages lists every page, and they add up to the per-space totals.
    let o = v8dump(&[&"info", &"--json", &"--pages", &f.core]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let pages = v["pages"].as_array().unwrap();
    assert_eq!(pages.len() as u64, v["heap"]["pages"].as_u64().unwrap());
    let old_sum: u64 = pages
        .iter()
        .filter(|p| p["space"] == "old_space")
        .map(|p| p["size"].as_u64().unwrap())
        .sum();
    assert_eq!(old_sum, want["space_size"].as_u64().unwrap());
}

#[test]
fn truncated_core_is_refused_then_read_partially_on_request() {
    let f = fixture("basic", 20);
    let tmp = TempDir::new("trunc");
    let cut = tmp.join("core.cut");
    let bytes = std::fs::read(&f.core).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    let o = v8dump(&[&"info", &cut, &"-e", &f.node]);
    assert_one_line_error(&o, &["truncated", "core.cut", "--allow-truncated"]);
    let o = v8dump(&[&"info", &cut, &"-e", &f.node, &"--allow-truncated"]);
    let out = stdout(&o);
    assert_ne!(o.status.code(), Some(101), "no panic: {}", stderr(&o));
    if o.status.success() {
        assert!(
            out.contains("TRUNCATED"),
            "a partial answer is marked:\n{out}"
        );
    }
}

#[test]
fn non_core_elf_random_bytes_empty_and_missing_files_are_named() {
    let tmp = TempDir::new("bad");
    let node = fixture("basic", 20).node;
    assert_one_line_error(
        &v8dump(&[&"info", &node]),
        &["ELF executable, not a core dump"],
    );

    let random = tmp.join("random.bin");
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let data: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(&random, data).unwrap();
    assert_one_line_error(
        &v8dump(&[&"info", &random]),
        &["random.bin", "not an ELF file"],
    );

    let empty = tmp.join("empty");
    std::fs::write(&empty, b"").unwrap();
    assert_one_line_error(&v8dump(&[&"info", &empty]), &["empty", "not an ELF file"]);

    // An ELF header that claims to be a core but is cut inside its program headers.
    let f = fixture("basic", 20);
    let head = tmp.join("head");
    std::fs::write(&head, &std::fs::read(&f.core).unwrap()[..200]).unwrap();
    assert_one_line_error(&v8dump(&[&"info", &head]), &["truncated", "program header"]);

    assert_one_line_error(
        &v8dump(&[&"info", &tmp.join("no-such-core")]),
        &["cannot read", "no-such-core"],
    );
}

#[test]
fn core_paired_with_the_wrong_node_is_refused_and_force_marks_the_answer() {
    let core18 = fixture("basic", 18);
    let node20 = fixture("basic", 20).node;
    let o = v8dump(&[&"info", &core18.core, &"--executable", &node20]);
    assert_one_line_error(&o, &["is not the executable that produced", "build ID"]);
    let o = v8dump(&[&"info", &core18.core, &"--executable", &node20, &"--force"]);
    assert_ne!(o.status.code(), Some(101), "no panic: {}", stderr(&o));
    if o.status.success() {
        assert!(stdout(&o).contains("BUILD ID MISMATCH"), "{}", stdout(&o));
    }
}

#[test]
fn a_stripped_node_still_works_through_its_dynamic_symbols() {
    let f = fixture("basic", 20);
    let tmp = TempDir::new("strip");
    let stripped = tmp.join("node-stripped");
    let st = Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(std::fs::canonicalize(&f.node).unwrap())
        .status()
        .expect("strip (binutils)");
    assert!(st.success());
    let o = v8dump(&[&"info", &f.core, &"-e", &stripped]);
    assert!(o.status.success(), "{}", stderr(&o));
    let node = f.stats["versions"]["node"].as_str().unwrap();
    assert!(stdout(&o).contains(&format!("v{node}")));
}

#[test]
fn a_core_of_another_program_is_refused() {
    // A real core of a process that is not node: bash aborting itself.
    let tmp = TempDir::new("foreign");
    let script = "ulimit -c unlimited; bash -c 'kill -ABRT $$'; true";
    let _ = Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(&tmp.0)
        .status()
        .unwrap();
    let mut core = std::fs::read_dir(&tmp.0)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("core"))
        });
    if core.is_none() {
        // The kernel writes no core here (core_pattern pipes it away): let gdb write one.
        let out = tmp.join("core");
        let st = Command::new("gdb")
            .args(["-nx", "-batch", "-ex", "run", "-ex"])
            .arg(format!("generate-core-file {}", out.display()))
            .args(["-ex", "kill", "--args", "bash", "-c", "kill -ABRT $$"])
            .output()
            .expect("gdb");
        assert!(
            out.exists(),
            "gdb made no core: {}",
            String::from_utf8_lossy(&st.stderr)
        );
        core = Some(out);
    }
    let core = core.unwrap();
    // The core names bash as its executable: bash has no V8 metadata.
    assert_one_line_error(&v8dump(&[&"info", &core]), &["no V8 postmortem metadata"]);
    // Given a node binary instead, the build IDs disagree.
    let node = fixture("basic", 20).node;
    assert_one_line_error(
        &v8dump(&[&"info", &core, &"-e", &node]),
        &["not the executable that produced"],
    );
    assert!(Path::new(&core).exists());
}

#[test]
fn a_table_for_another_version_is_marked_or_refused() {
    // Calibrated on the core and passing every check: answered, with the banner first.
    let f = fixture("basic", 24);
    let o = v8dump(&[&"info", &f.core, &"--layout", &"14.6"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        out.starts_with("warning: --layout 14.6: V8 13.6 read with V8 14.6's table"),
        "{out}"
    );
    assert!(out.contains("checks passed"), "{out}");
    let j: serde_json::Value = serde_json::from_str(&stdout(&v8dump(&[
        &"findjsobjects",
        &f.core,
        &"--layout",
        &"14.6",
        &"--json",
    ])))
    .unwrap();
    assert_eq!(j["partial"]["reasons"][0]["kind"], "unverified_table");
    // A table that does not fit: one line naming the check that failed.
    let f = fixture("basic", 18);
    assert_one_line_error(
        &v8dump(&[&"findjsobjects", &f.core, &"--layout", &"11.3"]),
        &["sanity check 'page lists' failed", "V8 10.2", "11.3"],
    );
    assert_one_line_error(
        &v8dump(&[&"info", &f.core, &"--layout", &"9.9"]),
        &["no layout table for V8 9.9"],
    );
}

#[test]
fn a_pointer_into_the_cut_part_of_a_truncated_core_says_so() {
    // The full core's heap pages, then a copy cut before the last of them: inspecting an
    // object there says the memory is missing from the dump, not that it is not an object.
    let f = fixture("basic", 20);
    let info: serde_json::Value =
        serde_json::from_str(&stdout(&v8dump(&[&"info", &f.core, &"--pages", &"--json"]))).unwrap();
    let addr = |p: &serde_json::Value, k: &str| {
        u64::from_str_radix(p[k].as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    };
    let pages = info["pages"].as_array().unwrap();
    // The cut drops everything above it. Where address randomization put the read-only page
    // (the maps of the roots) above every old-space page, it goes too, and then no object of
    // the cut core can be parsed: the answer is marked for that first.
    let read_only = pages
        .iter()
        .filter(|p| p["space"] == "read_only_space")
        .map(|p| addr(p, "base"))
        .max()
        .unwrap_or(0);
    let last = pages
        .iter()
        .filter(|p| p["space"] == "old_space")
        .map(|p| addr(p, "area_start"))
        .max()
        .unwrap();
    let maps_kept = read_only < last;
    // Where that page is in the file: its PT_LOAD segment.
    let bytes = std::fs::read(&f.core).unwrap();
    let phoff = u64::from_le_bytes(bytes[32..40].try_into().unwrap()) as usize;
    let phnum = u16::from_le_bytes(bytes[56..58].try_into().unwrap()) as usize;
    let offset = (0..phnum)
        .find_map(|i| {
            let h = &bytes[phoff + 56 * i..phoff + 56 * (i + 1)];
            let field = |o: usize| u64::from_le_bytes(h[o..o + 8].try_into().unwrap());
            let (kind, off, vaddr, memsz) = (
                u32::from_le_bytes(h[..4].try_into().unwrap()),
                field(8),
                field(16),
                field(40),
            );
            (kind == 1 && vaddr <= last && last < vaddr + memsz).then_some(off + (last - vaddr))
        })
        .unwrap();
    let tmp = TempDir::new("cut-inspect");
    let cut = tmp.join("core.cut");
    std::fs::write(&cut, &bytes[..offset as usize]).unwrap();
    let o = v8dump(&[
        &"inspect",
        &cut,
        &format!("{:#x}", last + 1),
        &"-e",
        &f.node,
        &"--allow-truncated",
        &"--json",
    ]);
    let v: serde_json::Value =
        serde_json::from_str(&stdout(&o)).unwrap_or_else(|e| panic!("{e}: {}", stderr(&o)));
    assert_eq!(v["kind"], "unreadable", "{v}");
    let note = v["notes"][0].as_str().unwrap_or("");
    assert!(
        note.contains("the dump lacks") && note.contains("truncated"),
        "{note}"
    );
    let kinds: Vec<&str> = v["partial"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap_or(""))
        .collect();
    if maps_kept {
        assert_eq!(kinds.first(), Some(&"truncated_core"), "{v}");
    } else {
        assert_eq!(kinds[..2], ["no_objects", "truncated_core"], "{v}");
    }
}

#[test]
fn a_forced_wrong_executable_marks_every_answer_or_says_why_it_cannot() {
    for (core, node) in [(18, 20), (20, 22), (26, 24)] {
        let c = fixture("basic", core).core;
        let n = fixture("basic", node).node;
        assert_marked_or_explained(
            &[
                c.as_os_str(),
                "-e".as_ref(),
                n.as_os_str(),
                "--force".as_ref(),
            ],
            None,
            &[],
            "warning: the executable is not the one that produced the core (--force)",
            "executable_mismatch",
            "build-ID mismatch (--force)",
        );
    }
}

#[test]
fn a_truncated_core_marks_every_answer_or_says_its_heap_is_cut_off() {
    let f = fixture("listener_leak", 22);
    let tmp = TempDir::new("cuts");
    let bytes = std::fs::read(&f.core).unwrap();
    for tenth in [1, 5, 9] {
        let cut = tmp.join(&format!("core.{tenth}"));
        std::fs::write(&cut, &bytes[..bytes.len() * tenth / 10]).unwrap();
        assert_marked_or_explained(
            &[
                cut.as_os_str(),
                "-e".as_ref(),
                f.node.as_os_str(),
                "--allow-truncated".as_ref(),
            ],
            None,
            &[],
            "warning: the core is truncated",
            "truncated_core",
            "truncated",
        );
    }
}

/// A compressed file is checked as it streams: what does not start as a core is refused from
/// its first bytes, before anything is unpacked (here: before the unpack directory, which does
/// not exist, is touched), and a core that unpacks past the size its own headers give stops
/// there.
#[test]
fn compressed_input_is_checked_before_and_while_it_unpacks() {
    let tmp = TempDir::new("bomb");
    // 256 MiB of zeros in a few KiB of zstd.
    let bomb = tmp.join("zeros.zst");
    {
        let mut z =
            zstd::stream::write::Encoder::new(std::fs::File::create(&bomb).unwrap(), 3).unwrap();
        let block = vec![0u8; 1 << 20];
        for _ in 0..256 {
            std::io::Write::write_all(&mut z, &block).unwrap();
        }
        z.finish().unwrap();
    }
    assert!(std::fs::metadata(&bomb).unwrap().len() < 1 << 20);
    let o = Command::new(env!("CARGO_BIN_EXE_v8dump"))
        .args(["info".as_ref(), bomb.as_os_str()])
        .env("V8DUMP_UNPACK_DIR", tmp.join("no-such-dir"))
        .output()
        .unwrap();
    assert_one_line_error(&o, &["zeros.zst", "not an ELF file"]);

    // A real core with 8 MiB more behind it, in one zstd stream.
    let f = fixture("basic", 20);
    let padded = tmp.join("padded.zst");
    {
        let mut z =
            zstd::stream::write::Encoder::new(std::fs::File::create(&padded).unwrap(), 1).unwrap();
        std::io::Write::write_all(&mut z, &std::fs::read(&f.core).unwrap()).unwrap();
        std::io::Write::write_all(&mut z, &vec![0x5a; 8 << 20]).unwrap();
        z.finish().unwrap();
    }
    let o = v8dump(&[&"info", &padded, &"-e", &f.node]);
    assert_one_line_error(&o, &["padded.zst", "more than the", "its own headers give"]);
}

/// An unpacked compressed core holds the process's secrets: it is an unnamed file (O_TMPFILE)
/// in the unpack directory, so nothing of it can be found there while v8dump reads it, after
/// it is done, or after it is interrupted with Ctrl-C (SIGINT); and only its owner could open
/// it through /proc.
#[test]
fn an_unpacked_core_never_has_a_name_even_when_interrupted() {
    let f = fixture("listener_leak", 24);
    let tmp = TempDir::new("unpack-private");
    let packed = tmp.join("core.zst");
    {
        let mut z =
            zstd::stream::write::Encoder::new(std::fs::File::create(&packed).unwrap(), 1).unwrap();
        std::io::copy(&mut std::fs::File::open(&f.core).unwrap(), &mut z).unwrap();
        z.finish().unwrap();
    }
    let dir = tmp.join("unpack");
    std::fs::create_dir(&dir).unwrap();
    let listing = || std::fs::read_dir(&dir).unwrap().count();
    for interrupt in [false, true] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_v8dump"))
            .args([
                "top".as_ref(),
                packed.as_os_str(),
                "-e".as_ref(),
                f.node.as_os_str(),
            ])
            .env("V8DUMP_UNPACK_DIR", &dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut saw_unpacked = false;
        for _ in 0..200 {
            assert_eq!(listing(), 0, "a name appeared in the unpack directory");
            // The unpacked file, open in v8dump, seen through /proc: owner-only.
            if let Ok(fds) = std::fs::read_dir(format!("/proc/{}/fd", child.id())) {
                for fd in fds.flatten() {
                    let target = std::fs::read_link(fd.path()).unwrap_or_default();
                    if target.starts_with(&dir) {
                        use std::os::unix::fs::PermissionsExt;
                        let mode = std::fs::metadata(fd.path()).map(|m| m.permissions().mode());
                        if let Ok(mode) = mode {
                            assert_eq!(mode & 0o077, 0, "{target:?} mode {mode:o}");
                            saw_unpacked = true;
                        }
                    }
                }
            }
            if saw_unpacked && interrupt {
                unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
                break;
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let status = child.wait().unwrap();
        assert!(
            saw_unpacked,
            "the unpacked file was never seen open (status {status:?})"
        );
        assert_eq!(listing(), 0, "something was left in the unpack directory");
    }
}

/// A linux-arm64 core made under qemu-user names no files: without `--executable` the error
/// says to pass one; the x86-64 build of the same version is refused for being built for
/// another processor, with what to pass; with its own arm64 build every check passes and
/// `info` shows which values came from the arm64 table.
#[test]
fn an_arm64_core_is_read_with_its_own_arm64_executable() {
    let f = v8dump_testkit::fixture_arm64("exact_objects", 24);
    let x64 = fixture("exact_objects", 24);
    let o = v8dump(&[&"info", &f.core]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("lists no mapped files") && err.contains("--executable"),
        "{err}"
    );
    let o = v8dump(&[&"info", &f.core, &"-e", &x64.node]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("is built for x86-64") && err.contains("a process on arm64"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let o = v8dump(&[&"info", &f.core, &"-e", &f.node]);
    assert!(o.status.success(), "{o:?}");
    let text = stdout(&o);
    assert!(
        !text.contains("FAIL") && !text.contains("warning:"),
        "{text}"
    );
    assert!(text.contains("code_alignment=32"), "{text}");
    let o = v8dump(&[&"info", &f.core, &"-e", &f.node, &"--json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(j["partial"].is_null(), "{}", j["partial"]);
    assert!(
        j["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == true),
        "{}",
        j["checks"]
    );
}
