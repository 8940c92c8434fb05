"""Footnote as an MCP server (`python app.py --mcp`): the `mcp` client lists the tools over loopback and calls
`search`, `ask` and `list_documents` against the running app (fake models, the sample library)."""

from __future__ import annotations

import ast
import asyncio
import json

from tests.browser import make_engine, serve


async def _session_calls(url: str) -> dict:
    from mcp import ClientSession
    from mcp.client.sse import sse_client
    from mcp.client.streamable_http import streamablehttp_client

    endpoint = f"{url.rstrip('/')}/gradio_api/mcp/"
    async with streamablehttp_client(endpoint) as (read, write, _), ClientSession(read, write) as session:
        await session.initialize()
        tools = {t.name: t for t in (await session.list_tools()).tools}
        question = "What does LoRA train instead of the full weights?"
        found = await session.call_tool("search", {"query": question, "k": 3})
        listed = await session.call_tool("list_documents", {})
        answered = await session.call_tool("ask", {"question": "What is LoRA?"})
    sse = f"{url.rstrip('/')}/gradio_api/mcp/sse"  # the older transport some clients still use
    async with sse_client(sse) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        sse_tools = {t.name for t in (await session.list_tools()).tools}
    return {"tools": tools, "search": found, "list": listed, "ask": answered, "sse_tools": sse_tools}


def _json(result) -> object:
    """Gradio's MCP server sends a tool's return value as its Python text form."""
    assert not result.isError, result.content
    return ast.literal_eval(result.content[0].text)


def test_mcp_tools_search_ask_and_list_the_library(tmp_path):
    engine = make_engine(tmp_path, mcp=True)
    with serve(engine) as url:
        got = asyncio.run(_session_calls(url))
    tools = got["tools"]
    assert {"search", "ask", "list_documents"} <= set(tools) and got["sse_tools"] == set(tools), sorted(tools)
    assert not any(name.startswith("ui_") or name in ("refresh", "pick", "undo", "clear") for name in tools)
    assert "page" in tools["search"].description and "query" in json.dumps(tools["search"].inputSchema)
    hits = _json(got["search"])
    assert hits and hits[0]["document"] == "03-fine-tuning.md" and hits[0]["page"] == 1 and "LoRA" in hits[0]["text"]
    names = [d["name"] for d in _json(got["list"])]
    assert "03-fine-tuning.md" in names and "agents-primer.pdf" in names
    answer = _json(got["ask"])
    final = answer[-1] if isinstance(answer, list) else answer
    assert final["status"] == "done" and final["citations"], final
    assert final["citations"][0]["document"] and final["citations"][0]["page"] >= 1


async def _list_with(url: str, headers: dict[str, str]) -> object:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    endpoint = f"{url.rstrip('/')}/gradio_api/mcp/"
    async with streamablehttp_client(endpoint, headers=headers) as (read, write, _), ClientSession(read, write) as s:
        await s.initialize()
        return await s.call_tool("list_documents", {})


def test_in_public_mode_each_mcp_client_has_its_own_library(tmp_path):
    """Gradio's MCP server calls every tool through one client of its own; the library is named by a header."""
    import hashlib

    from ui.api import MCP_LIBRARY_HEADER

    engine = make_engine(tmp_path, public=True, mcp=True, sample_dir=None)
    alice_secret = "alice-0123456789-secret"
    note = tmp_path / "alice-notes.txt"
    note.write_text("Alice's private notes about the blue door.\n")
    alice = engine.library("mcp-" + hashlib.sha256(alice_secret.encode()).hexdigest()[:32])
    assert alice.ingest([note])[0].status == "indexed"
    with serve(engine) as url:
        seen_by_alice = _json(asyncio.run(_list_with(url, {MCP_LIBRARY_HEADER: alice_secret})))
        seen_by_bob = _json(asyncio.run(_list_with(url, {MCP_LIBRARY_HEADER: "bob-0123456789-secret"})))
        anonymous = asyncio.run(_list_with(url, {}))
    assert [d["name"] for d in seen_by_alice] == ["alice-notes.txt"] and seen_by_bob == []
    assert anonymous.isError and MCP_LIBRARY_HEADER in anonymous.content[0].text


def test_with_a_login_mcp_tool_calls_need_the_same_credentials(tmp_path):
    """Gradio's MCP server cannot call tools behind the login by itself, and its routes do not ask for it: the app
    logs its client in and the tools check each call's own credentials."""
    import base64

    engine = make_engine(tmp_path, mcp=True, auth=("user", "pw-4711"))
    good = "Basic " + base64.b64encode(b"user:pw-4711").decode()
    with serve(engine) as url:
        allowed = asyncio.run(_list_with(url, {"Authorization": good}))
        refused = asyncio.run(_list_with(url, {}))
        wrong = asyncio.run(_list_with(url, {"Authorization": "Basic " + base64.b64encode(b"user:guess").decode()}))
    assert "agents-primer.pdf" in [d["name"] for d in _json(allowed)]
    assert refused.isError and wrong.isError and "Authorization: Basic" in refused.content[0].text


def test_mcp_is_on_by_default_on_spaces():
    from ui.config import AppSettings

    assert AppSettings.from_env({}).mcp is False
    assert AppSettings.from_env({"SPACE_ID": "me/footnote"}).mcp is True
    assert AppSettings.from_env({"SPACE_ID": "me/footnote", "FOOTNOTE_AUTH": "u:p"}).mcp is True
