#!/usr/bin/env python3
"""The heap-snapshot benchmark: v8dump against memlab and a plain JSON.parse reader, on the
same .heapsnapshot files, as ratios measured in one run.

    python3 bench/snapshots.py [--sessions 900000,2400000] [--export] [--skip-others]

1. Writes snapshots with node itself (bench/snapshot_heap.js: N `Session` objects, each with a
   string, a two-element array, a float and, for one in eight, a nested object), one per
   `--sessions` count, into the git-ignored fixtures/cache/bench/.
2. With --export, also exports the benchmark core (fixtures/scenarios/bench_heap.js, made by
   bench/bench.py or fixtures/make_cores.py; V8DUMP_BENCH_SESSIONS sets its size) with
   `v8dump heapsnapshot`: the way to a file above DevTools' 4 GB limit in a minute.
3. On each file, with /usr/bin/time (wall time, peak RSS): `cat FILE` (the file read once from
   the page cache, after a first warming read), `v8dump findjsobjects`, `v8dump top` (the
   dominator tree), node's `JSON.parse` of the whole file (fixtures/tools/json_parse_census.js)
   and memlab's parser (fixtures/tools/snapshot_census.js), each with a time limit.
4. Checks that every reader that finished counts exactly the Sessions the file holds, and
   prints a Markdown table for docs/PERFORMANCE.md; raw figures go to
   fixtures/cache/bench/snapshots.json.

Python 3 standard library only. Not part of the tests: timings are not assertions.
"""
import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("V8DUMP_FIXTURE_CACHE") or ROOT / "fixtures" / "cache")
OUT = CACHE / "bench"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def timed(argv, timeout, env=None):
    """Run argv under /usr/bin/time: (seconds, peak RSS KiB, stdout, stderr, returncode)."""
    cmd = ["/usr/bin/time", "-f", "@@bench %e %M"] + argv
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return None, None, "", "timed out after %d s" % timeout, -1
    m = re.search(r"@@bench ([0-9.]+) ([0-9]+)", p.stderr)
    if not m:
        return None, None, p.stdout, p.stderr, p.returncode
    return float(m.group(1)), int(m.group(2)), p.stdout, p.stderr, p.returncode


def v8dump():
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "v8dump"], cwd=ROOT, check=True)
    return str(ROOT / "target" / "release" / "v8dump")


def memlab_modules():
    d = CACHE / "memlab"
    if not (d / "node_modules" / "@memlab" / "core" / "package.json").is_file():
        d.mkdir(parents=True, exist_ok=True)
        (d / "package.json").write_text('{"name": "v8dump-memlab", "private": true}\n')
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "@memlab/core@2.0.5"],
                       cwd=d, check=True, env=dict(os.environ, PUPPETEER_SKIP_DOWNLOAD="1"))
    return str(d / "node_modules")


def node_snapshot(n):
    path = OUT / ("node-%d.heapsnapshot" % n)
    if not path.is_file():
        log("writing %s with node (%d sessions)" % (path.name, n))
        tmp = path.with_suffix(".tmp")
        subprocess.run(["node", "--max-old-space-size=16384", str(ROOT / "bench" / "snapshot_heap.js"), str(n),
                        str(tmp)], check=True, stdout=subprocess.DEVNULL)
        tmp.rename(path)
    return path, n


def exported_snapshot(tool):
    core_dir = CACHE / "cores" / "bench_heap" / "node20"
    stats = json.loads((core_dir / "stats.json").read_text())
    n = stats["extra"]["sessions"]
    path = OUT / ("export-%d.heapsnapshot" % n)
    if not path.is_file():
        log("exporting the benchmark core (%d sessions) to %s" % (n, path.name))
        tmp = path.with_suffix(".tmp")
        subprocess.run([tool, "heapsnapshot", str(core_dir / "core"), "-o", str(tmp)], check=True,
                       stdout=subprocess.DEVNULL)
        tmp.rename(path)
    return path, n


def sessions_in(out, kind):
    """The Session count a reader printed."""
    try:
        if kind == "v8dump":
            rows = json.loads(out)["rows"]
            return next((r["count"] for r in rows if r["name"] == "Session"), 0)
        return json.loads(out)["objects"].get("Session", [0])[0]
    except (ValueError, KeyError, StopIteration):
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", default="900000,2400000",
                    help="Session counts of the snapshots node writes (default 900000,2400000)")
    ap.add_argument("--export", action="store_true", help="also export the benchmark core")
    ap.add_argument("--skip-others", action="store_true", help="time v8dump only")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per run of the other readers")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    tool = v8dump()
    files = [node_snapshot(int(n)) for n in args.sessions.split(",") if n]
    if args.export:
        files.append(exported_snapshot(tool))
    modules = None if args.skip_others else memlab_modules()
    results = []
    for path, n in files:
        size = path.stat().st_size
        log("%s: %.2f GB, %d sessions" % (path.name, size / 1e9, n))
        timed(["cat", str(path)], 600)  # warm the page cache
        cat = timed(["sh", "-c", "cat '%s' > /dev/null" % path], 600)
        row = {"file": path.name, "bytes": size, "sessions": n, "cat_s": cat[0]}
        runs = [
            ("v8dump findjsobjects", [tool, "findjsobjects", str(path), "--json"], None, "v8dump"),
            ("v8dump top", [tool, "top", str(path), "--json"], None, None),
        ]
        if not args.skip_others:
            env = dict(os.environ, NODE_PATH=modules)
            runs += [
                ("node JSON.parse", ["node", "--max-old-space-size=20000",
                                     str(ROOT / "fixtures" / "tools" / "json_parse_census.js"), str(path)], env, "other"),
                ("memlab", ["node", "--max-old-space-size=20000",
                            str(ROOT / "fixtures" / "tools" / "snapshot_census.js"), str(path)], env, "other"),
            ]
        for name, argv, env, kind in runs:
            log("  " + name)
            secs, kib, out, err, rc = timed(argv, args.timeout, env)
            r = {"seconds": secs, "peak_rss_mib": kib and kib // 1024, "ok": rc == 0}
            if rc != 0:
                lines = [l for l in err.strip().splitlines() if not l.startswith("@@bench") and l.strip()]
                why = next((l for l in lines if "Error" in l or "error" in l), lines[-1] if lines else "exit %d" % rc)
                r["error"] = why.strip()[:160]
            elif kind:
                r["sessions"] = sessions_in(out, kind)
                r["count_ok"] = r["sessions"] == n
            row[name] = r
        results.append(row)
    (OUT / "snapshots.json").write_text(json.dumps(results, indent=1) + "\n")
    names = ["v8dump findjsobjects", "v8dump top", "node JSON.parse", "memlab"]
    print("| file | size | cat | " + " | ".join(names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    for row in results:
        cells = []
        for name in names:
            r = row.get(name)
            if r is None:
                cells.append("-")
            elif not r["ok"]:
                cells.append("failed: %s" % r.get("error", "?"))
            else:
                ratio = " (%.0fx cat)" % (r["seconds"] / row["cat_s"]) if row["cat_s"] else ""
                mark = "" if r.get("count_ok", True) else " WRONG COUNT %s" % r.get("sessions")
                cells.append("%.1f s%s, %d MiB%s" % (r["seconds"], ratio, r["peak_rss_mib"], mark))
        print("| %s | %.2f GB | %.2f s | %s |" % (row["file"], row["bytes"] / 1e9, row["cat_s"] or 0, " | ".join(cells)))


if __name__ == "__main__":
    main()
