"""v8dump's commands inside lldb.

Load it in an lldb session on a Node.js core (the core and executable come from the target):

    lldb-19 /usr/bin/node -c core
    (lldb) command script import v8dump.lldb
    (lldb) v8 findjsobjects
    (lldb) v8 findjsinstances UserSession
    (lldb) v8 retainers 0x1b1766c2e29

It registers the `v8` command family (findjsobjects, findjsinstances, inspect/print, source,
findrefs, retainers, top, leaks, memory, bt, handles (getactivehandles, getactiverequests), nodeinfo,
report, flamegraph, heapsnapshot; llnode's names and main
flags; addresses may be lldb expressions such as `$rdi`) and the
top-level `findjsobjects` / `findjsinstances` aliases llnode has. The work is done by the
`v8dump` package this module is part of (`v8dump lldb-init` puts the import line in
~/.lldbinit, and the package on the path of the Python lldb embeds when it is not already
there); the core is loaded once per session and kept.

On a live process target (attached or launched, and stopped), the module reads the process
itself: its memory from /proc/PID/mem, its mappings and auxiliary vector from /proc, the
threads' registers from lldb. Nothing is written to disk; the analysis is redone after each
stop (the process may have run).
"""

import argparse
import shlex

import lldb

try:
    import v8dump
except ImportError as e:  # pragma: no cover - reported inside lldb (the old shim's path)
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
            "the v8dump Python module is not importable in lldb's Python (%s): run `v8dump "
            "lldb-init` from the Python environment v8dump is installed in (lldb runs %s)"
            % (_IMPORT_ERROR, _python_version())
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
        _CORES.clear()  # one session per stop: the process may have run since
        _CORES[key] = _open_live(process, exe)
    return _CORES[key]


# ------------------------------------------------------------------ live processes

# NT_PRSTATUS order of x86-64 registers (`user_regs_struct`).
_PRSTATUS_REGS = [
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx",
    "rsi", "rdi", "orig_rax", "rip", "cs", "rflags", "rsp", "ss", "fs_base", "gs_base", "ds",
    "es", "fs", "gs",
]


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


def _open_live(process, exe):
    """The stopped process as v8dump reads it: memory from /proc/PID/mem (no copy on disk),
    the threads' registers from lldb, the selected thread first."""
    threads = [process.GetThreadAtIndex(i) for i in range(process.GetNumThreads())]
    sel = process.GetSelectedThread()
    threads.sort(key=lambda t: 0 if sel and t.GetThreadID() == sel.GetThreadID() else 1)
    regs = [(t.GetThreadID(), _thread_regs(t)) for t in threads]
    return v8dump.open_live(process.GetProcessID(), regs, executable=exe)


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
    p.add_argument("--all-types", action="store_true", help="also (string), (array), (closure)... groups")
    a = p.parse_args(argv)
    return core.histogram(all=a.all, detailed=a.detailed, retained=a.retained, top=a.top,
                          all_types=a.all_types, text=True)


# llnode's pager: `findjsinstances NAME -n N` again goes on where the last page stopped.
_PAGES = {}


def _findjsinstances(core, argv):
    p = _Parser(prog="v8 findjsinstances", description="The objects of one constructor.")
    p.add_argument("name")
    p.add_argument("-n", "--limit", type=int, default=50, help="at most N instances")
    p.add_argument("-s", "--skip", type=int, help="start at instance N (default: where the last page of NAME stopped)")
    p.add_argument("-a", "--all", action="store_true", help="include unreachable objects")
    a = p.parse_args(argv)
    key = (id(core), a.name, a.all)
    skip = a.skip if a.skip is not None else _PAGES.get(key, 0)
    page = core.instances(a.name, all=a.all, limit=a.limit, skip=skip)
    nxt = skip + len(page["instances"])
    # Past the last page, start again from the first.
    _PAGES[key] = nxt if nxt < page["total"] else 0
    return core.instances(a.name, all=a.all, limit=a.limit, skip=skip, text=True)


