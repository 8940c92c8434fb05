"""Footnote as an MCP server (`python app.py --mcp`): the `mcp` client lists the tools over loopback and calls
`search`, `ask` and `list_documents` against the running app (fake models, the sample library)."""

from __future__ import annotations

import ast
import asyncio
import json

import pytest

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


def test_mcp_is_refused_in_public_mode():
    import app as footnote_app
    from rag.errors import ConfigError

    with pytest.raises(ConfigError, match="--local"):
        footnote_app.configure(footnote_app.parse_args(["--mcp", "--public"]))


def test_mcp_with_a_login_is_refused_because_gradio_does_not_guard_its_mcp_routes():
    import app as footnote_app
    from rag.errors import ConfigError

    with pytest.raises(ConfigError, match="do not check the login"):
        footnote_app.configure(footnote_app.parse_args(["--mcp", "--auth", "user:secret"]))
