"""v8dump: post-mortem analysis of Node.js core dumps.

    import v8dump
    core = v8dump.open("core", executable="/usr/bin/node")   # executable: optional
    for row in core.histogram()[:10]:
        print(row["count"], row["size"], row["name"])
    session = core.instances("UserSession", limit=1)[0]["address"]
    print(core.retainers(session)[0]["chain"])

Every answer is plain data (dicts, lists, ints, strings), the shapes of the `v8dump` command's
`--json` output. Errors raise `V8DumpError` with the library's message.
"""

from ._v8dump import Core, V8DumpError, analyze, open

__all__ = ["Core", "V8DumpError", "analyze", "open"]
