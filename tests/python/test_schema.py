"""Every `--json` shape the CLI prints validates against its committed JSON Schema in
docs/schema/ (draft 2020-12, generated from the answer types; crates/v8core/tests/schema.rs
keeps the files current): every command on a real core of the oldest and the newest major, the
same commands on a heap snapshot, and batch's lines. A field printed with the wrong type, or a
required one missing, fails here."""
import json
import subprocess

import pytest

from conftest import ROOT, cli, fixture

jsonschema = pytest.importorskip("jsonschema", reason="tests/run.sh installs jsonschema")

SCHEMAS = ROOT / "docs" / "schema"


def validator(name):
    schema = json.loads((SCHEMAS / (name + ".json")).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def out(*args):
    r = subprocess.run([cli()] + [str(a) for a in args], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, (args, r.stderr)
    return r.stdout


def check(name, *args):
    doc = json.loads(out(name, *args, "--json"))
    errors = sorted(validator(name).iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "%s %s: %s" % (name, args, "\n".join("%s: %s" % (list(e.path), e.message) for e in errors[:5]))
    assert doc.get("schema_version") == 1
    return doc


@pytest.mark.parametrize("major", [18, 26])
def test_every_commands_json_on_a_core_validates(major, tmp_path):
    d, _, _ = fixture("listener_leak", major)
    core = d / "core"
    check("info", core)
    check("findjsobjects", core)
    check("findjsobjects", core, "--retained", "--top", "5")
    inst = check("findjsinstances", core, "UserSession", "--limit", "3")
    addr = inst["instances"][0]["address"]
    check("inspect", core, addr)
    check("memory", core)
    check("handles", core)
    bt = check("bt", core)
    fn = next(f["js"]["function"] for f in bt["threads"][0]["frames"] if f.get("js"))
    check("source", core, hex(fn))
    check("findrefs", core, addr)
    check("findrefs", core, "-n", "userId")
    check("findrefs", core, "-s", "remotePort")
    check("retainers", core, addr)
    check("top", core, "--limit", "5")
    check("flamegraph", core)
    check("flamegraph", core, "-o", tmp_path / "f.svg")
    check("leaks", core)
    check("heapsnapshot", core, "--output", tmp_path / "h.heapsnapshot")
    check("nodeinfo", core)
    check("report", core)
    check("report", core, "--html", tmp_path / "r.html")
    small, _, _ = fixture("diff_small", major)
    large, _, _ = fixture("diff_large", major)
    check("diff", small / "core", large / "core")


def test_a_heap_snapshots_json_validates(tmp_path):
    d, _, _ = fixture("listener_leak", 24)
    snap = d / "heap.heapsnapshot"
    check("info", snap)
    check("findjsobjects", snap)
    inst = check("findjsinstances", snap, "UserSession", "--limit", "2")
    check("retainers", snap, inst["instances"][0]["address"])
    check("leaks", snap)
    check("top", snap)
    check("report", snap)


def test_batch_lines_validate(tmp_path):
    d, _, _ = fixture("oom", 22)
    cut = tmp_path / "cut.core"
    cut.write_bytes((d / "core").read_bytes()[: 1 << 16])
    lines = out("batch", d / "core", cut).splitlines()
    v = validator("batch-record")
    records = [json.loads(l) for l in lines if l.startswith("{")]
    assert {r["status"] for r in records} == {"ok", "failed"}
    for r in records:
        errors = list(v.iter_errors(r))
        assert not errors, (r["core"], [e.message for e in errors[:5]])