def _inspect(core, argv, ctx=None):
    p = _Parser(prog="v8 inspect", description="Render a value.")
    p.add_argument("address", nargs="+", help="an address or an lldb expression ($rdi, *(void**)($rsp+8))")
    p.add_argument("--depth", type=int, default=1)
    p.add_argument("-l", "--array-length", dest="entries", type=int, default=100)
    p.add_argument("--string-length", type=int, default=1000)
    p.add_argument("-F", "--full-string", action="store_true", help="no limit on string length")
    p.add_argument("-s", "--print-source", action="store_true", help="a function's source text too")
    a = p.parse_args(argv)
    addr = _address(" ".join(a.address), ctx)
    length = 1 << 30 if a.full_string else a.string_length
    out = core.inspect(addr, depth=a.depth, entries=a.entries, string_length=length, text=True)
    if a.print_source:
        out = out.rstrip("\n") + "\nsource:\n" + core.source(addr, text=True)
    return out


def _address(text, ctx):
    """An address typed as a number, or an lldb expression evaluated in the selected frame."""
    t = text.strip()
    try:
        return int(t, 0)
    except ValueError:
        pass
    frame = ctx.GetFrame() if ctx is not None else None
    if frame is None or not frame.IsValid():
        target = ctx.GetTarget() if ctx is not None else None
        if target is None or not target.IsValid():
            raise _Usage("%r is not an address, and there is no frame to evaluate it in" % t)
        value = target.EvaluateExpression(t)
    else:
        value = frame.EvaluateExpression(t)
    if not value.GetError().Success():
        raise _Usage("%r is not an address or an expression lldb can evaluate: %s" % (t, value.GetError()))
    return value.GetValueAsUnsigned()


def _source(core, argv, ctx=None):
    p = _Parser(prog="v8 source", description="Source of the JavaScript function of the selected frame.")
    p.add_argument("action", choices=["list"], help="list: print the selected frame's function")
    p.add_argument("-l", "--line", type=int, default=1, help="start at the function's line N")
    p.add_argument("-C", "--context", type=int, default=0, help="lines of context around it")
    a = p.parse_args(argv)
    frame = ctx.GetFrame() if ctx is not None else None
    if frame is None or not frame.IsValid():
        raise _Usage("no frame selected: select a JavaScript frame (frame select N) first")
    tid = frame.GetThread().GetThreadID()
    return core.frame_source(frame.GetFP(), tid=tid, context=a.context, skip=max(a.line, 1) - 1, text=True)


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


def _leaks(core, argv):
    p = _Parser(prog="v8 leaks", description="Leak suspects: what retains the most, in the program's words.")
    p.add_argument("--top", type=int, default=5, help="at most N suspects")
    p.add_argument("--threshold", type=float, default=10.0, help="share of the memory, in percent")
    p.add_argument("--min-size", default="1MiB", help="bytes a suspect retains at least")
    a = p.parse_args(argv)
    return core.leaks(top=a.top, threshold=a.threshold / 100.0, min_size=a.min_size, text=True)


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
    p = _Parser(prog="v8 report", description="One screen: why it died, what filled the heap.")
    p.add_argument("--html", metavar="FILE", help="write the report as one self-contained HTML page")
    p.add_argument("--redact", action="store_true",
                   help="strings as lengths and hashes, environment and arguments masked")
    a = p.parse_args(argv)
    if a.html:
        return core.report_html(a.html, text=True)
    return core.report(text=True, redact=a.redact)


def _flamegraph(core, argv):
    p = _Parser(prog="v8 flamegraph", description="Retained memory as a flame graph.")
    p.add_argument("-o", "--output", metavar="FILE", help="write svg, folded, pprof or json to FILE")
    p.add_argument("--format", choices=["svg", "folded", "pprof", "json"])
    p.add_argument("--min-share", type=float, default=0.001, metavar="PERCENT")
    p.add_argument("--max-depth", type=int, default=64, metavar="N")
    a = p.parse_args(argv)
    if not a.output:
        return core.retained_tree(min_share=a.min_share, max_depth=a.max_depth, text=True)
    return core.flamegraph(a.output, format=a.format, min_share=a.min_share, max_depth=a.max_depth, text=True)


