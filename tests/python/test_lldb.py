"""The lldb plugin in a real lldb (`lldb-19 --batch`) on fixture cores of every version: the
`v8` commands' output agrees with the Python API (itself checked against V8's snapshot) and
with the listener leak's source; and on live node processes of every version, attached and
killed by the test."""
import os
import re
import shutil
import subprocess

import pytest

import v8dump
from conftest import ARM64_MAJORS, MAJORS, ROOT, cli_text, fixture, mismatches, snapshot_counts

LLDB = shutil.which("lldb-19") or shutil.which("lldb")
# The plugin as users load it: by module name, from the installed package.
PLUGIN = "v8dump.lldb"
# The path an older ~/.lldbinit names.
OLD_PLUGIN_PATH = ROOT / "lldb-plugin" / "v8dump_lldb.py"


def lldb(node, core, *commands, plugin=PLUGIN):
    if not LLDB:
        pytest.fail("lldb-19 is not installed (apt-get install lldb-19 python3-lldb-19)")
    argv = [LLDB, "--batch", "-x", "-o", "command script import %s" % plugin]
    for c in commands:
        argv += ["-o", c]
    argv += [node, "-c", core]
    env = dict(os.environ)
    # lldb's own Python finds the module where tests/run.sh installed it.
    env["PYTHONPATH"] = os.pathsep.join(p for p in [os.path.dirname(os.path.dirname(v8dump.__file__)), env.get("PYTHONPATH")] if p)
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "error:" not in out.stdout + out.stderr, out.stdout + out.stderr
    return out.stdout


def section(out, command):
    """The output of one `(lldb) command` of a batch run."""
    parts = re.split(r"^\(lldb\) ", out, flags=re.M)
    for p in parts:
        if p.startswith(command):
            return p[len(command):]
    raise AssertionError("no output for %r in:\n%s" % (command, out))


@pytest.mark.parametrize("major", MAJORS)
def test_v8_commands_in_lldb(major):
    d, run, stats = fixture("exact_listener_leak", major)
    core = str(d / "core")
    api = v8dump.open(core)
    s = api.instances("UserSession")["instances"][7]["address"]
    out = lldb(run["node_realpath"], core, "v8 findjsobjects", "findjsinstances UserSession -n 3",
               "v8 inspect %s" % s, "v8 findrefs %s" % s, "v8 retainers %s" % s, "v8 bt")
    # The histogram: the same rows as the API (and so the CLI), and V8's snapshot.
    rows = {}
    for line in section(out, "v8 findjsobjects").splitlines():
        m = re.match(r"^\s*(\d+)\s+[\d.]+ (?:B|KiB|MiB|GiB)\s+(.+)$", line)
        if m:
            rows[m.group(2)] = int(m.group(1))
    hist = api.histogram()["rows"]
    assert rows == {r["name"]: r["count"] for r in hist}
    assert mismatches(snapshot_counts(d / "heap.heapsnapshot"), {r["name"]: (r["count"], r["size"]) for r in hist}) == []
    assert section(out, "findjsinstances UserSession -n 3").count("<UserSession>") == 3
    assert "userId:" in section(out, "v8 inspect %s" % s)
    assert re.search(r"session\s+context", section(out, "v8 findrefs %s" % s))
    ret = section(out, "v8 retainers %s" % s)
    assert "._events RealtimeService <- .%s global" % stats["extra"]["global"] in ret
    bt = section(out, "v8 bt")
    assert "node::Start" in bt and "EntryFrame" in bt


def test_the_old_plugin_path_loads_the_same_commands():
    """An ~/.lldbinit line written before the plugin moved into the package still works."""
    d, run, _ = fixture("exact_listener_leak", 20)
    core = str(d / "core")
    old = lldb(run["node_realpath"], core, "v8 findjsobjects", "findjsobjects", plugin=OLD_PLUGIN_PATH)
    new = lldb(run["node_realpath"], core, "v8 findjsobjects")
    assert "UserSession" in section(new, "v8 findjsobjects")
    assert section(old, "v8 findjsobjects") == section(new, "v8 findjsobjects")
    assert section(old, "findjsobjects") == section(new, "v8 findjsobjects")


@pytest.mark.parametrize("major", [20, 24])
def test_lldb_prints_exactly_the_clis_text(major, tmp_path):
    """One renderer: every `v8` command's output in lldb is the `v8dump` command's text."""
    d, run, _ = fixture("listener_leak", major)
    core = str(d / "core")
    s = v8dump.open(core).instances("UserSession", limit=1, skip=50)["instances"][0]["address"]
    pairs = [
        ("v8 findjsobjects", ["findjsobjects", core]),
        ("v8 findjsobjects -d -t 5", ["findjsobjects", core, "-d", "--top", "5"]),
        ("findjsinstances UserSession -n 3 -s 2", ["findjsinstances", core, "UserSession", "--limit", "3", "--skip", "2"]),
        ("v8 inspect %s" % s, ["inspect", core, s]),
        ("v8 findrefs %s" % s, ["findrefs", core, s]),
        ("v8 findrefs -n remotePort", ["findrefs", core, "-n", "remotePort"]),
        ("v8 retainers %s" % s, ["retainers", core, s]),
        ("v8 top --limit 5", ["top", core, "--limit", "5"]),
        ("v8 leaks --top 3", ["leaks", core, "--top", "3"]),
        ("v8 bt", ["bt", core]),
        ("v8 nodeinfo", ["nodeinfo", core]),
        ("v8 report", ["report", core]),
        ("v8 report --redact", ["report", core, "--redact"]),
        ("v8 handles", ["handles", core]),
        ("v8 memory", ["memory", core]),
        ("v8 getactivehandles", ["handles", core]),
        ("v8 flamegraph --min-share 2", ["flamegraph", core, "--min-share", "2"]),
        ("v8 flamegraph -o %s" % (tmp_path / "t.pb.gz"), ["flamegraph", core, "-o", str(tmp_path / "t.pb.gz")]),
        ("v8 report --html %s" % (tmp_path / "r.html"), ["report", core, "--html", str(tmp_path / "r.html")]),
    ]
    out = lldb(run["node_realpath"], core, *[c for c, _ in pairs])
    for command, argv in pairs:
        assert section(out, command).strip("\n") == cli_text(*argv).rstrip("\n"), command


