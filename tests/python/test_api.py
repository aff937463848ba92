"""The Python API (`import v8dump`) on real cores of every supported Node version, with no lldb
involved: the histogram as data equals V8's own snapshot and the CLI's JSON; the graph,
inspect, bt, nodeinfo and report answer as the scenarios' sources say."""
import pytest

import v8dump
from conftest import ARM64_MAJORS, MAJORS, cli_json, cli_text, fixture, mismatches, snapshot_counts


@pytest.mark.parametrize("major", MAJORS)
def test_histogram_matches_v8_and_the_cli(major):
    d, _, _ = fixture("exact_listener_leak", major)
    core = v8dump.open(str(d / "core"))
    census = core.histogram()
    rows = census["rows"]
    assert rows and all(set(r) >= {"name", "count", "size"} for r in rows)
    ours = {r["name"]: (r["count"], r["size"]) for r in rows}
    assert mismatches(snapshot_counts(d / "heap.heapsnapshot"), ours) == []
    assert census == cli_json("findjsobjects", str(d / "core"), "--json")
    # Sorted by total size, largest first.
    assert [r["size"] for r in rows] == sorted((r["size"] for r in rows), reverse=True)


@pytest.mark.parametrize("major", ARM64_MAJORS)
def test_arm64_cores_histogram_matches_v8_and_the_cli(major):
    """A linux-arm64 core made under qemu-user (no NT_FILE: the executable is given)."""
    d, run, _ = fixture("exact_listener_leak", major, arch="arm64")
    core = v8dump.open(str(d / "core"), executable=run["node_path"])
    census = core.histogram()
    ours = {r["name"]: (r["count"], r["size"]) for r in census["rows"]}
    assert mismatches(snapshot_counts(d / "heap.heapsnapshot"), ours) == []
    assert census == cli_json("findjsobjects", str(d / "core"), "-e", run["node_path"], "--json")


