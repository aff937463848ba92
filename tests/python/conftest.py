"""Shared helpers for the Python API and lldb tests (run by tests/run.sh).

Cores come from fixtures/make_cores.py (made if missing); the oracle is V8's own heap snapshot,
parsed here independently of v8dump, and the `v8dump` CLI's JSON output.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("V8DUMP_FIXTURE_CACHE") or ROOT / "fixtures" / "cache")
MAJORS = [18, 20, 22, 24, 25, 26]
# The linux-arm64 builds whose cores make_cores.py makes under qemu-user.
ARM64_MAJORS = [22, 24, 26]


def fixture(scenario, major, arch="x64"):
    """(core dir, run.json, stats.json) of a fixture core, making it if the cache lacks it."""
    d = CACHE / "cores" / scenario / (("node%d" if arch == "x64" else "arm64-node%d") % major)
    if not (d / "run.json").is_file():
        subprocess.run([sys.executable, str(ROOT / "fixtures" / "make_cores.py"), "--versions", str(major),
                        "--scenarios", scenario, "--arch", arch], check=True)
    return d, json.loads((d / "run.json").read_text()), json.loads((d / "stats.json").read_text())


def cli():
    """The v8dump binary tests/run.sh built."""
    for p in (ROOT / "target" / "release" / "v8dump", ROOT / "target" / "debug" / "v8dump"):
        if p.is_file():
            return str(p)
    pytest.fail("no target/release/v8dump: run tests/run.sh (it builds it)")


def cli_json(*args):
    out = subprocess.run([cli()] + list(args), capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def cli_text(*args):
    return subprocess.run([cli()] + list(args), capture_output=True, text=True, check=True).stdout


def snapshot_counts(path):
    """{name: (count, size, temp_count, temp_size)} for nodes of type "object" of a V8 heap
    snapshot; temp_* are the objects that only "(Handle scope)"/"(Stack roots)" keep alive
    (stack temporaries of the code that took the snapshot, which a core may have lost)."""
    s = json.loads(Path(path).read_text())
    m = s["snapshot"]["meta"]
    nf, ef = m["node_fields"], m["edge_fields"]
    ntypes, etypes = m["node_types"][0], m["edge_types"][0]
    k, ke = len(nf), len(ef)
    ti, ni, si, eci = nf.index("type"), nf.index("name"), nf.index("self_size"), nf.index("edge_count")
    eti, eto = ef.index("type"), ef.index("to_node")
    nodes, edges, strings = s["nodes"], s["edges"], s["strings"]
    n = len(nodes) // k
    first = [0] * (n + 1)
    for i in range(n):
        first[i + 1] = first[i] + nodes[i * k + eci] * ke
    other = [False] * n
    other[0] = True
    todo = [0]
    while todo:
        i = todo.pop()
        if ntypes[nodes[i * k + ti]] == "synthetic" and strings[nodes[i * k + ni]] in ("(Handle scope)", "(Stack roots)"):
            continue
        for e in range(first[i], first[i + 1], ke):
            to = edges[e + eto] // k
            if etypes[edges[e + eti]] != "weak" and not other[to]:
                other[to] = True
                todo.append(to)
    out = {}
    for i in range(n):
        if ntypes[nodes[i * k + ti]] != "object":
            continue
        name, size = strings[nodes[i * k + ni]], nodes[i * k + si]
        c = out.setdefault(name, [0, 0, 0, 0])
        c[0] += 1
        c[1] += size
        if not other[i]:
            c[2] += 1
            c[3] += size
    return out


def mismatches(oracle, ours):
    """Names the snapshot lists at least 10 times whose (count, size) differ from `ours`,
    beyond the snapshot's stack temporaries of that name."""
    bad = []
    for name, (count, size, tc, ts) in oracle.items():
        if count < 10:
            continue
        got = ours.get(name, (0, 0))
        if tuple(got) == (count, size):
            continue
        if got[0] <= count and got[1] <= size and count - got[0] <= tc and size - got[1] <= ts:
            continue
        bad.append("%s: snapshot %d/%d, ours %d/%d" % (name, count, size, got[0], got[1]))
    return bad


def crash_archive(tmp_path):
    """A directory of fixture cores as a crash archive holds them: plain, gzip-compressed,
    and one cut short (tests/python/test_dask.py, test_ray.py)."""
    import gzip
    import shutil

    a = tmp_path / "crashes"
    a.mkdir()
    d, _, _ = fixture("oom", 22)
    shutil.copy(d / "core", a / "oom-node22.core")
    d, _, _ = fixture("listener_leak", 24)
    with open(d / "core", "rb") as src, gzip.open(a / "leak-node24.core.gz", "wb", compresslevel=1) as dst:
        shutil.copyfileobj(src, dst)
    d, _, _ = fixture("oom", 20)
    shutil.copy(d / "core", a / "oom-node20.core")
    d, _, _ = fixture("basic", 26)
    (a / "cut-node26.core").write_bytes((d / "core").read_bytes()[: 1 << 16])
    return a


def without_timing(r):
    """A batch record but the time it took."""
    return {k: v for k, v in r.items() if k != "seconds"}


def batch_doc_example(engine):
    """The Python example of docs/BATCH.md under "With <engine>:", as written."""
    text = (ROOT / "docs" / "BATCH.md").read_text()
    m = re.search(r"With %s:\s*```python\n(.*?)```" % re.escape(engine), text, re.S)
    assert m, "docs/BATCH.md has no %s example" % engine
    return m.group(1)
