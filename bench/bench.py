#!/usr/bin/env python3
"""The findjsobjects benchmark: v8dump against llnode on the same large core.

    python3 bench/bench.py [--versions 20] [--runs 3] [--llnode PATH | --build-llnode] [--sessions N]

1. Makes the benchmark core (fixtures/scenarios/bench_heap.js: millions of small objects, about
   1.1 GB of core on Node 20) with fixtures/make_cores.py, into the git-ignored fixture cache.
2. Builds v8dump in release mode and times `v8dump findjsobjects CORE` (wall time and peak RSS
   by /usr/bin/time, median of --runs runs; the page cache is warm after the first).
3. With llnode (an llnode.so given by --llnode, or built by --build-llnode: npm's `llnode`
   4.0.0 compiled against Debian's lldb-19, needs apt packages lldb-19 and liblldb-19-dev),
   times `v8 findjsobjects` in `lldb-19 --batch` on the same core and executable, once.
4. Checks both tools agree on the number of Session objects (the scenario makes exactly
   V8DUMP_BENCH_SESSIONS of them) and prints a Markdown table for docs/PERFORMANCE.md; the raw
   figures go to fixtures/cache/bench/results.json.

Python 3 standard library only. Not part of the tests: timings are not assertions.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("V8DUMP_FIXTURE_CACHE") or ROOT / "fixtures" / "cache")
SCENARIO = "bench_heap"
CLASS = "Session"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def timed(argv, timeout, env=None):
    """Run argv under /usr/bin/time; (seconds, peak RSS in KiB, stdout, stderr, returncode)."""
    marker = "@@bench %e %M"
    cmd = ["/usr/bin/time", "-f", marker] + argv
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return None, None, "", "timed out after %d s" % timeout, -1
    m = re.search(r"@@bench ([0-9.]+) ([0-9]+)", p.stderr)
    if not m:
        return None, None, p.stdout, p.stderr, p.returncode
    return float(m.group(1)), int(m.group(2)), p.stdout, p.stderr, p.returncode


def make_core(major, sessions):
    env = dict(os.environ)
    if sessions:
        env["V8DUMP_BENCH_SESSIONS"] = str(sessions)
    subprocess.run([sys.executable, str(ROOT / "fixtures" / "make_cores.py"), "--versions", str(major),
                    "--scenarios", SCENARIO] + (["--force"] if sessions else []), check=True, env=env)
    cdir = CACHE / "cores" / SCENARIO / ("node%d" % major)
    run = json.loads((cdir / "run.json").read_text())
    stats = json.loads((cdir / "stats.json").read_text())
    return cdir / "core", run["node_realpath"], run["node_version"], stats["extra"]["sessions"]


def build_llnode():
    """npm's llnode 4.0.0 against lldb-19, in the fixture cache; returns the path of llnode.so."""
    where = CACHE / "llnode"
    so = where / "node_modules" / "llnode" / "llnode.so"
    if so.is_file():
        return so
    if not shutil.which("lldb-19") or not Path("/usr/lib/llvm-19/include/lldb").is_dir():
        raise SystemExit("--build-llnode needs: apt-get install lldb-19 liblldb-19-dev")
    bindir = where / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    # llnode's configure script looks for an executable called `lldb`.
    link = bindir / "lldb"
    if not link.exists():
        link.symlink_to(shutil.which("lldb-19"))
    env = dict(os.environ, PATH="%s:%s" % (bindir, os.environ.get("PATH", "")),
               LLNODE_LLDB_INCLUDE_DIR="/usr/lib/llvm-19/include",
               LLNODE_LLDB_LIB_DIR="/usr/lib/llvm-19/lib")
    (where / "package.json").write_text('{"name": "llnode-bench", "private": true}\n')
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--foreground-scripts", "llnode@4.0.0"],
                   cwd=str(where), check=True, env=env)
    if not so.is_file():
        raise SystemExit("npm installed llnode but built no llnode.so (install scripts not run?)")
    return so


