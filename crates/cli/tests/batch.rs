//! `batch` on an archive of real cores: mixed Node versions, one zstd and one gzip core, one
//! truncated core. Expected: one JSON line per core, the truncated one failed with its reason,
//! the OOM cores of one scenario grouped together, a re-run skipping what is done.

mod common;
use common::v8dump;

use std::io::Write;
use v8dump_testkit::{fixture, TempDir};

#[test]
fn batch_reads_compressed_and_broken_cores_and_groups_one_leak() {
    let tmp = TempDir::new("batch");
    let arch = tmp.join("archive");
    std::fs::create_dir_all(arch.join("nested")).unwrap();
    let oom18 = fixture("oom", 18);
    let oom20 = fixture("oom", 20);
    let oom24 = fixture("oom", 24);
    let leak22 = fixture("listener_leak", 22);
    std::fs::copy(&oom18.core, arch.join("oom18.core")).unwrap();
    // systemd-coredump's format.
    let zst = std::fs::File::create(arch.join("nested/oom20.core.zst")).unwrap();
    let mut enc = zstd::stream::write::Encoder::new(zst, 1).unwrap();
    std::io::copy(&mut std::fs::File::open(&oom20.core).unwrap(), &mut enc).unwrap();
    enc.finish().unwrap();
    let gz = std::fs::File::create(arch.join("oom24.core.gz")).unwrap();
    let mut enc = flate2::write::GzEncoder::new(gz, flate2::Compression::fast());
    std::io::copy(&mut std::fs::File::open(&oom24.core).unwrap(), &mut enc).unwrap();
    enc.finish().unwrap().flush().unwrap();
    std::fs::copy(&leak22.core, arch.join("leak22.core")).unwrap();
    let bytes = std::fs::read(&oom20.core).unwrap();
    std::fs::write(arch.join("truncated.core"), &bytes[..bytes.len() / 3]).unwrap();
    // Not a core: skipped when found in a directory.
    std::fs::write(arch.join("README.txt"), b"crash archive").unwrap();

    let out = tmp.join("out.jsonl");
    let o = v8dump(&[
        "batch",
        arch.to_str().unwrap(),
        "-j",
        "2",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 5, "{lines:#?}");
    let by = |suffix: &str| {
        lines
            .iter()
            .find(|l| l["core"].as_str().unwrap().ends_with(suffix))
            .unwrap_or_else(|| panic!("no line for {suffix}"))
            .clone()
    };
    let t = by("truncated.core");
    assert_eq!(t["status"], "failed");
    assert!(t["error"].as_str().unwrap().contains("truncated"), "{t}");
    for (suffix, f, compression) in [
        ("oom18.core", &oom18, None),
        ("oom20.core.zst", &oom20, Some("zstd")),
        ("oom24.core.gz", &oom24, Some("gzip")),
    ] {
        let l = by(suffix);
        assert_eq!(l["status"], "ok", "{l}");
        assert_eq!(l["compression"].as_str(), compression, "{suffix}");
        assert_eq!(l["node"], f.stats["versions"]["node"], "{suffix}");
        assert_eq!(l["cause"], "oom", "{suffix}");
        assert_eq!(l["top"][0]["name"], f.stats["extra"]["class"], "{suffix}");
        assert!(l["top_retainer"]
            .as_str()
            .unwrap()
            .contains(".leaked global"));
    }
    // The three OOM cores of one scenario share a signature; the listener leak has its own.
    let sig = |s: &str| by(s)["signature"].as_str().unwrap().to_string();
    assert_eq!(sig("oom18.core"), sig("oom20.core.zst"));
    assert_eq!(sig("oom18.core"), sig("oom24.core.gz"));
    assert_ne!(sig("oom18.core"), sig("leak22.core"));
    let summary = String::from_utf8_lossy(&o.stdout);
    assert!(summary.contains("5 cores analyzed (1 failed)"), "{summary}");
    let group = summary
        .lines()
        .find(|l| l.contains("LeakyThing"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_default()
        .to_string();
    assert!(summary.contains("2 groups of crashes"), "{summary}");
    assert!(
        summary
            .lines()
            .any(|l| l.trim_start().starts_with("3  oom | LeakyThing")),
        "{summary}\n{group}"
    );

    // A re-run skips what the output already has; --force redoes it.
    let o = v8dump(&["batch", arch.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("5 already in the output"));
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 5);
}

/// A directory of heap snapshots (one compressed), found by content: one record each, the
/// snapshots of one leak on two Node versions grouped, another leak apart.
#[test]
fn batch_over_heap_snapshots_groups_them_by_leak() {
    let tmp = TempDir::new("batch-snapshots");
    let arch = tmp.join("snaps");
    std::fs::create_dir_all(&arch).unwrap();
    let (leak22, leak26, cache24) = (
        fixture("listener_leak", 22),
        fixture("listener_leak", 26),
        fixture("map_cache", 24),
    );
    std::fs::copy(leak22.snapshot(), arch.join("leak22.heapsnapshot")).unwrap();
    std::fs::copy(cache24.snapshot(), arch.join("cache24.heapsnapshot")).unwrap();
    let gz = std::fs::File::create(arch.join("leak26.heapsnapshot.gz")).unwrap();
    let mut enc = flate2::write::GzEncoder::new(gz, flate2::Compression::fast());
    std::io::copy(
        &mut std::fs::File::open(leak26.snapshot()).unwrap(),
        &mut enc,
    )
    .unwrap();
    enc.finish().unwrap().flush().unwrap();
    let o = v8dump(&["batch", arch.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let by = |suffix: &str| {
        lines
            .iter()
            .find(|l| l["core"].as_str().unwrap().ends_with(suffix))
            .unwrap_or_else(|| panic!("no record for {suffix}"))
            .clone()
    };
    for l in &lines {
        assert_eq!(l["status"], "ok", "{l}");
    }
    assert_eq!(by("leak26.heapsnapshot.gz")["compression"], "gzip");
    let sig = |s: &str| by(s)["signature"].as_str().unwrap().to_string();
    assert_eq!(sig("leak22.heapsnapshot"), sig("leak26.heapsnapshot.gz"));
    assert!(
        sig("leak22.heapsnapshot").ends_with("realtimeService._events['data-update']"),
        "{}",
        sig("leak22.heapsnapshot")
    );
    assert!(sig("cache24.heapsnapshot").ends_with("responseCache"));
    assert!(by("leak22.heapsnapshot")["top_retainer"]
        .as_str()
        .unwrap()
        .ends_with(".realtimeService global (a global object)"));
}
