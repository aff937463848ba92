//! `heapsnapshot -o FILE` read back by an external consumer of the format, memlab's parser
//! (npm @memlab/core, run by fixtures/tools/snapshot_census.js), whose per-constructor counts
//! must equal those of V8's own snapshot of the same process.

use std::collections::HashMap;
use std::process::Command;
use v8dump_testkit::{
    compare_with_snapshot, fixture, memlab, repo_root, snapshot_counts, TempDir, MAJORS,
};

#[test]
fn exported_snapshot_parses_in_memlab_and_matches_v8s_counts() {
    let modules = memlab();
    let script = repo_root().join("fixtures/tools/snapshot_census.js");
    let tmp = TempDir::new("heapsnapshot");
    let mut bad = Vec::new();
    for major in MAJORS {
        for scenario in ["exact_objects", "exact_listener_leak"] {
            let f = fixture(scenario, major);
            let out = tmp.join(&format!("{scenario}-{major}.heapsnapshot"));
            let run = Command::new(env!("CARGO_BIN_EXE_v8dump"))
                .args(["heapsnapshot", f.core.to_str().unwrap(), "-o"])
                .arg(&out)
                .output()
                .expect("run v8dump");
            assert!(
                run.status.success(),
                "{}",
                String::from_utf8_lossy(&run.stderr)
            );
            // The system node runs the parser (any supported version does).
            let parsed = Command::new("node")
                .arg(&script)
                .arg(&out)
                .env("NODE_PATH", &modules)
                .output()
                .expect("run node");
            assert!(
                parsed.status.success(),
                "node{major} {scenario}: memlab could not read the export:\n{}",
                String::from_utf8_lossy(&parsed.stderr)
            );
            let v: serde_json::Value = serde_json::from_slice(&parsed.stdout).expect("JSON");
            assert!(
                v["nodes"].as_u64().unwrap() > 10_000,
                "node{major}: {}",
                v["nodes"]
            );
            assert!(v["edges"].as_u64().unwrap() > v["nodes"].as_u64().unwrap());
            let ours: HashMap<String, (u64, u64)> = v["objects"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, c)| (k.clone(), (c[0].as_u64().unwrap(), c[1].as_u64().unwrap())))
                .collect();
            let oracle = snapshot_counts(&f.snapshot());
            let (b, checked) =
                compare_with_snapshot(&format!("node{major} {scenario}"), &oracle, &ours);
            assert!(
                checked >= 10,
                "node{major} {scenario}: {checked} names checked"
            );
            bad.extend(b);
            let _ = std::fs::remove_file(&out);
        }
    }
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// A length read from a damaged heap is not trusted with memory: the listeners' elements store
/// of the listener leak, its length overwritten with 2^31-1, is exported, inspected and
/// counted under a 6 GiB address-space limit (the claimed length would need 16 GiB), each
/// command ending with an answer or a one-line error, never an abort.
#[test]
fn a_huge_length_in_a_damaged_heap_allocates_nothing_for_it() {
    use std::os::unix::process::CommandExt;
    let f = v8dump_testkit::fixture("listener_leak", 24);
    let core = f.core.to_str().unwrap();
    let top: serde_json::Value = serde_json::from_slice(
        &std::process::Command::new(env!("CARGO_BIN_EXE_v8dump"))
            .args(["top", core, "--json", "--limit", "20"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let rows = top["rows"].as_array().unwrap();
    let store = rows
        .iter()
        .find(|r| r["name"] == "(object elements)")
        .expect("the listeners' store among the largest");
    let array = rows
        .iter()
        .find(|r| r["name"] == "Array")
        .expect("the listeners array");
    let addr = |v: &serde_json::Value| {
        u64::from_str_radix(v["address"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    };
    let length_field = addr(store) - 1 + 8;
    // The file offset of that word, from the core's program headers.
    let cf = elfcore::core::CoreFile::open(&f.core).unwrap();
    let seg = cf
        .segments()
        .iter()
        .find(|s| s.vaddr.0 <= length_field && length_field + 8 <= s.vaddr.0 + s.present)
        .expect("the store is in the core");
    let off = (seg.offset + (length_field - seg.vaddr.0)) as usize;
    let mut bytes = std::fs::read(&f.core).unwrap();
    let old = u64::from_le_bytes(bytes[off..off + 8].try_into().unwrap());
    assert_eq!(old & 0xffff_ffff, 0, "the length is a Smi");
    assert!(old >> 32 >= f.stats["extra"]["listeners"].as_u64().unwrap());
    bytes[off..off + 8].copy_from_slice(&(0x7fff_ffffu64 << 32).to_le_bytes());
    let tmp = v8dump_testkit::TempDir::new("huge-length");
    let damaged = tmp.join("core");
    std::fs::write(&damaged, &bytes).unwrap();
    drop(bytes);
    let snap = tmp.join("out.heapsnapshot");
    let array_addr = format!("{:#x}", addr(array));
    let d = damaged.to_str().unwrap();
    for argv in [
        vec!["heapsnapshot", d, "-o", snap.to_str().unwrap()],
        vec!["inspect", d, &array_addr],
        vec!["findjsobjects", d],
        vec!["top", d],
        vec!["leaks", d],
        vec!["retainers", d, &array_addr],
    ] {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_v8dump"));
        c.args(&argv).arg("-e").arg(&f.node);
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
    }
}