def count_of(text, name):
    """Instances of `name` in a findjsobjects table (v8dump's or llnode's)."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[-1] == name and parts[0].isdigit():
            return int(parts[0])
    return None


def mib(kib):
    return "%d MiB" % round(kib / 1024) if kib is not None else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--versions", default="20", help="node majors, comma-separated (default 20)")
    ap.add_argument("--runs", type=int, default=3, help="v8dump runs per core (median is reported)")
    ap.add_argument("--sessions", type=int, help="Session objects to make (re-makes the core)")
    ap.add_argument("--llnode", help="path of an llnode.so to compare with")
    ap.add_argument("--build-llnode", action="store_true", help="build llnode 4.0.0 with npm first")
    ap.add_argument("--llnode-timeout", type=int, default=1800)
    args = ap.parse_args()

    llnode = Path(args.llnode) if args.llnode else (build_llnode() if args.build_llnode else None)
    log("building v8dump (release)")
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "v8dump"], cwd=str(ROOT), check=True)
    v8dump = ROOT / "target" / "release" / "v8dump"
    results = []
    for major in [int(v) for v in args.versions.split(",") if v]:
        core, node, version, sessions = make_core(major, args.sessions)
        st = core.stat()
        row = {"node": version, "core": str(core), "core_bytes": st.st_size,
               "core_disk_bytes": st.st_blocks * 512, "sessions": sessions}
        runs = []
        for k in range(args.runs):
            secs, kib, out, err, rc = timed([str(v8dump), "findjsobjects", str(core), "--top", "20"], 600)
            if rc != 0 or secs is None:
                raise SystemExit("v8dump failed (%s): %s" % (rc, err[-2000:]))
            runs.append((secs, kib))
            row["v8dump_count"] = count_of(out, CLASS)
            log("v8dump node%d run %d: %.2f s, %s" % (major, k + 1, secs, mib(kib)))
        row["v8dump_seconds"] = statistics.median(r[0] for r in runs)
        row["v8dump_peak_kib"] = max(r[1] for r in runs)
        # The graph commands, once each: the first needs the reference index, `top` the
        # dominator tree too.
        found = subprocess.run([str(v8dump), "findjsinstances", str(core), CLASS, "--json", "--limit", "1",
                                "--skip", "1000"], capture_output=True, text=True, check=True)
        addr = json.loads(found.stdout)["instances"][0]["address"]
        graph = {}
        for name, argv in [("retainers", ["retainers", str(core), addr]),
                           ("findjsobjects --retained", ["findjsobjects", str(core), "--retained", "--top", "5"]),
                           ("top", ["top", str(core), "--limit", "10"]),
                           ("leaks", ["leaks", str(core)]),
                           ("report", ["report", str(core)]),
                           ("report --html", ["report", str(core), "--html", str(CACHE / "bench" / "report.html")]),
                           ("flamegraph (svg)", ["flamegraph", str(core), "-o", str(CACHE / "bench" / "retained.svg")]),
                           ("flamegraph (pprof)", ["flamegraph", str(core), "-o", str(CACHE / "bench" / "retained.pb.gz")])]:
            secs, kib, out, err, rc = timed([str(v8dump)] + argv, 900)
            if rc != 0 or secs is None:
                raise SystemExit("v8dump %s failed (%s): %s" % (name, rc, err[-2000:]))
            graph[name] = (secs, kib)
            log("v8dump node%d %s: %.2f s, %s" % (major, name, secs, mib(kib)))
        row["graph"] = {k: {"seconds": v[0], "peak_kib": v[1]} for k, v in graph.items()}
        # Leak suspects cost a walk of the dominator tree on top of it: the ratio to `top` in
        # the same run is the figure docs/PERFORMANCE.md keeps (the aim: under 2).
        row["leaks_over_top"] = graph["leaks"][0] / graph["top"][0]
        log("v8dump node%d leaks / top: %.2f" % (major, row["leaks_over_top"]))
        # The HTML page: its cost against `leaks` in the same run (the aim: at most 1.2), and
        # its size (the aim: under 10 MB).
        row["html_over_leaks"] = graph["report --html"][0] / graph["leaks"][0]
        row["html_bytes"] = (CACHE / "bench" / "report.html").stat().st_size
        row["svg_bytes"] = (CACHE / "bench" / "retained.svg").stat().st_size
        row["pprof_bytes"] = (CACHE / "bench" / "retained.pb.gz").stat().st_size
        log("v8dump node%d report --html / leaks: %.2f; page %d bytes, svg %d, pprof %d" % (
            major, row["html_over_leaks"], row["html_bytes"], row["svg_bytes"], row["pprof_bytes"]))
        if llnode:
            log("llnode node%d: v8 findjsobjects (this takes minutes)" % major)
            secs, kib, out, err, rc = timed(
                ["lldb-19", "--batch", "-o", "plugin load %s" % llnode, "-o", "v8 findjsobjects",
                 node, "-c", str(core)], args.llnode_timeout)
            # llnode's own table, kept: on current Node it does not name every class.
            table = [l.rstrip() for l in out.splitlines() if re.match(r"^\s+[0-9]+\s+[0-9]+ ", l)]
            row.update(llnode_seconds=secs, llnode_peak_kib=kib, llnode_count=count_of(out, CLASS),
                       llnode_rows=table[-8:],
                       llnode_status="ok" if rc == 0 and secs is not None else (err.strip()[-300:] or "rc %d" % rc))
            log("llnode node%d: %s s, %s, %s %s" % (major, secs, mib(kib), row["llnode_count"], CLASS))
        results.append(row)

    out_dir = CACHE / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d")
    (out_dir / "results.json").write_text(json.dumps({"date": stamp, "results": results}, indent=1) + "\n")
    print("| node | core (apparent / on disk) | %s objects | tool | wall time | peak RSS |" % CLASS)
    print("|---|---|---|---|---|---|")
    for r in results:
        size = "%.2f GB / %.2f GB" % (r["core_bytes"] / 1e9, r["core_disk_bytes"] / 1e9)
        print("| %s | %s | %s | v8dump (median of %d) | %.2f s | %s |" % (
            r["node"], size, r["v8dump_count"], args.runs, r["v8dump_seconds"], mib(r["v8dump_peak_kib"])))
        for name, g in r.get("graph", {}).items():
            print("| %s | %s | | v8dump %s | %.2f s | %s |" % (
                r["node"], size, name, g["seconds"], mib(g["peak_kib"])))
        if "llnode_status" in r:
            t = "%.1f s" % r["llnode_seconds"] if r["llnode_seconds"] is not None else r["llnode_status"]
            print("| %s | %s | %s | llnode 4.0.0 + lldb-19 | %s | %s |" % (
                r["node"], size, r["llnode_count"], t, mib(r["llnode_peak_kib"])))
    bad = [r for r in results if r["v8dump_count"] != r["sessions"]]
    if bad:
        raise SystemExit("v8dump's %s count differs from the scenario's: %s" % (CLASS, bad))


if __name__ == "__main__":
    main()