@pytest.mark.parametrize("major", [ARM64_MAJORS[0], ARM64_MAJORS[-1]])
def test_lldb_on_an_arm64_core_prints_the_clis_text(major):
    """lldb-19 opens the aarch64 core qemu-user wrote; the plugin answers as the CLI does."""
    d, run, _ = fixture("exact_listener_leak", major, arch="arm64")
    core, node = str(d / "core"), run["node_path"]
    pairs = [
        ("v8 findjsobjects", ["findjsobjects", core, "-e", node]),
        ("v8 bt", ["bt", core, "-e", node]),
        ("v8 leaks --top 1", ["leaks", core, "-e", node, "--top", "1"]),
    ]
    out = lldb(node, core, *[c for c, _ in pairs])
    for command, argv in pairs:
        assert section(out, command).strip("\n") == cli_text(*argv).rstrip("\n"), command


@pytest.mark.parametrize("major", MAJORS)
def test_v8_commands_on_a_live_process(major):
    # A node process started here, attached by lldb (which stops it), then killed.
    _, run, _ = fixture("basic", major)
    node = run["node_realpath"]
    script = ROOT / "tests" / "python" / "live.js"
    child = subprocess.Popen([node, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        ready = child.stdout.readline().split()
        assert ready[0] == "ready", ready
        count = int(ready[1])
        env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(v8dump.__file__)))
        cmds = ["process attach -p %d" % child.pid, "command script import %s" % PLUGIN,
                "v8 findjsobjects", "findjsinstances LiveThing -n 1", "v8 findrefs -n name --limit 100000", "v8 report",
                "v8 bt", "process kill"]
        argv = [LLDB, "--batch"]
        for c in cmds:
            argv += ["-o", c]
        out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300).stdout
        rows = section(out, "v8 findjsobjects")
        assert re.search(r"^\s*%d\s+.*\sLiveThing$" % count, rows, re.M), rows
        assert section(out, "findjsinstances LiveThing -n 1").count("<LiveThing>") == 1
        assert section(out, "v8 findrefs -n name --limit 100000").count("LiveThing") == count
        assert re.search(r"LiveThing <- \[\d+\] Array <- \.things global", section(out, "v8 report"))
        assert "node::Start" in section(out, "v8 bt")
    finally:
        child.kill()
        child.wait()


@pytest.mark.parametrize("major", MAJORS)
def test_llnode_frame_source_expressions_and_print(major):
    """llnode's `v8 source list [-l N]` on the selected frame, `v8 inspect -s`, `v8 print`, and
    addresses given as lldb expressions, on the llnode.js core."""
    d, run, stats = fixture("llnode", major)
    core = str(d / "core")
    api = v8dump.open(core)
    frames = api.bt(args=True)["threads"][0]["frames"]
    a2 = next(f for f in frames if f.get("js", {}).get("name") == "a2")
    step = next(f for f in frames if f.get("js", {}).get("name") == "Runner.step")
    lines = (ROOT / "fixtures" / "scenarios" / "llnode.js").read_text().splitlines()
    a2_line = next(i for i, l in enumerate(lines, 1) if l.startswith("function a2("))
    select = ("script t = lldb.debugger.GetSelectedTarget().GetProcess().GetSelectedThread(); "
              "t.SetSelectedFrame([f.GetFrameID() for f in t.frames if f.GetFP() == %d][0])" % a2["fp"])
    fn = step["js"]["function"]
    fn = fn if isinstance(fn, str) else hex(fn)
    expr = "*(void**)(%d + 16)" % step["fp"]
    out = lldb(run["node_realpath"], core, select, "v8 source list", "v8 source list -l 2",
               "v8 inspect -s %s" % fn, "v8 print %s" % expr,
               "findjsinstances Object -n 2", "v8 findjsinstances Object -n 2")
    listed = section(out, "v8 source list\n")
    assert "%d > %s" % (a2_line, lines[a2_line - 1]) in listed, listed
    # a2 is one line long: -l 2 leaves nothing of it.
    assert lines[a2_line - 1] not in section(out, "v8 source list -l 2"), out
    shown = section(out, "v8 inspect -s %s" % fn)
    assert "source:" in shown and "Runner.prototype.step = function () { return Tools.hop(); };" in shown, shown
    assert "<Runner>" in section(out, "v8 print %s" % expr), out
    # llnode's pager: the same command again shows the next page.
    total = api.instances("Object")["total"]
    assert "1-2 of %d Object instances" % total in section(out, "findjsinstances Object -n 2"), out
    assert "3-4 of %d Object instances" % total in section(out, "v8 findjsinstances Object -n 2"), out
