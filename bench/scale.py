#!/usr/bin/env python3
"""The scale benchmark: every heavy command on cores of growing heaps, as ratios in one run.

    python3 bench/scale.py [--sizes 512,2048,4096,10240] [--version 24] [--llnode PATH | --build-llnode]
                           [--commands findjsobjects,retainers,...] [--timeout 3600]

For each size (MiB of old space), in one run:
1. Makes the core of fixtures/scenarios/scale_heap.js with that heap (V8DUMP_SCALE_MB) with
   fixtures/make_cores.py, into the git-ignored fixture cache (each size replaces the last).
2. Reads the core once with `cat` to warm the page cache, then times `cat CORE >/dev/null`
   three times (the median is the cost of reading the core, the unit of the issue's ratios).
3. Times each command with /usr/bin/time (wall time, peak RSS): `findjsobjects`, `retainers` of
   one Order (the first command that builds the reference index), `top`, `findjsobjects
   --retained`, `leaks` (each builds the dominator tree), `heapsnapshot -o FILE` (the file is
   removed after; written to /dev/null when the disk has less free space than three times the
   core). A command that fails, is killed or times out is recorded as such, not retried.
4. With llnode (as bench/bench.py: --llnode or --build-llnode), `v8 findjsobjects` on the same
   core, with the same timeout, on heaps up to --llnode-max-mib.
5. Checks findjsobjects counts exactly the Orders, LineItems and Customers the scenario made
   (stats.json), and prints a Markdown table for docs/PERFORMANCE.md: per size, each command's
   time and peak RSS, its time over `cat` (findjsobjects) or over findjsobjects (the others),
   and its peak RSS over the core's size on disk. Raw figures: fixtures/cache/bench/scale.json.

Python 3 standard library only. Not part of the tests: timings are not assertions.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (timed, build_llnode, count_of, log)

ROOT = bench.ROOT
CACHE = bench.CACHE
SCENARIO = "scale_heap"
COMMANDS = ["findjsobjects", "retainers", "top", "findjsobjects --retained", "leaks", "heapsnapshot"]
COUNTED = {"Order": "orders", "LineItem": "line_items", "Customer": "customers"}


def make_core(major, mib_heap):
    env = dict(os.environ, V8DUMP_SCALE_MB=str(mib_heap))
    subprocess.run([sys.executable, str(ROOT / "fixtures" / "make_cores.py"), "--versions", str(major),
                    "--scenarios", SCENARIO, "--arch", "x64", "--force"], check=True, env=env)
    cdir = CACHE / "cores" / SCENARIO / ("node%d" % major)
    run = json.loads((cdir / "run.json").read_text())
    stats = json.loads((cdir / "stats.json").read_text())
    return cdir / "core", run["node_realpath"], run["node_version"], stats


def argv_of(name, core, addr, out_file):
    c = str(core)
    return {
        "findjsobjects": ["findjsobjects", c, "--top", "20"],
        "retainers": ["retainers", c, addr],
        "top": ["top", c, "--limit", "10"],
        "findjsobjects --retained": ["findjsobjects", c, "--retained", "--top", "5"],
        "leaks": ["leaks", c],
        "heapsnapshot": ["heapsnapshot", c, "-o", str(out_file)],
    }[name]


def fmt_s(s):
    return "-" if s is None else ("%.1f s" % s if s >= 10 else "%.2f s" % s)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="512,2048,4096,10240", help="MiB of old space per core")
    ap.add_argument("--version", type=int, default=24, help="node major (default 24)")
    ap.add_argument("--commands", default=",".join(COMMANDS), help="commands to time")
    ap.add_argument("--llnode", help="path of an llnode.so to compare with")
    ap.add_argument("--build-llnode", action="store_true", help="build llnode 4.0.0 with npm first")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per command")
    ap.add_argument("--llnode-max-mib", type=int, default=2048,
                    help="run llnode only on heaps up to this size (it takes minutes a GB)")
    ap.add_argument("--out", default="scale.json", help="file name of the raw figures in fixtures/cache/bench")
    ap.add_argument("--v8dump", help="a v8dump binary to time instead of building this checkout's")
    args = ap.parse_args()
    commands = [c for c in args.commands.split(",") if c]
    llnode = Path(args.llnode) if args.llnode else (bench.build_llnode() if args.build_llnode else None)
    if args.v8dump:
        v8dump = str(Path(args.v8dump).resolve())
    else:
        bench.log("building v8dump (release)")
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "v8dump"], cwd=str(ROOT), check=True)
        v8dump = str(ROOT / "target" / "release" / "v8dump")
    out_dir = CACHE / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for size in [int(s) for s in args.sizes.split(",") if s]:
        t0 = time.time()
        core, node, version, stats = make_core(args.version, size)
        st = core.stat()
        row = {"heap_mib": size, "node": version, "core_bytes": st.st_size,
               "core_disk_bytes": st.st_blocks * 512, "made_in_s": round(time.time() - t0, 1),
               "scenario": stats["extra"], "commands": {}}
        # Reading the core from the page cache varies from run to run by up to a factor of
        # two here: the median of three reads after a warming one.
        subprocess.run(["cat", str(core)], stdout=subprocess.DEVNULL, check=True)
        cats = [bench.timed(["sh", "-c", 'cat "$0" >/dev/null', str(core)], args.timeout)[0] for _ in range(3)]
        secs = sorted(cats)[1]
        row["cat_seconds"], row["cat_runs"] = secs, cats
        bench.log("%d MiB heap: core %.2f GB on disk, cat %.2f s" % (size, row["core_disk_bytes"] / 1e9, secs))
        # One Order to ask `retainers` about (not timed).
        found = subprocess.run([v8dump, "findjsinstances", str(core), "Order", "--json", "--limit", "1",
                                "--skip", "1000", "-q"], capture_output=True, text=True)
        addr = json.loads(found.stdout)["instances"][0]["address"] if found.returncode == 0 else "0"
        free = shutil.disk_usage(str(out_dir)).free
        snap = out_dir / "scale.heapsnapshot" if free > 3 * row["core_disk_bytes"] else Path("/dev/null")
        row["snapshot_to"] = str(snap)
        for name in commands:
            secs, kib, out, err, rc = bench.timed([v8dump] + argv_of(name, core, addr, snap) + ["-q"], args.timeout)
            rec = {"seconds": secs, "peak_kib": kib, "rc": rc}
            if rc != 0 or secs is None:
                rec["error"] = (err.strip().splitlines() or ["rc %d" % rc])[-1][-300:]
            if name == "findjsobjects" and rc == 0:
                rec["counts"] = {k: bench.count_of(out, k) for k in COUNTED}
                m = re.search(r"([0-9]+) of ([0-9]+) heap objects reachable", out)
                if m:
                    row["objects_reachable"], row["objects"] = int(m.group(1)), int(m.group(2))
            if name == "heapsnapshot" and snap.name != "null" and snap.exists():
                rec["file_bytes"] = snap.stat().st_size
                snap.unlink()
            row["commands"][name] = rec
            bench.log("  %-26s %s, %s%s" % (name, fmt_s(secs), bench.mib(kib),
                                             "" if rc == 0 else "  FAILED: %s" % rec.get("error")))
        if llnode and size <= args.llnode_max_mib:
            secs, kib, out, err, rc = bench.timed(
                ["lldb-19", "--batch", "-o", "plugin load %s" % llnode, "-o", "v8 findjsobjects",
                 node, "-c", str(core)], args.timeout)
            row["llnode"] = {"seconds": secs, "peak_kib": kib, "rc": rc,
                             "orders": bench.count_of(out, "Order"),
                             "status": "ok" if rc == 0 and secs is not None else (err.strip()[-300:] or "rc %d" % rc)}
            bench.log("  %-26s %s, %s" % ("llnode v8 findjsobjects", fmt_s(secs), bench.mib(kib)))
        results.append(row)
        (out_dir / args.out).write_text(json.dumps({"date": time.strftime("%Y-%m-%d"),
                                                        "results": results}, indent=1) + "\n")

    print("| heap | core on disk | heap objects | command | wall time | ratio | peak RSS | RSS / core |")
    print("|---|---|---|---|---|---|---|---|")
    wrong = []
    for r in results:
        disk = r["core_disk_bytes"]
        fjo = r["commands"].get("findjsobjects", {}).get("seconds")
        objs = "%.1f M" % (r["objects"] / 1e6) if "objects" in r else "?"
        head = "| %d MiB | %.2f GB | %s | " % (r["heap_mib"], disk / 1e9, objs)
        print(head + "cat | %s | | | |" % fmt_s(r["cat_seconds"]))
        for name, c in r["commands"].items():
            if c.get("error"):
                print(head + "%s | failed: %s | | %s | |" % (name, c["error"], bench.mib(c["peak_kib"])))
                continue
            base = r["cat_seconds"] if name == "findjsobjects" else fjo
            ratio = "%.1fx %s" % (c["seconds"] / base, "cat" if name == "findjsobjects" else "fjo") if base else ""
            print(head + "%s | %s | %s | %s | %.2f |" % (name, fmt_s(c["seconds"]), ratio, bench.mib(c["peak_kib"]),
                                                        c["peak_kib"] * 1024 / disk))
            for k, field in COUNTED.items():
                got = c.get("counts", {}).get(k, r["scenario"][field]) if name == "findjsobjects" else None
                if got is not None and got != r["scenario"][field]:
                    wrong.append((r["heap_mib"], k, got, r["scenario"][field]))
        if "llnode" in r:
            l = r["llnode"]
            t = fmt_s(l["seconds"]) if l["status"] == "ok" else "failed: %s" % l["status"]
            print(head + "llnode 4.0.0 v8 findjsobjects | %s | | %s | |" % (t, bench.mib(l["peak_kib"])))
    if wrong:
        raise SystemExit("findjsobjects' counts differ from the scenario's: %s" % wrong)


if __name__ == "__main__":
    main()
