"""v8dump's commands inside lldb.

Load it in an lldb session on a Node.js core (the core and executable come from the target):

    lldb-19 /usr/bin/node -c core
    (lldb) command script import /path/to/v8dump/lldb-plugin/v8dump_lldb.py
    (lldb) v8 findjsobjects
    (lldb) v8 findjsinstances UserSession
    (lldb) v8 retainers 0x1b1766c2e29

It registers the `v8` command family (findjsobjects, findjsinstances, inspect, findrefs,
retainers, top, bt, nodeinfo, report, heapsnapshot; llnode's names and main flags) and the
top-level `findjsobjects` / `findjsinstances` aliases llnode has. The work is done by the
`v8dump` Python module (pip install the v8dump wheel, or put it on PYTHONPATH); the core is
loaded once per session and kept.

On a live process target (attached or launched, and stopped), the plugin first writes a
snapshot of the process as an ELF core into a temporary file: the threads' registers from
lldb, the memory read through lldb's process API (writable and anonymous mappings, and the
first page of each mapped file, as the kernel's default core filter does), the mapped files
and the auxiliary vector from /proc. The snapshot is taken once per stop and analyzed like any
core; the file is removed as soon as it is loaded.
"""

import argparse
import os
import shlex
import struct
import tempfile

import lldb

try:
    import v8dump
except ImportError as e:  # pragma: no cover - reported inside lldb
    v8dump = None
    _IMPORT_ERROR = str(e)
else:
    _IMPORT_ERROR = None

_CORES = {}