def _handles(core, argv):
    _Parser(prog="v8 handles", description="What the process waited on: handles, requests, timers.").parse_args(argv)
    return core.handles(text=True)


def _memory(core, argv):
    _Parser(prog="v8 memory", description="Where all the memory went: heap, external, native, mappings.").parse_args(argv)
    return core.memory(text=True)


def _heapsnapshot(core, argv):
    p = _Parser(prog="v8 heapsnapshot", description="Write a DevTools .heapsnapshot.")
    p.add_argument("file")
    p.add_argument("--redact", action="store_true", help="replace string contents by lengths and hashes")
    a = p.parse_args(argv)
    return core.heapsnapshot(a.file, redact=a.redact, text=True)


COMMANDS = {
    "findjsobjects": (_findjsobjects, "Objects per constructor (count, total size), largest first. [-d] [-a] [-r] [-t N]"),
    "findjsinstances": (_findjsinstances, "The objects of one constructor. <name> [-n LIMIT] [-s START] [-a]"),
    "inspect": (_inspect, "Render a value. <address|expression> [-s] [--depth N] [-l N] [--string-length N] [-F]"),
    "print": (_inspect, "Alias of v8 inspect. <address|expression>"),
    "source": (_source, "Source of the selected frame's JS function: list [-l N] [-C N]"),
    "findrefs": (_findrefs, "Who references a value [-v] <address>, a property [-n] <name>, a string [-s] <text>"),
    "retainers": (_retainers, "Shortest retainer paths from a root to an object. <address> [--paths N]"),
    "top": (_top, "The objects that retain the most memory. [--limit N]"),
    "leaks": (_leaks, "Leak suspects: holder, count, code. [--top N] [--threshold PCT] [--min-size SIZE]"),
    "bt": (_bt, "Native and JS frames of the crashing thread. [count] [--all-threads] [--args]"),
    "nodeinfo": (_nodeinfo, "The Node.js process: versions, argv, execArgv, environment. [--show-secrets]"),
    "report": (_report, "One screen: crash cause, largest constructors and what holds them, JS stack. [--html FILE] [--redact]"),
    "flamegraph": (_flamegraph, "Retained memory as a flame graph: -o FILE (.svg, .pb.gz, .json, folded)."),
    "memory": (_memory, "Where all the memory went: rss, heap spaces, external memory by holder, malloc, mappings."),
    "handles": (_handles, "libuv handles and requests (with their JS objects, callbacks) and timers."),
    "getactivehandles": (_handles, "llnode's name for v8 handles."),
    "getactiverequests": (_handles, "llnode's name for v8 handles."),
    "heapsnapshot": (_heapsnapshot, "Write the reachable heap as a DevTools .heapsnapshot. <file>"),
}


def _run(name, debugger, command, result, ctx=None):
    fn = COMMANDS[name][0]
    try:
        argv = shlex.split(command)
        if fn in (_inspect, _source):
            text = fn(_core(debugger), argv, ctx)
        else:
            text = fn(_core(debugger), argv)
        result.AppendMessage(text.rstrip("\n"))
        result.SetStatus(lldb.eReturnStatusSuccessFinishResult)
    except _Usage as e:
        result.SetError(str(e))
    except Exception as e:  # errors of the library (V8DumpError) and bad input
        result.SetError("v8dump: %s" % e)


def _make(name):
    def handler(debugger, command, exe_ctx, result, internal_dict):
        _run(name, debugger, command, result, exe_ctx)

    handler.__name__ = "cmd_" + name
    handler.__doc__ = COMMANDS[name][1]
    return handler


for _name in COMMANDS:
    globals()["cmd_" + _name] = _make(_name)


def __lldb_init_module(debugger, internal_dict):
    interp = debugger.GetCommandInterpreter()
    res = lldb.SBCommandReturnObject()
    # The commands name their handlers by this module's full name; bind it in lldb's script
    # namespace (loaded by the old shim's path, it would not be).
    interp.HandleCommand("script import %s" % __name__, res)
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
