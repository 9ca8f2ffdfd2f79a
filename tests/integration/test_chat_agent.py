"""The chat agent against the fake OpenAI-compatible server over real HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from engram.core.agents.chat import ChatAgent
from engram.core.llm.client import LLMClient, LLMConfig
from engram.core.memory.store import NewMemory
from tests.conftest import run_cli

SECRET = "ghp_Zq8secretVALUE0000000000000000000000"


@pytest.fixture
def client(fake_llm):
    c = LLMClient(LLMConfig(base_url=fake_llm.base_url, model="fake-model", max_retries=0))
    yield c
    c.close()


@pytest.fixture
def mems(svc):
    t0 = datetime(2024, 5, 6, 8, 0, tzinfo=UTC)
    items = [
        ("Lena", "Booked flight LH2042 to Munich, departs 10:15 from gate B7"),
        ("Lena", "Dinner at the Italian place on Friday, Lena wants risotto"),
        ("user", "Read the quarterly report draft, numbers look fine"),
    ]
    out = svc.store.add_many(
        [
            NewMemory(
                "episodic",
                {"summary": s, "actor": a, "occurred_at": t0 + timedelta(hours=i)},
                sources=[{"kind": "user", "ref": "t"}],
            )
            for i, (a, s) in enumerate(items)
        ]
    )
    vault = svc.store.add(
        "knowledge_vault",
        {
            "caption": "GitHub personal access token for work",
            "entry_type": "api_key",
            "sensitivity": "high",
            "secret_value": SECRET,
        },
        sources=[{"kind": "user", "ref": "t"}],
    )
    svc.store.set_core_block("human", "The user is called Sam and flies often.")
    return {"flight": out[0], "dinner": out[1], "report": out[2], "vault": vault}


def system_prompt(req) -> str:
    return req.body["messages"][0]["content"]


def test_streams_a_cited_answer(svc, fake_llm, client, mems):
    flight = mems["flight"].id
    fake_llm.reply("READY")
    fake_llm.reply(f"Your flight was LH2042 to Munich [{flight}]. Also [ep_000000000000].")
    events = list(ChatAgent(svc.store, client).stream("what was my flight code?"))
    deltas = [v for k, v in events if k == "delta"]
    kind, ans = events[-1]
    assert kind == "done" and len(deltas) > 3  # streamed word by word
    assert "".join(deltas).startswith("Your flight was LH2042")
    assert ans.generated and ans.citations == [flight]
    assert "ep_000000000000" not in ans.text  # an id that does not exist is dropped
    assert svc.get_memory(ans.citations[0]).fields["summary"].startswith("Booked flight LH2042")
    stream_req = fake_llm.chat_requests()[-1]
    assert stream_req.body.get("stream") is True
    prompt = system_prompt(stream_req)
    assert f"[{flight}]" in prompt and "2024-05-06 08:00 UTC" in prompt
    assert "<<<MEMORY_DATA id=retrieved>>>" in prompt and "<<<END_MEMORY_DATA>>>" in prompt
    assert "The user is called Sam" in prompt  # core memory
    assert "READY" not in json.dumps(stream_req.body)  # the tool phase stays in its probe


def test_vault_secret_never_reaches_the_model(svc, fake_llm, client, mems):
    fake_llm.tool_calls(("search_memory", {"query": "github token", "type": "knowledge_vault"}))
    fake_llm.reply("READY")
    fake_llm.reply(f"You keep a GitHub token [{mems['vault'].id}]; reveal it in the app.")
    ans = svc_agent(svc, client).ask("what is my github token?")
    assert ans.citations == [mems["vault"].id]
    sent = fake_llm.all_request_text()
    assert SECRET not in sent and SECRET[4:20] not in sent
    assert "GitHub personal access token for work" in sent
    tool_msgs = [m for m in fake_llm.chat_requests()[-1].body["messages"] if m["role"] == "tool"]
    assert tool_msgs and "secret value hidden" in tool_msgs[0]["content"]
    assert svc.reveal_secret(mems["vault"].id) == SECRET  # it is still there, just not sent


def svc_agent(svc, client):
    return ChatAgent(svc.store, client)


def test_tools_search_and_timeline_results_reach_the_answer(svc, fake_llm, client, mems):
    fake_llm.tool_calls(
        ("list_timeline", {"start": "2024-05-06T00:00:00+00:00", "end": "2024-05-07T00:00:00"}),
        ("search_memory", {"query": "quarterly report", "k": 2}),
    )
    fake_llm.tool_calls(("search_memory", "{not json"))
    fake_llm.reply("READY")
    fake_llm.reply(f"On 6 May you read the report [{mems['report'].id}].")
    ans = ChatAgent(svc.store, client).ask("what happened on 6 May 2024?")
    final = fake_llm.chat_requests()[-1].body["messages"]
    tool_texts = [m["content"] for m in final if m["role"] == "tool"]
    assert len(tool_texts) == 3
    assert mems["dinner"].id in tool_texts[0]  # the timeline lists that day's events
    assert mems["report"].id in tool_texts[1]
    assert tool_texts[2].startswith("error:")  # bad arguments go back to the model
    assert ans.citations == [mems["report"].id]
    assert mems["report"].id in [h.memory.id for h in ans.memories][:1]


def test_tool_rounds_are_bounded(svc, fake_llm, client, mems):
    def script(body):  # a model that never stops searching when it may
        if body.get("tools"):
            return [("search_memory", {"query": "flight"})]
        return "I don't have a memory of that."

    fake_llm.handler(script)
    ans = ChatAgent(svc.store, client, max_tool_rounds=2).ask("what is the meaning of life?")
    assert len(fake_llm.chat_requests()) == 3  # 2 tool rounds + the streamed answer
    assert ans.generated and ans.abstained and ans.citations == []


def test_model_answering_in_the_tool_phase_is_used_directly(svc, fake_llm, client, mems):
    fake_llm.reply(f"Friday dinner is at the Italian place [{mems['dinner'].id}].")
    ans = ChatAgent(svc.store, client).ask("where is dinner on Friday?")
    assert len(fake_llm.chat_requests()) == 1
    assert ans.citations == [mems["dinner"].id]


def test_llm_failure_falls_back_to_the_extractive_answer(svc, fake_llm, client, mems):
    fake_llm.error(500, times=3)
    ans = ChatAgent(svc.store, client).ask("what was the flight code LH2042?")
    assert not ans.generated
    assert "LH2042" in ans.text and "language model is unavailable" in ans.text
    assert ans.citations[0] == mems["flight"].id


def test_service_ask_uses_the_configured_llm(fake_llm, monkeypatch, embedder):
    from engram.core.service import EngramService

    monkeypatch.setenv("ENGRAM_LLM_BASE_URL", fake_llm.base_url)
    monkeypatch.setenv("ENGRAM_LLM_MODEL", "fake-model")
    with EngramService(embedder=embedder) as svc:
        m = svc.add_memory("episodic", {"summary": "Parked the car on level 3, spot 42"})
        fake_llm.reply("READY")
        fake_llm.reply(f"Level 3, spot 42 [{m.id}].")
        events = list(svc.ask_stream("where did I park?"))
        assert events[-1][0] == "done" and events[-1][1].citations == [m.id]
        assert svc.status()["tokens_today"] > 0  # usage went to the token ledger


def test_cli_import_chat_then_ask_offline(tmp_path):
    lines = [
        {
            "id": "m1",
            "role": "Lena",
            "content": "The gate code for the flat is 4471.",
            "at": "2024-03-01T09:30:00+00:00",
        },
        {
            "id": "m2",
            "role": "Sam",
            "content": "Thanks, I will be there at six.",
            "at": "2024-03-01T09:31:00+00:00",
        },
    ]
    path = tmp_path / "chat.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines))
    r = run_cli("import-chat", str(path), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["messages"] == 2 and out["memories"].get("episodic") == 2
    r = run_cli("ask", "what is the gate code?", "--json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert "4471" in got["answer"] and got["generated"] is False
    assert got["memories"][0]["sources"] == [{"kind": "chat", "ref": "m1"}]
    assert got["citations"][0] == got["memories"][0]["id"]


def test_cli_import_chat_of_a_missing_file_is_a_clear_error(tmp_path, capsys):
    from engram.cli import main

    assert main(["import-chat", str(tmp_path / "missing.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err