@pytest.mark.parametrize("major", MAJORS)
def test_graph_inspect_and_crash_context(major):
    d, run, stats = fixture("listener_leak", major)
    core = v8dump.open(str(d / "core"), executable=run["node_path"])
    sessions = core.instances("UserSession")["instances"]
    assert len(sessions) == stats["extra"]["UserSession"]
    s = sessions[len(sessions) // 2]["address"]
    value = core.inspect(s)
    sid = int(next(e for e in value["entries"] if e["key"] == "id")["value"]["text"])
    assert any(r["edge"] == "session" and r["kind"] == "context" for r in core.findrefs(s)["refs"])
    path = core.retainers(s)["paths"][0]
    assert path["root_kind"]["type"] == "global"
    assert path["chain"].endswith(
        "<- [%d] Array <- .data-update Object <- ._events RealtimeService <- .%s global" % (sid, stats["extra"]["global"])
    )
    assert core.findrefs_property("remotePort")["total"] == stats["extra"]["FakeSocket"]
    refs = core.findrefs_string("user-%d" % sid)["refs"]
    assert [r["edge"] for r in refs if r["kind"] == "property"] == [".userId"]
    info = core.nodeinfo()
    assert info["argv"] == stats["argv"] and info["exec_argv"] == stats["execArgv"]
    assert core.bt()["threads"][0]["frames"], "no frames"
    assert core.report()["cause"]["kind"] == "abort"
    assert core.top(5)["rows"][0]["retained"] > 0


@pytest.mark.parametrize("major", [20, 24])
def test_every_answer_is_the_clis_json_and_text(major, tmp_path):
    """Command by command, the Python answer equals `v8dump <command> --json` on the same
    core, and with text=True the CLI's text."""
    d, _, _ = fixture("listener_leak", major)
    c = str(d / "core")
    core = v8dump.open(c)
    s = core.instances("UserSession", limit=1, skip=100)["instances"][0]["address"]
    other, _, _ = fixture("diff_small", major)
    snap = str(tmp_path / "x.heapsnapshot")
    js = [f["js"] for f in core.bt()["threads"][0]["frames"] if f.get("js")]
    fn = hex(js[0]["function"])
    pairs = [
        (lambda **k: core.info(**k), ["info", c]),
        (lambda **k: core.info(pages=True, **k), ["info", c, "--pages"]),
        (lambda **k: core.histogram(**k), ["findjsobjects", c]),
        (lambda **k: core.histogram(all=True, detailed=True, **k), ["findjsobjects", c, "--all", "-d"]),
        (lambda **k: core.histogram(retained=True, top=5, **k), ["findjsobjects", c, "--retained", "--top", "5"]),
        (lambda **k: core.instances("UserSession", limit=5, skip=2, **k),
         ["findjsinstances", c, "UserSession", "--limit", "5", "--skip", "2"]),
        (lambda **k: core.inspect(s, depth=2, **k), ["inspect", c, s, "--depth", "2"]),
        (lambda **k: core.findrefs(s, limit=100, **k), ["findrefs", c, s]),
        (lambda **k: core.findrefs_property("remotePort", limit=100, **k), ["findrefs", c, "-n", "remotePort"]),
        (lambda **k: core.findrefs_string("data-update", limit=100, **k), ["findrefs", c, "-s", "data-update"]),
        (lambda **k: core.retainers(s, paths=2, **k), ["retainers", c, s, "--paths", "2"]),
        (lambda **k: core.top(10, **k), ["top", c, "--limit", "10"]),
        (lambda **k: core.leaks(**k), ["leaks", c]),
        (lambda **k: core.leaks(top=2, threshold=0.05, min_size="512K", **k),
         ["leaks", c, "--top", "2", "--threshold", "5", "--min-size", "512K"]),
        (lambda **k: core.bt(**k), ["bt", c]),
        (lambda **k: core.bt(all_threads=True, args=True, **k), ["bt", c, "--all-threads", "--args"]),
        (lambda **k: core.nodeinfo(**k), ["nodeinfo", c]),
        (lambda **k: core.report(**k), ["report", c]),
        (lambda **k: core.report(redact=True, **k), ["report", c, "--redact"]),
        (lambda **k: core.handles(**k), ["handles", c]),
        (lambda **k: core.memory(**k), ["memory", c]),
        (lambda **k: core.source(fn, context=1, **k), ["source", c, fn, "-C", "1"]),
        (lambda **k: v8dump.diff(str(other / "core"), c, **k), ["diff", str(other / "core"), c]),
    ]
    for call, argv in pairs:
        assert call() == cli_json(*argv, "--json"), argv
        assert call(text=True) == cli_text(*argv), argv
    assert core.heapsnapshot(snap) == cli_json("heapsnapshot", c, "-o", snap, "--json")
    assert core.retained_tree() == cli_json("flamegraph", c, "--json")
    assert core.retained_tree(min_share=1, text=True) == cli_text("flamegraph", c, "--min-share", "1")
    for fmt, name in [("svg", "t.svg"), ("pprof", "t.pb.gz"), ("folded", "t.txt"), ("json", "t.json")]:
        out = str(tmp_path / name)
        ours = core.flamegraph(out, format=fmt)
        mine = open(out, "rb").read()
        assert ours == cli_json("flamegraph", c, "-o", out, "--format", fmt, "--json"), fmt
        assert open(out, "rb").read() == mine, fmt
    page = str(tmp_path / "report.html")
    assert core.report_html(page) == cli_json("report", c, "--html", page, "--json")


def test_errors_are_python_exceptions(tmp_path):
    bad = tmp_path / "not-a-core"
    bad.write_bytes(b"\x7fELF" + b"\0" * 60)
    with pytest.raises(v8dump.V8DumpError):
        v8dump.open(str(bad))
    with pytest.raises(v8dump.V8DumpError, match="not an ELF file"):
        v8dump.open(__file__)
    d, _, _ = fixture("basic", 20)
    core = v8dump.open(str(d / "core"))
    with pytest.raises(v8dump.V8DumpError):
        core.findrefs("0x10")
    with pytest.raises(v8dump.V8DumpError):
        core.inspect("not an address")


def test_analyze_gives_one_record_per_core_even_broken(tmp_path):
    import gzip
    import shutil

    d, _, stats = fixture("oom", 22)
    gz = tmp_path / "oom22.core.gz"
    with open(d / "core", "rb") as src, gzip.open(gz, "wb", compresslevel=1) as dst:
        shutil.copyfileobj(src, dst)
    rec = v8dump.analyze(str(gz))
    assert rec["status"] == "ok" and rec["compression"] == "gzip"
    assert rec["node"] == stats["versions"]["node"] and rec["cause"] == "oom"
    assert rec["top"][0]["name"] == stats["extra"]["class"]
    cut = tmp_path / "cut.core"
    cut.write_bytes((d / "core").read_bytes()[:4096 * 16])
    bad = v8dump.analyze(str(cut))
    assert bad["status"] == "failed" and "truncated" in bad["error"]


@pytest.mark.parametrize("major", MAJORS)
def test_heap_snapshots_answer_as_the_cli(major, tmp_path):
    d, _, stats = fixture("listener_leak", major)
    snap = v8dump.open_snapshot(str(d / "heap.heapsnapshot"))
    census = snap.histogram()
    ours = {r["name"]: (r["count"], r["size"]) for r in census["rows"]}
    # The snapshot's own census, read here from its arrays: every name exactly.
    counts = snapshot_counts(d / "heap.heapsnapshot")
    assert {k: (c[0], c[1]) for k, c in counts.items()} == ours
    assert census == cli_json("findjsobjects", str(d / "heap.heapsnapshot"), "--json")
    sessions = snap.instances("UserSession")["instances"]
    assert len(sessions) == stats["extra"]["UserSession"]
    path = snap.retainers(sessions[0]["address"])["paths"][0]
    assert path["chain"].endswith("._events RealtimeService <- .realtimeService global")
    suspect = snap.leaks()["suspects"][0]
    assert suspect["kind"] == "event_listeners" and suspect["children"] == stats["extra"]["listeners"]
    assert snap.leaks(text=True) == cli_text("leaks", str(d / "heap.heapsnapshot"))
    assert snap.retained_tree(text=True) == cli_text("flamegraph", str(d / "heap.heapsnapshot"))
    page = str(tmp_path / "report.html")
    assert snap.report_html(page) == cli_json("report", str(d / "heap.heapsnapshot"), "--html", page, "--json")
    out = str(tmp_path / "t.svg")
    assert snap.flamegraph(out) == cli_json("flamegraph", str(d / "heap.heapsnapshot"), "-o", out, "--json")
