"""`v8dump mcp` driven by the official MCP Python SDK (`mcp`) over stdio, as an agent's client
runs it: the tools are listed with their input schemas, and the answers through the protocol
are the CLI's `--json` answers (the oracle for those is checked elsewhere against V8's own
snapshot) and name the listener leak the scenario planted."""
import asyncio
import json

import pytest

from conftest import cli, cli_json, fixture

mcp = pytest.importorskip("mcp", reason="tests/run.sh installs the mcp package")
from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402

TOOLS = {"findjsobjects", "findjsinstances", "inspect", "retainers", "top", "leaks", "memory", "report", "bt"}


def attr(o, snake, camel):
    """A field of the SDK's models (snake_case in mcp 2, camelCase in 1)."""
    return getattr(o, snake) if hasattr(o, snake) else getattr(o, camel)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=600))


async def session_calls(calls, max_bytes=None):
    args = ["mcp"] + (["--max-bytes", str(max_bytes)] if max_bytes else [])
    params = StdioServerParameters(command=cli(), args=args)
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            tools = (await session.list_tools()).tools
            results = []
            for name, arguments in calls:
                r = await session.call_tool(name, arguments)
                text = "".join(c.text for c in r.content if getattr(c, "type", "") == "text")
                results.append((bool(attr(r, "is_error", "isError")), text))
            return init, tools, results


def test_tools_are_listed_and_answer_as_the_cli():
    d, _, stats = fixture("listener_leak", 24)
    core = str(d / "core")
    init, tools, results = run(session_calls([
        ("findjsobjects", {"core": core, "top": 5}),
        ("leaks", {"core": core}),
        ("findjsinstances", {"core": core, "name": "UserSession", "limit": 2}),
        ("findjsobjects", {"core": "/nonexistent/core"}),
    ], max_bytes=1 << 22))
    assert attr(init, "server_info", "serverInfo").name == "v8dump"
    by_name = {t.name: t for t in tools}
    assert set(by_name) == TOOLS
    schema = attr(by_name["findjsinstances"], "input_schema", "inputSchema")
    assert {"core", "name"} <= set(schema["required"]), schema
    assert "executable" in schema["properties"]

    err, text = results[0]
    assert not err, text
    hist = json.loads(text)
    want = cli_json("findjsobjects", core, "--top", "5", "--json")
    assert hist == want
    assert len(hist["rows"]) == 5

    err, text = results[1]
    assert not err, text
    leaks = json.loads(text)
    assert leaks == cli_json("leaks", core, "--json")
    first = leaks["suspects"][0]
    assert first["kind"] == "event_listeners" and first["children"] == stats["extra"]["listeners"]

    err, text = results[2]
    assert not err, text
    inst = json.loads(text)
    assert inst == cli_json("findjsinstances", core, "UserSession", "--limit", "2", "--json")

    err, text = results[3]
    assert err and "/nonexistent/core" in text, text


def test_a_long_answer_is_cut_to_the_cap():
    d, _, _ = fixture("listener_leak", 24)
    core = str(d / "core")
    _, _, results = run(session_calls([
        ("findjsinstances", {"core": core, "name": "UserSession", "limit": 500}),
    ], max_bytes=4096))
    err, text = results[0]
    assert not err, text
    assert len(text.encode()) <= 4096
    a = json.loads(text)
    assert a["truncated"] is True
    full = cli_json("findjsinstances", core, "UserSession", "--limit", "500", "--json")
    kept = a["instances"]
    assert 0 < len(kept) < len(full["instances"])
    # What is kept is the start of the full answer, unchanged.
    assert kept == full["instances"][: len(kept)]
