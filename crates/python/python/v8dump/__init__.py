"""v8dump: post-mortem analysis of Node.js core dumps.

    import v8dump
    core = v8dump.open("core", executable="/usr/bin/node")   # executable: optional
    for row in core.histogram()["rows"][:10]:
        print(row["count"], row["size"], row["name"])
    session = core.instances("UserSession", limit=1)["instances"][0]["address"]
    print(core.retainers(session)["paths"][0]["chain"])
    print(core.report(text=True))

Every answer is plain data (dicts, lists, ints, strings) in exactly the shape the `v8dump`
command prints with `--json`, or, with `text=True`, the text it prints. Errors raise
`V8DumpError` with the library's message.
"""

from ._v8dump import Core, Snapshot, V8DumpError, analyze, diff, open, open_live, open_snapshot

__all__ = ["Core", "Snapshot", "V8DumpError", "analyze", "diff", "open", "open_live", "open_snapshot"]
