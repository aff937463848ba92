"""The Python API (`import v8dump`) on real cores of every supported Node version, with no lldb
involved: the histogram as data equals V8's own snapshot and the CLI's JSON; the graph,
inspect, bt, nodeinfo and report answer as the scenarios' sources say."""
import pytest

import v8dump
from conftest import MAJORS, cli_json, fixture, mismatches, snapshot_counts


@pytest.mark.parametrize("major", MAJORS)
def test_histogram_matches_v8_and_the_cli(major):
    d, _, _ = fixture("exact_listener_leak", major)
    core = v8dump.open(str(d / "core"))
    rows = core.histogram()
    assert rows and all(set(r) >= {"name", "count", "size"} for r in rows)
    ours = {r["name"]: (r["count"], r["size"]) for r in rows}
    assert mismatches(snapshot_counts(d / "heap.heapsnapshot"), ours) == []
    assert rows == cli_json("findjsobjects", str(d / "core"), "--json")
    # Sorted by total size, largest first.
    assert [r["size"] for r in rows] == sorted((r["size"] for r in rows), reverse=True)


@pytest.mark.parametrize("major", MAJORS)
def test_graph_inspect_and_crash_context(major):
    d, run, stats = fixture("listener_leak", major)
    core = v8dump.open(str(d / "core"), executable=run["node_path"])
    sessions = core.instances("UserSession")
    assert len(sessions) == stats["extra"]["UserSession"]
    s = sessions[len(sessions) // 2]["address"]
    value = core.inspect(s)
    sid = int(next(e for e in value["entries"] if e["key"] == "id")["value"]["text"])
    assert any(r["edge"] == "session" and r["kind"] == "context" for r in core.findrefs(s))
    path = core.retainers(s)[0]
    assert path["root_kind"]["type"] == "global"
    assert path["chain"].endswith(
        "<- [%d] Array <- .data-update Object <- ._events RealtimeService <- .%s global" % (sid, stats["extra"]["global"])
    )
    assert len(core.findrefs_property("remotePort")) == stats["extra"]["FakeSocket"]
    assert [r["edge"] for r in core.findrefs_string("user-%d" % sid) if r["kind"] == "property"] == [".userId"]
    info = core.nodeinfo()
    assert info["argv"] == stats["argv"] and info["exec_argv"] == stats["execArgv"]
    assert core.bt()["frames"], "no frames"
    assert core.report()["cause"]["kind"] == "abort"
    assert core.top(5)[0]["retained"] > 0


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
