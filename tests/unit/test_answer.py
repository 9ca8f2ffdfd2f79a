"""Offline answers: the right line, labelled as retrieved, and abstention when nothing fits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engram.core.agents import answer
from engram.core.agents.chat import CITATION, ChatAgent, topic_query
from engram.core.memory.store import NewMemory


@pytest.fixture
def notes(svc):
    t0 = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)
    svc.store.add(
        "resource",
        {
            "title": "House sitting notes for the Berlin flat",
            "resource_type": "document",
            "content": "Wi-Fi network: Altbau-5G, password on the fridge\n"
            "Gate code: 4471, press the bell twice\n"
            "Bins go out on Tuesday evening\n"
            "The cat eats twice a day, one scoop of dry food",
        },
        sources=[{"kind": "user", "ref": "t"}],
    )
    svc.store.add_many(
        [
            NewMemory(
                "episodic",
                {"summary": s, "occurred_at": t0 + timedelta(hours=i), "actor": a},
                sources=[{"kind": "user", "ref": "t"}],
            )
            for i, (a, s) in enumerate(
                [
                    ("Lena", "I booked the dentist for Thursday at 3pm."),
                    ("user", "Watched a documentary about deep sea creatures."),
                    ("user", "Paid the electricity bill, 84 euros."),
                ]
            )
        ]
    )
    return svc


def test_offline_answer_picks_the_line_that_answers(notes):
    ans = notes.ask("what is the gate code?")
    assert not ans.generated and not ans.abstained
    assert ans.text.startswith(answer.LABEL)
    assert "Gate code: 4471" in ans.text
    for other in ("Wi-Fi", "Bins", "cat eats"):
        assert other not in ans.text.split("\n")[0]
    cited = CITATION.findall(ans.text)
    assert cited and cited[0] == ans.citations[0]
    assert notes.get_memory(ans.citations[0]).type == "resource"


def test_offline_answer_gives_who_and_when(notes):
    ans = notes.ask("when is the dentist appointment?")
    assert "dentist for Thursday at 3pm" in ans.text
    assert "Lena" in ans.text and "2024" in ans.text


def test_abstains_when_nothing_matches(notes):
    ans = notes.ask("What is the capital of Mongolia?")
    assert ans.abstained and ans.text == answer.ABSTAIN
    assert ans.citations == []
    assert ans.public()["generated"] is False


def test_abstains_on_an_empty_store(svc):
    ans = svc.ask("where did I park the car?")
    assert ans.abstained and ans.memories == []


@pytest.mark.parametrize(
    ("cov", "cos", "exact", "ok"),
    [
        (0.0, 0.1, False, False),
        (0.3, 0.3, False, False),
        (0.34, 0.40, False, True),
        (0.6, 0.0, False, True),
        (0.0, 0.6, False, True),
        (0.0, 0.0, True, True),
    ],
)
def test_evidence_threshold(cov, cos, exact, ok):
    assert answer.Evidence(cov, cos, exact).answerable is ok


def test_units_split_lines_and_long_sentences():
    long = "First sentence is here and it is rather long. " * 3 + "Second one ends it all."
    assert answer.units("a line\n\n- bullet") == ["a line", "bullet"]
    assert len(answer.units(long)) == 4


def test_topic_follows_the_last_turn_when_the_question_leans_on_it():
    history = [
        {"role": "user", "content": "What did Lena say about the dinner on Friday?"},
        {"role": "assistant", "content": "She suggested risotto [ep_0123456789ab]."},
    ]
    assert "dinner on Friday" in topic_query("and what did she bring?", history)
    assert topic_query("Where is the gate code for the Berlin flat?", history) == (
        "Where is the gate code for the Berlin flat?"
    )


def test_public_shape(notes):
    d = ChatAgent(notes.store).ask("gate code").public()
    assert set(d) == {"answer", "memories", "citations", "generated"}
    assert d["memories"] and {"id", "type", "score", "text"} <= set(d["memories"][0])
