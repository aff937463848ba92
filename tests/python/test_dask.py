"""The distributed path of docs/BATCH.md, for real: its Dask example, read from the document
and run as written (only the archive and executable paths swapped in) on a
`dask.distributed.LocalCluster` of worker processes, over an archive of fixture cores (plain,
gzip-compressed, and one cut short). Every record equals the line `v8dump batch` writes for
the same core (but the seconds it took), and the tasks ran in the workers, not here."""
import json
import os
import subprocess

import pytest

from conftest import ROOT, batch_doc_example, cli, crash_archive as archive, without_timing

distributed = pytest.importorskip("distributed", reason="tests/run.sh installs dask[distributed]")


def test_the_batch_docs_dask_example_on_a_local_cluster(tmp_path):
    a = archive(tmp_path)
    exe_dir = ROOT / "fixtures" / "cache" / "node"
    code = batch_doc_example("Dask")
    assert '"/crashes/**/*.zst"' in code and '"/opt/node-builds"' in code, code
    code = code.replace('"/crashes/**/*.zst"', json.dumps(str(a / "**" / "*"))).replace(
        '"/opt/node-builds"', json.dumps(str(exe_dir)))

    # The oracle: the command line's batch over the same archive.
    out = tmp_path / "batch.jsonl"
    subprocess.run([cli(), "batch", str(a), "-o", str(out), "--exe-dir", str(exe_dir)],
                   check=True, capture_output=True, timeout=600)
    batch = {r["core"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert len(batch) == 4

    from distributed import Client, LocalCluster, get_task_stream

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        worker_pids = set(client.run(os.getpid).values())
        assert len(worker_pids) == 2 and os.getpid() not in worker_pids
        scope = {}
        with get_task_stream(client) as ts:
            exec(compile(code, "docs/BATCH.md (Dask)", "exec"), scope)
        workers = set(client.scheduler_info()["workers"])
    ran_on = {t["worker"] for t in ts.data}
    assert ran_on and ran_on <= workers, (ran_on, workers)
    assert len(ts.data) >= 4, ts.data

    records = scope["records"]
    assert len(records) == 4
    for r in records:
        assert without_timing(r) == without_timing(batch[r["core"]]), r["core"]
    status = {os.path.basename(r["core"]): r["status"] for r in records}
    assert status == {"oom-node22.core": "ok", "leak-node24.core.gz": "ok", "oom-node20.core": "ok",
                      "cut-node26.core": "failed"}
    # The example's grouping: every core in one group, the leak alone in its own.
    groups = scope["by_signature"]
    assert sum(len(v) for v in groups.values()) == 4
    leak = next(r for r in records if r["core"].endswith("leak-node24.core.gz"))
    assert groups[leak["signature"]] == [leak["core"]]