class _Usage(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that reports errors instead of exiting lldb."""

    def error(self, message):
        raise _Usage("%s\n%s" % (message, self.format_usage().strip()))

    def exit(self, status=0, message=None):
        raise _Usage((message or "").strip() or self.format_help().strip())


def _core(debugger):
    if v8dump is None:
        raise _Usage(
            "the v8dump Python module is not importable in lldb's Python (%s): pip install the "
            "v8dump wheel for %s, or set PYTHONPATH" % (_IMPORT_ERROR, _python_version())
        )
    target = debugger.GetSelectedTarget()
    if not target or not target.IsValid():
        raise _Usage("no target: start lldb as `lldb NODE -c CORE`, or attach to a node process")
    process = target.GetProcess()
    core = ""
    if process and process.IsValid() and hasattr(process, "GetCoreFile"):
        core = process.GetCoreFile().fullpath or ""
    exe = target.GetExecutable().fullpath or None
    if core:
        key = (core, exe)
        if key not in _CORES:
            _CORES[key] = v8dump.open(core, executable=exe)
        return _CORES[key]
    if not process or not process.IsValid() or process.GetState() != lldb.eStateStopped:
        raise _Usage("the target is neither a core file nor a stopped process: attach to a node "
                     "process (it stops), or open a core with `lldb NODE -c CORE`")
    key = ("live", process.GetProcessID(), process.GetStopID())
    if key not in _CORES:
        _CORES.clear()  # one snapshot per stop
        _CORES[key] = _snapshot(process, exe)
    return _CORES[key]


# ------------------------------------------------------------------ live process snapshots

_PRSTATUS_REGS = [
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx",
    "rsi", "rdi", "orig_rax", "rip", "cs", "rflags", "rsp", "ss", "fs_base", "gs_base", "ds",
    "es", "fs", "gs",
]


def _note(name, ntype, desc):
    n = name + b"\0"
    pad = lambda b: b + b"\0" * (-len(b) % 4)
    return struct.pack("<III", len(n), len(desc), ntype) + pad(n) + pad(desc)


def _thread_regs(thread):
    frame = thread.GetFrameAtIndex(0)
    values = {}
    for regset in frame.GetRegisters():
        for r in regset:
            try:
                values[r.GetName()] = r.GetValueAsUnsigned()
            except Exception:
                pass
    if "rflags" not in values and "eflags" in values:
        values["rflags"] = values["eflags"]
    return [values.get(n, 0) & 0xFFFFFFFFFFFFFFFF for n in _PRSTATUS_REGS]


def _maps(pid):
    out = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split(None, 5)
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            perms, off = parts[1], int(parts[2], 16)
            path = parts[5].strip() if len(parts) > 5 else ""
            out.append((lo, hi, perms, off, path))
    return out


def _snapshot(process, exe):
    """Write the stopped process as an ELF core (memory read through lldb) and open it."""
    pid = process.GetProcessID()
    maps = _maps(pid)
    notes = b""
    # The thread that stopped first, as the kernel puts the signalled thread first.
    threads = [process.GetThreadAtIndex(i) for i in range(process.GetNumThreads())]
    sel = process.GetSelectedThread()
    threads.sort(key=lambda t: 0 if sel and t.GetThreadID() == sel.GetThreadID() else 1)
    for t in threads:
        desc = bytearray(336)
        struct.pack_into("<I", desc, 32, t.GetThreadID())
        struct.pack_into("<I", desc, 36, os.getppid())
        struct.pack_into("<27Q", desc, 112, *_thread_regs(t))
        notes += _note(b"CORE", 1, bytes(desc))
    psinfo = bytearray(136)
    struct.pack_into("<I", psinfo, 24, pid)
    try:
        comm = open("/proc/%d/comm" % pid, "rb").read().strip()[:15]
        args = open("/proc/%d/cmdline" % pid, "rb").read().replace(b"\0", b" ").strip()[:79]
    except OSError:
        comm, args = b"node", b""
    psinfo[40 : 40 + len(comm)] = comm
    psinfo[56 : 56 + len(args)] = args
    notes += _note(b"CORE", 3, bytes(psinfo))
    try:
        notes += _note(b"CORE", 6, open("/proc/%d/auxv" % pid, "rb").read())
    except OSError:
        pass
    files = [(lo, hi, off, path) for lo, hi, perms, off, path in maps if path.startswith("/")]
    nt_file = struct.pack("<QQ", len(files), 4096)
    nt_file += b"".join(struct.pack("<QQQ", lo, hi, off // 4096) for lo, hi, off, _ in files)
    nt_file += b"".join(p.encode() + b"\0" for _, _, _, p in files)
    notes += _note(b"CORE", 0x46494C45, nt_file)
    # What to dump: as the kernel's default filter, anonymous and writable mappings, and the
    # first page of mapped files (their ELF headers, for build IDs); the rest of a file mapping
    # is read from the file itself.
    loads = []
    for lo, hi, perms, off, path in maps:
        if "r" not in perms or path in ("[vvar]", "[vsyscall]", "[vvar_vclock]"):
            loads.append((lo, hi, perms, 0))
            continue
        if path.startswith("/") and "w" not in perms:
            loads.append((lo, hi, perms, 4096 if off == 0 else 0))
        else:
            loads.append((lo, hi, perms, hi - lo))
    err = lldb.SBError()
    fd, tmp = tempfile.mkstemp(prefix="v8dump-live-", suffix=".core",
                               dir=os.environ.get("V8DUMP_UNPACK_DIR") or None)
    try:
        with os.fdopen(fd, "wb") as f:
            phnum = 1 + len(loads)
            note_off = 64 + 56 * phnum
            data_off = (note_off + len(notes) + 4095) & ~4095
            ehdr = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
            ehdr += struct.pack("<HHIQQQIHHHHHH", 4, 62, 1, 0, 64, 0, 0, 64, 56, phnum, 0, 0, 0)
            f.write(ehdr)
            f.write(struct.pack("<IIQQQQQQ", 4, 0, note_off, 0, 0, len(notes), 0, 1))
            offset = data_off
            for lo, hi, perms, dump in loads:
                flags = (4 if "r" in perms else 0) | (2 if "w" in perms else 0) | (1 if "x" in perms else 0)
                f.write(struct.pack("<IIQQQQQQ", 1, flags, offset, lo, 0, dump, hi - lo, 4096))
                offset += dump
            f.write(notes)
            f.seek(data_off)
            for lo, hi, perms, dump in loads:
                a = lo
                while a < lo + dump:
                    n = min(1 << 20, lo + dump - a)
                    chunk = process.ReadMemory(a, n, err) if n else b""
                    if not err.Success() or chunk is None or len(chunk) != n:
                        chunk = b"\0" * n  # unreadable: zeros, as a hole
                        err.Clear()
                    f.write(chunk)
                    a += n
        core = v8dump.open(tmp, executable=exe)
    finally:
        os.unlink(tmp)  # the module keeps its own mapping of the file
    return core


def _python_version():
    import sys

    return "Python %d.%d" % sys.version_info[:2]


def _table(header, rows, right=()):
    """Rows padded to their widest cell, two spaces apart; columns in `right` right-aligned."""
    all_rows = [list(map(str, header))] + [list(map(str, r)) for r in rows]
    widths = [max(len(r[c]) for r in all_rows if c < len(r)) for c in range(len(header))]
    out = []
    for r in all_rows:
        cells = []
        for c, cell in enumerate(r):
            cells.append(cell.rjust(widths[c]) if c in right else cell.ljust(widths[c]))
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def _bytes(n):
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    v, u = float(n), 0
    while v >= 1024 and u + 1 < len(units):
        v /= 1024
        u += 1
    return "%d B" % n if u == 0 else "%.1f %s" % (v, units[u])


# ----------------------------------------------------------------------------------- commands


def _findjsobjects(core, argv):
    p = _Parser(prog="v8 findjsobjects", description="Objects per constructor, largest first.")
    p.add_argument("-d", "--detailed", action="store_true", help="group by own property names")
    p.add_argument("-a", "--all", action="store_true", help="count unreachable objects too")
    p.add_argument("-r", "--retained", action="store_true", help="add retained sizes")
    p.add_argument("-t", "--top", type=int, help="only the first N rows")
    a = p.parse_args(argv)
    rows = core.histogram(all=a.all, detailed=a.detailed, retained=a.retained)
    total_count = sum(r["count"] for r in rows)
    total_size = sum(r["size"] for r in rows)
    if a.top:
        rows = rows[: a.top]
    header = ["Instances", "Total Size"] + (["Retained Size"] if a.retained else [])
    header += ["Unreachable"] if a.all else []
    header += ["Name"]
    body = []
    for r in rows:
        name = r["name"]
        if r.get("properties") is not None:
            name = "%s: %s" % (name, ", ".join(r["properties"]))
        cells = [r["count"], _bytes(r["size"])]
        if a.retained:
            cells.append(_bytes(r["retained"]) if r.get("retained") is not None else "-")
        if a.all:
            cells.append(r.get("unreachable", 0))
        body.append(cells + [name])
    text = _table(header, body, right=range(len(header) - 1))
    return "%s\n\n%d objects, %s" % (text, total_count, _bytes(total_size))


def _findjsinstances(core, argv):
    p = _Parser(prog="v8 findjsinstances", description="The objects of one constructor.")
    p.add_argument("name")
    p.add_argument("-n", "--limit", type=int, default=50, help="at most N instances")
    p.add_argument("-s", "--skip", type=int, default=0, help="start at instance N")
    p.add_argument("-a", "--all", action="store_true", help="include unreachable objects")
    a = p.parse_args(argv)
    found = core.instances(a.name, all=a.all)
    shown = found[a.skip : a.skip + a.limit]
    text = _table(["Address", "Size", "Object"], [[x["address"], x["size"], x["summary"]] for x in shown], right=[1])
    if a.skip + len(shown) < len(found):
        text += "\n\n%d of %d shown (from %d); more with -s %d" % (len(shown), len(found), a.skip, a.skip + len(shown))
    return text


def _render_value(v, indent=0):
    pad = "  " * indent
    head = v.get("text") or ""
    addr = v.get("address")
    ctor = v.get("constructor")
    kind = v.get("kind", "")
    if kind == "string":
        head = repr(v.get("text", ""))
    elif kind in ("object", "array", "function") or not head:
        head = "<%s>" % (ctor or kind)
        if v.get("length") is not None:
            head += " length=%s" % v["length"]
    line = ("%s " % addr if addr else "") + head
    out = [line]
    for e in v.get("entries", []) or []:
        key = e.get("key", "")
        sub = e.get("value", {})
        if sub.get("entries"):
            out.append("%s  %s: %s" % (pad, key, _render_value(sub, indent + 1)))
        else:
            out.append("%s  %s: %s" % (pad, key, _render_value(sub, indent + 1).split("\n")[0]))
    if v.get("truncated"):
        out.append("%s  ..." % pad)
    return "\n".join(out)


def _inspect(core, argv):
    p = _Parser(prog="v8 inspect", description="Render a value.")
    p.add_argument("address")
    p.add_argument("--depth", type=int, default=1)
    p.add_argument("--array-length", dest="entries", type=int, default=100)
    p.add_argument("--string-length", type=int, default=1000)
    a = p.parse_args(argv)
    v = core.inspect(a.address, depth=a.depth, entries=a.entries, string_length=a.string_length)
    return _render_value(v)


def _findrefs(core, argv):
    p = _Parser(prog="v8 findrefs", description="Who references a value, a property name or a string.")
    g = p.add_mutually_exclusive_group()
    g.add_argument("-v", "--value", action="store_true", help="WHAT is an address (default)")
    g.add_argument("-n", "--name", action="store_true", help="WHAT is a property name")
    g.add_argument("-s", "--string", action="store_true", help="WHAT is a string")
    p.add_argument("what")
    a = p.parse_args(argv)
    if a.name:
        rows = core.findrefs_property(a.what)
        return _table(["Object", "Name", "." + a.what], [[r["holder"], r["holder_name"], r["value"]] for r in rows])
    if a.string:
        rows = core.findrefs_string(a.what)
        return _table(
            ["String", "Holder", "Name", "Edge", "Kind"],
            [[r["string"], r["holder"], r["holder_name"], r["edge"], r["kind"]] for r in rows],
        )
    rows = core.findrefs(a.what)
    return _table(["Holder", "Name", "Edge", "Kind"], [[r["holder"], r["holder_name"], r["edge"], r["kind"]] for r in rows])


def _retainers(core, argv):
    p = _Parser(prog="v8 retainers", description="Shortest retainer paths from a root.")
    p.add_argument("address")
    p.add_argument("--paths", type=int, default=1)
    p.add_argument("--depth", type=int, default=64)
    a = p.parse_args(argv)
    paths = core.retainers(a.address, paths=a.paths, depth=a.depth)
    if not paths:
        return "No retainer path within %d steps." % a.depth
    out = []
    for k, path in enumerate(paths):
        rk = path["root_kind"]
        where = "a global object" if rk["type"] == "global" else "root (%s)" % rk.get("region", rk.get("reg", ""))
        rows = [["", "", "", path["steps"][0]["target_name"] if path["steps"] else path["root_name"], ""]]
        for s in path["steps"]:
            rows.append(["<-", s["edge"], s["kind"], s["holder_name"], s["holder"]])
        out.append("Path %d of %d (%d steps, ends at %s):" % (k + 1, len(paths), len(path["steps"]), where))
        out.append(_table(["", "Edge", "Kind", "Holder", "Address"], rows))
        out.append("  " + path["chain"])
    return "\n".join(out)


def _top(core, argv):
    p = _Parser(prog="v8 top", description="The objects that retain the most memory.")
    p.add_argument("--limit", type=int, default=20)
    a = p.parse_args(argv)
    rows = core.top(limit=a.limit)
    return _table(["Retained", "Self", "Address", "Object"], [[_bytes(r["retained"]), _bytes(r["self_size"]), r["address"], r["summary"]] for r in rows], right=[0, 1])


def _frame_line(f):
    kind = f.get("frame_type") or f["kind"]
    js = f.get("js")
    if js:
        where = js.get("script") or "<no script>"
        if js.get("line"):
            where += ":%d:%d" % (js["line"], js.get("column") or 0)
        what = "%s %s%s" % (js["name"], where, "" if js.get("exact") or not js.get("line") else " (function start)")
    elif f.get("native"):
        n = f["native"]
        what = "%s`%s+%#x" % (n["module"], n["symbol"], n["offset"]) if n.get("symbol") else "%s+%#x" % (n["module"], n["offset"])
    else:
        what = "(JIT code)"
    return kind, what


def _bt(core, argv):
    p = _Parser(prog="v8 bt", description="Native and JavaScript frames of the crashing thread.")
    p.add_argument("count", nargs="?", type=int, help="at most COUNT frames")
    p.add_argument("--all-threads", action="store_true")
    p.add_argument("--args", action="store_true", help="show this and the arguments of JS frames")
    a = p.parse_args(argv)
    out = []
    for t in range(core.threads()) if a.all_threads else [0]:
        bt = core.bt(t, args=a.args)
        frames = bt["frames"][: a.count] if a.count else bt["frames"]
        rows = []
        for k, f in enumerate(frames):
            kind, what = _frame_line(f)
            rows.append([k, "%#x" % f["pc"], kind, what])
            js = f.get("js") or {}
            if a.args and js.get("this") is not None:
                rows.append(["", "", "", "  this = " + core.summary(js["this"])])
            for i, arg in enumerate(js.get("args") or []):
                rows.append(["", "", "", "  arg%d = %s" % (i, core.summary(arg))])
        out.append("Thread %d (tid %d):" % (t + 1, bt["tid"]))
        out.append(_table(["#", "PC", "Kind", "Frame"], rows, right=[0]))
    return "\n".join(out)


def _nodeinfo(core, argv):
    p = _Parser(prog="v8 nodeinfo", description="The Node.js process: versions, argv, environment.")
    p.add_argument("--show-secrets", action="store_true")
    a = p.parse_args(argv)
    i = core.nodeinfo(show_secrets=a.show_secrets)
    rows = [
        ["pid", i.get("pid")],
        ["platform", "%s %s" % (i.get("platform"), i.get("arch"))],
        ["node", i.get("version")],
        ["execPath", i.get("exec_path")],
        ["argv", i.get("argv")],
        ["execArgv", i.get("exec_argv")],
        ["cwd", (i.get("cwd") or {}).get("value", "unknown")],
    ]
    out = [_table(["", ""], rows).split("\n", 1)[1], "", "process.versions:"]
    out += ["  %-12s %s" % (k, v) for k, v in i.get("versions", [])]
    out += ["", "environment at start (%d masked):" % len(i.get("masked", []))]
    out += ["  %s=%s" % (k, v) for k, v in sorted(i.get("env", []))]
    return "\n".join(out)


def _report(core, argv):
    _Parser(prog="v8 report", description="One screen: why it died, what filled the heap.").parse_args(argv)
    r = core.report()
    out = ["CRASH   %s" % r["cause"]["summary"]]
    if r["cause"].get("heap_limit_mib"):
        out.append("        heap limit --max-old-space-size=%d MiB" % r["cause"]["heap_limit_mib"])
    out += ["", "LARGEST CONSTRUCTORS"]
    out.append(_table(["Instances", "Total Size", "Name"], [[t["count"], _bytes(t["size"]), t["name"]] for t in r["top_by_size"]], right=[0, 1]))
    out += ["", "WHAT HOLDS THEM"]
    for h in r["holders"]:
        out.append("  %s %#x\n    %s" % (h["name"], h["instance"], h.get("chain") or "(no path)"))
    if r.get("stack"):
        out += ["", "JS STACK"]
        for f in r["stack"]["frames"]:
            if f.get("js"):
                out.append("  %s  %s" % _frame_line(f))
    return "\n".join(out)


def _heapsnapshot(core, argv):
    p = _Parser(prog="v8 heapsnapshot", description="Write a DevTools .heapsnapshot.")
    p.add_argument("file")
    a = p.parse_args(argv)
    s = core.heapsnapshot(a.file)
    return "%s: %d nodes, %d edges, %d strings" % (a.file, s["nodes"], s["edges"], s["strings"])


COMMANDS = {
    "findjsobjects": (_findjsobjects, "Objects per constructor (count, total size), largest first. [-d] [-a] [-r] [-t N]"),
    "findjsinstances": (_findjsinstances, "The objects of one constructor. <name> [-n LIMIT] [-s START] [-a]"),
    "inspect": (_inspect, "Render a value. <address> [--depth N] [--array-length N] [--string-length N]"),
    "findrefs": (_findrefs, "Who references a value [-v] <address>, a property [-n] <name>, a string [-s] <text>"),
    "retainers": (_retainers, "Shortest retainer paths from a root to an object. <address> [--paths N]"),
    "top": (_top, "The objects that retain the most memory. [--limit N]"),
    "bt": (_bt, "Native and JS frames of the crashing thread. [count] [--all-threads] [--args]"),
    "nodeinfo": (_nodeinfo, "The Node.js process: versions, argv, execArgv, environment. [--show-secrets]"),
    "report": (_report, "One screen: crash cause, largest constructors and what holds them, JS stack."),
    "heapsnapshot": (_heapsnapshot, "Write the reachable heap as a DevTools .heapsnapshot. <file>"),
}


def _run(name, debugger, command, result):
    fn = COMMANDS[name][0]
    try:
        text = fn(_core(debugger), shlex.split(command))
        result.AppendMessage(text)
        result.SetStatus(lldb.eReturnStatusSuccessFinishResult)
    except _Usage as e:
        result.SetError(str(e))
    except Exception as e:  # errors of the library (V8DumpError) and bad input
        result.SetError("v8dump: %s" % e)


def _make(name):
    def handler(debugger, command, exe_ctx, result, internal_dict):
        _run(name, debugger, command, result)

    handler.__name__ = "cmd_" + name
    handler.__doc__ = COMMANDS[name][1]
    return handler


for _name in COMMANDS:
    globals()["cmd_" + _name] = _make(_name)


def __lldb_init_module(debugger, internal_dict):
    interp = debugger.GetCommandInterpreter()
    res = lldb.SBCommandReturnObject()
    interp.HandleCommand('command container add -h "v8dump: Node.js core dump analysis" v8', res)
    for name, (_, help_text) in COMMANDS.items():
        debugger.HandleCommand(
            'command script add -o -h "%s" -f %s.cmd_%s v8 %s' % (help_text.replace('"', "'"), __name__, name, name)
        )
    # llnode's top-level aliases.
    for name in ("findjsobjects", "findjsinstances"):
        debugger.HandleCommand(
            'command script add -o -h "%s" -f %s.cmd_%s %s' % (COMMANDS[name][1].replace('"', "'"), __name__, name, name)
        )
    print("v8dump: `v8` commands loaded (%s); `help v8` lists them" % ", ".join(COMMANDS))
