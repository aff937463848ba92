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


# ----------------------------------------------------------------------------------- commands
# Each command: llnode's flags parsed by argparse, one call of the v8dump module, and the text
# the module renders (the same text the `v8dump` command prints).


def _findjsobjects(core, argv):
    p = _Parser(prog="v8 findjsobjects", description="Objects per constructor, largest first.")
    p.add_argument("-d", "--detailed", action="store_true", help="group by own property names")
    p.add_argument("-a", "--all", action="store_true", help="count unreachable objects too")
    p.add_argument("-r", "--retained", action="store_true", help="add retained sizes")
    p.add_argument("-t", "--top", type=int, help="only the first N rows")
    a = p.parse_args(argv)
    return core.histogram(all=a.all, detailed=a.detailed, retained=a.retained, top=a.top, text=True)


def _findjsinstances(core, argv):
    p = _Parser(prog="v8 findjsinstances", description="The objects of one constructor.")
    p.add_argument("name")
    p.add_argument("-n", "--limit", type=int, default=50, help="at most N instances")
    p.add_argument("-s", "--skip", type=int, default=0, help="start at instance N")
    p.add_argument("-a", "--all", action="store_true", help="include unreachable objects")
    a = p.parse_args(argv)
    return core.instances(a.name, all=a.all, limit=a.limit, skip=a.skip, text=True)


def _inspect(core, argv):
    p = _Parser(prog="v8 inspect", description="Render a value.")
    p.add_argument("address")
    p.add_argument("--depth", type=int, default=1)
    p.add_argument("--array-length", dest="entries", type=int, default=100)
    p.add_argument("--string-length", type=int, default=1000)
    a = p.parse_args(argv)
    return core.inspect(a.address, depth=a.depth, entries=a.entries, string_length=a.string_length, text=True)


def _findrefs(core, argv):
    p = _Parser(prog="v8 findrefs", description="Who references a value, a property name or a string.")
    g = p.add_mutually_exclusive_group()
    g.add_argument("-v", "--value", action="store_true", help="WHAT is an address (default)")
    g.add_argument("-n", "--name", action="store_true", help="WHAT is a property name")
    g.add_argument("-s", "--string", action="store_true", help="WHAT is a string")
    p.add_argument("what")
    p.add_argument("--limit", type=int, default=100)
    a = p.parse_args(argv)
    if a.name:
        return core.findrefs_property(a.what, limit=a.limit, text=True)
    if a.string:
        return core.findrefs_string(a.what, limit=a.limit, text=True)
    return core.findrefs(a.what, limit=a.limit, text=True)


def _retainers(core, argv):
    p = _Parser(prog="v8 retainers", description="Shortest retainer paths from a root.")
    p.add_argument("address")
    p.add_argument("--paths", type=int, default=1)
    p.add_argument("--depth", type=int, default=64)
    a = p.parse_args(argv)
    return core.retainers(a.address, paths=a.paths, depth=a.depth, text=True)


def _top(core, argv):
    p = _Parser(prog="v8 top", description="The objects that retain the most memory.")
    p.add_argument("--limit", type=int, default=20)
    a = p.parse_args(argv)
    return core.top(limit=a.limit, text=True)


def _bt(core, argv):
    p = _Parser(prog="v8 bt", description="Native and JavaScript frames of the crashing thread.")
    p.add_argument("count", nargs="?", type=int, help="at most COUNT frames")
    p.add_argument("--all-threads", action="store_true")
    p.add_argument("--args", action="store_true", help="show this and the arguments of JS frames")
    a = p.parse_args(argv)
    return core.bt(all_threads=a.all_threads, args=a.args, frames=a.count, text=True)


def _nodeinfo(core, argv):
    p = _Parser(prog="v8 nodeinfo", description="The Node.js process: versions, argv, environment.")
    p.add_argument("--show-secrets", action="store_true")
    a = p.parse_args(argv)
    return core.nodeinfo(show_secrets=a.show_secrets, text=True)


def _report(core, argv):
    _Parser(prog="v8 report", description="One screen: why it died, what filled the heap.").parse_args(argv)
    return core.report(text=True)


def _heapsnapshot(core, argv):
    p = _Parser(prog="v8 heapsnapshot", description="Write a DevTools .heapsnapshot.")
    p.add_argument("file")
    a = p.parse_args(argv)
    return core.heapsnapshot(a.file, text=True)


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
        result.AppendMessage(text.rstrip("\n"))
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
