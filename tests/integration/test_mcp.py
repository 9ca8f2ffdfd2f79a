"""The MCP server with the SDK's own client: over stdio (a real subprocess on a temp store)
and over streamable HTTP (token, Host check). No vault secret may appear in any output."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import httpx2
import keyring.core
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from tests.fakes.keyrings import FileKeyring

ROOT = Path(__file__).resolve().parents[2]
LOW_SECRET = "hunter2-office-wifi-7731"
HIGH_SECRET = "4711-sparkasse-pin-9902"
HIGH_CAPTION = "Sparkasse debit card PIN"
TOOLS = {"search_memory", "ask", "timeline", "get_memory", "add_memory"}


@pytest.fixture
def store(isolated_env, embedder, monkeypatch):
    """A store with known memories, made with the file keyring a subprocess can read."""
    from engram.core.service import EngramService

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.fakes.keyrings.FileKeyring")
    keyring.core.set_keyring(FileKeyring())
    with EngramService(embedder=embedder) as svc:
        ids = {
            "meeting": svc.add_memory(
                "episodic",
                {
                    "summary": "Met Lena to plan the Q3 roadmap in Berlin",
                    "event_type": "meeting",
                    "occurred_at": "2026-03-04T10:30:00+00:00",
                },
            ).id,
            "fact": svc.add_memory(
                "semantic", {"name": "Zephyr project", "summary": "Zephyr ships in October"}
            ).id,
            "low": svc.add_memory(
                "knowledge_vault",
                {
                    "caption": "Office wifi password",
                    "sensitivity": "low",
                    "secret_value": LOW_SECRET,
                },
            ).id,
            "high": svc.add_memory(
                "knowledge_vault",
                {"caption": HIGH_CAPTION, "sensitivity": "high", "secret_value": HIGH_SECRET},
            ).id,
        }
        svc.add_memory("core", {"label": "human", "value": "Name: Ada Lovelace. Lives in Berlin."})
    return ids


def _dump(result) -> str:
    return json.dumps(result.model_dump(mode="json"), ensure_ascii=False)


async def _session(client: Client, ids: dict[str, str]) -> list[str]:
    """Drive every tool and resource; returns every raw output for the secret scan."""
    seen: list[str] = []

    async def call(name: str, args: dict):
        res = await client.call_tool(name, args)
        seen.append(_dump(res))
        return res

    tools = await client.list_tools()
    assert {t.name for t in tools.tools} == TOOLS
    schema = next(t for t in tools.tools if t.name == "search_memory").input_schema
    assert schema["required"] == ["query"]

    res = await call("search_memory", {"query": "Lena roadmap Berlin", "k": 3})
    assert not res.is_error
    results = res.structured_content["results"]
    assert results[0]["id"] == ids["meeting"]
    assert "Lena" in json.loads(res.content[0].text)["results"][0]["text"]
    typed = await call("search_memory", {"query": "Zephyr", "type": "semantic"})
    assert [h["id"] for h in typed.structured_content["results"]] == [ids["fact"]]

    for q in (HIGH_CAPTION, "Sparkasse PIN debit card"):
        hits = (await call("search_memory", {"query": q, "k": 50})).structured_content
        assert ids["high"] not in [h["id"] for h in hits["results"]]
    hidden = await call("get_memory", {"id": ids["high"]})
    assert hidden.is_error and "not found" in hidden.content[0].text
    low = await call("get_memory", {"id": ids["low"]})
    assert low.structured_content["has_secret"] is True
    assert "secret_value" not in low.structured_content["fields"]

    tl = await call(
        "timeline", {"start": "2026-03-04T00:00:00+00:00", "end": "2026-03-05T00:00:00+00:00"}
    )
    assert [m["id"] for m in tl.structured_content["memories"]] == [ids["meeting"]]

    added = await call(
        "add_memory",
        {"type": "episodic", "fields": {"summary": "Booked flight LH2042 to Lisbon"}},
    )
    new = added.structured_content
    assert new["trust"] == "user" and new["sources"][0]["ref"].startswith("mcp:")
    again = await call("search_memory", {"query": "LH2042"})
    assert again.structured_content["results"][0]["id"] == new["id"]
    bad = await call("add_memory", {"type": "semantic", "fields": {"name": "x"}})
    assert bad.is_error and "fields.summary" in bad.content[0].text
    vault = await call(
        "add_memory",
        {
            "type": "knowledge_vault",
            "fields": {"caption": "Router login", "secret_value": "r0uter!"},
        },
    )
    assert vault.structured_content["has_secret"] is True
    assert "r0uter!" not in _dump(vault)

    answer = await call("ask", {"question": "What is my Sparkasse debit card PIN?"})
    assert not answer.is_error
    assert ids["high"] not in answer.structured_content["citations"]
    assert HIGH_CAPTION.lower() not in answer.structured_content["answer"].lower()

    uris = {str(r.uri) for r in (await client.list_resources()).resources}
    assert {"engram://core/human", "engram://core/persona"} <= uris
    human = await client.read_resource("engram://core/human")
    seen.append(_dump(human))
    assert human.contents[0].text == "Name: Ada Lovelace. Lives in Berlin."
    persona = await client.read_resource("engram://core/persona")
    assert persona.contents[0].text == ""
    return seen


def test_stdio_session(store):
    env = dict(os.environ)
    env["PYTHON_KEYRING_BACKEND"] = "tests.fakes.keyrings.FileKeyring"
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "engram.core.api.mcp_server"], env=env, cwd=str(ROOT)
    )

    async def main() -> list[str]:
        async with Client(params, read_timeout_seconds=60) as client:
            return await _session(client, store)

    outputs = asyncio.run(asyncio.wait_for(main(), 100))
    assert len(outputs) > 10
    for text in outputs:
        assert LOW_SECRET not in text and HIGH_SECRET not in text and "r0uter!" not in text


@pytest.mark.parametrize("server", ["mcp_only", "with_api"])
def test_http_needs_token_and_loopback_host(store, embedder, server):
    from engram.core.api import start_api_server
    from engram.core.api.mcp_server import serve_http
    from engram.core.api.token import get_token
    from engram.core.service import EngramService

    with EngramService(embedder=embedder) as svc:
        handle = serve_http(svc, 0) if server == "mcp_only" else start_api_server(svc, 0)
        url = handle.url if server == "mcp_only" else handle.mcp_url
        try:
            assert url.endswith("/mcp") and url.startswith("http://127.0.0.1:")
            token = get_token(svc.paths)
            ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
            hdrs = {"Accept": "application/json, text/event-stream"}
            assert httpx.post(url, json=ping, headers=hdrs).status_code == 401
            wrong = {**hdrs, "Authorization": "Bearer not-the-token"}
            r = httpx.post(url, json=ping, headers=wrong)
            assert r.status_code == 401 and r.json() == {"error": "unauthorized"}
            evil = {**hdrs, "Authorization": f"Bearer {token}", "Host": "rebind.attacker.test"}
            assert httpx.post(url, json=ping, headers=evil).status_code == 421

            statuses: list[int] = []

            async def record(response) -> None:
                statuses.append(response.status_code)

            async def with_token(tok: str) -> list[str]:
                async with httpx2.AsyncClient(
                    headers={"Authorization": f"Bearer {tok}"},
                    timeout=60,
                    event_hooks={"response": [record]},
                ) as http:
                    transport = streamable_http_client(url, http_client=http)
                    async with Client(transport, read_timeout_seconds=60) as client:
                        return await _session(client, store)

            outputs = asyncio.run(asyncio.wait_for(with_token(token), 100))
            for text in outputs:
                assert LOW_SECRET not in text and HIGH_SECRET not in text
            assert statuses and set(statuses) <= {200, 202, 204}
            statuses.clear()
            with pytest.raises(Exception, match="unhandled errors|error response"):
                asyncio.run(asyncio.wait_for(with_token("wrong"), 30))
            assert statuses and set(statuses) == {401}  # no request got past the guard
        finally:
            handle.stop()


def test_http_command_serves_until_sigterm(store):
    """`python -m engram.core.api.mcp_server --http` (what `engram mcp --http` runs)."""
    from engram.core.api.token import get_token
    from engram.core.config import Paths

    env = dict(os.environ, PYTHON_KEYRING_BACKEND="tests.fakes.keyrings.FileKeyring")
    proc = subprocess.Popen(
        [sys.executable, "-m", "engram.core.api.mcp_server", "--http", "--port", "0", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=str(ROOT),
    )
    try:
        info = json.loads(proc.stdout.readline())
        url = info["mcp_url"]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/mcp")
        token = get_token(Paths())  # the same file keyring as the server
        init = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "0"},
            },
        }
        hdrs = {"Accept": "application/json, text/event-stream"}
        assert httpx.post(url, json=init, headers=hdrs).status_code == 401
        ok = httpx.post(url, json=init, headers={**hdrs, "Authorization": f"Bearer {token}"})
        assert ok.status_code == 200 and "serverInfo" in ok.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
