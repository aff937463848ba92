"""docs/BATCH.md's Ray example, read from the document and run as written (with `paths` set to
an archive of fixture cores) in a local Ray instance: the tasks run in Ray's worker processes,
and every record equals the line `v8dump batch` writes for the same core (but `seconds`)."""
import json
import os
import subprocess

import pytest

from conftest import batch_doc_example, cli, crash_archive as archive, without_timing

ray = pytest.importorskip("ray", reason="tests/run.sh installs ray")


def test_the_batch_docs_ray_example_in_a_local_ray(tmp_path):
    a = archive(tmp_path)
    paths = sorted(str(p) for p in a.iterdir())
    out = tmp_path / "batch.jsonl"
    subprocess.run([cli(), "batch", str(a), "-o", str(out)], check=True, capture_output=True, timeout=600)
    batch = {r["core"]: r for r in map(json.loads, out.read_text().splitlines())}

    code = batch_doc_example("Ray")
    assert "ray.init()" in code
    # This machine's size, and no dashboard; the rest as the page has it.
    code = code.replace("ray.init()", "ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)")
    scope = {"paths": paths}
    try:
        exec(compile(code, "docs/BATCH.md (Ray)", "exec"), scope)
        here = os.getpid()
        pids = ray.get([ray.remote(lambda: os.getpid()).remote() for _ in range(2)])
    finally:
        ray.shutdown()
    assert here not in pids
    records = scope["records"]
    assert [r["core"] for r in records] == paths
    for r in records:
        assert without_timing(r) == without_timing(batch[r["core"]]), r["core"]
    assert sorted(r["status"] for r in records) == ["failed", "ok", "ok", "ok"]
