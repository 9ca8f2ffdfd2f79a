"""The offline (no-LLM) agent against a real store: events, resources, vault, messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engram.core.agents import rules
from engram.core.agents.batch import Batch, MessageItem
from engram.core.agents.offline import OfflineAgent
from engram.core.memory.inbox import Inbox, NewCapture

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)

REPORT_1 = """Quarterly report draft
Revenue grew by twelve percent in the northern region
File Edit Selection View
The migration to the new billing system finished in April"""
REPORT_2 = """Quarterly report draft
Revenue grew by twelve percent in the northern region
File Edit Selection View
Churn dropped after the onboarding redesign shipped in March"""
FLIGHT = """Your booking is confirmed
Flight LH2042 from Berlin to Munich departs at 07:15 from gate B22
Passenger Lena Fischer seat 14C economy class
Contact Lena Fischer <lena.fischer@example.com> for changes
Hotline Tel: +49 30 1234 5678"""


def _queue(svc, items):
    """Captures through the real inbox; returns the claimed batch."""
    inbox = Inbox(svc.store)
    for i, (offset, app, title, text, url) in enumerate(items):
        inbox.add_capture(
            NewCapture(
                at=T0 + timedelta(seconds=offset),
                monitor=0,
                app=app,
                title=title,
                url=url,
                text=text,
                uid=f"cap_{offset}_{i}",
            )
        )
    return inbox.claim(100)


CODE = ("code", "report.md - engram - Visual Studio Code")
FOX = ("firefox", "Flight LH2042 booking \u2014 Mozilla Firefox")


def test_same_window_is_one_event_updated_across_batches(svc):
    agent = OfflineAgent(svc.store)
    b1 = _queue(svc, [(0, *CODE, REPORT_1, None), (2, *CODE, REPORT_1, None)])
    r1 = agent.process(b1)
    assert r1.created["episodic"] == 1
    events = svc.store.list("episodic")
    assert len(events) == 1
    ev = events[0]
    assert ev.fields["summary"] == "Edited report.md in Visual Studio Code"
    assert ev.fields["event_type"] == "app_activity" and ev.trust == "screen"
    assert ev.fields["tree_path"] == ["Visual Studio Code"]
    assert "billing system" in ev.fields["details"]
    assert ev.fields["details"].count("Revenue grew") == 1  # deduplicated lines
    assert {s.ref for s in ev.sources} == {"cap_0_0", "cap_2_1"}

    # a new batch 3 minutes later on the same window updates the same event
    b2 = _queue(svc, [(180, *CODE, REPORT_2, None)])
    r2 = agent.process(b2)
    assert r2.created.get("episodic", 0) == 0 and r2.updated >= 1
    events = svc.store.list("episodic")
    assert len(events) == 1
    cur = events[0]
    assert cur.id != ev.id and cur.lineage == ev.lineage
    assert "onboarding redesign" in cur.fields["details"]
    assert "billing system" in cur.fields["details"]
    assert "cap_180_0" in {s.ref for s in cur.sources}
    assert len(svc.store.history(cur.id)) == 2

    # a fresh agent (restart) still finds the event through its capture sources
    b3 = _queue(svc, [(400, *CODE, REPORT_2 + "\nAppendix with tables", None)])
    OfflineAgent(svc.store).process(b3)
    assert len(svc.store.list("episodic")) == 1

    # more than 10 minutes later it is a new event
    b4 = _queue(svc, [(400 + 11 * 60, *CODE, REPORT_1, None)])
    assert OfflineAgent(svc.store).process(b4).created["episodic"] == 1
    assert len(svc.store.list("episodic")) == 2


def test_switching_windows_gives_events_per_stretch(svc):
    b = _queue(
        svc,
        [
            (0, *CODE, REPORT_1, None),
            (2, *FOX, FLIGHT, "https://air.example/b?t=1"),
            (4, *CODE, REPORT_2, None),
        ],
    )
    OfflineAgent(svc.store).process(b)
    summaries = sorted(m.fields["summary"] for m in svc.store.list("episodic"))
    # the second stretch of the editor continues the first event (same window, < 10 min)
    assert summaries == [
        "Edited report.md in Visual Studio Code",
        "Read 'Flight LH2042 booking' in Firefox",
    ]


def test_resources_dedup_by_title_and_content(svc):
    agent = OfflineAgent(svc.store)
    agent.process(_queue(svc, [(0, *FOX, FLIGHT, None)]))
    res = svc.store.list("resource")
    assert len(res) == 1
    assert res[0].fields["title"] == "Flight LH2042 booking"
    assert res[0].fields["resource_type"] == "web_page"
    assert "gate B22" in res[0].fields["content"]

    # same page, same text, an hour later: nothing new, no new version
    agent.process(_queue(svc, [(3600, *FOX, FLIGHT, None)]))
    assert len(svc.store.list("resource")) == 1
    assert len(svc.store.history(res[0].id)) == 1

    # same content under a different title (e.g. tab renamed): same resource, updated
    changed = FLIGHT + "\nBaggage allowance one cabin bag of eight kilograms"
    agent.process(
        _queue(svc, [(7200, "firefox", "Booking LH2042 - Mozilla Firefox", changed, None)])
    )
    res2 = svc.store.list("resource")
    assert len(res2) == 1 and res2[0].lineage == res[0].lineage
    assert "Baggage allowance" in res2[0].fields["content"]

    # a different document is a second resource, typed from the app
    agent.process(
        _queue(
            svc,
            [
                (
                    9000,
                    "code",
                    "offline.py - engram - Visual Studio Code",
                    "def process(self, batch):\n    return build_memories(batch)\n"
                    "class OfflineAgent handles captures without any model",
                    None,
                )
            ],
        )
    )
    types = sorted(m.fields["resource_type"] for m in svc.store.list("resource"))
    assert types == ["code_file", "web_page"]


def test_vault_contacts_bookmarks_and_no_redacted_values(svc):
    text = FLIGHT + "\nBackup mail [REDACTED:password] ops@example.com Anna Berg"
    b = _queue(svc, [(0, *FOX, text, "https://air.example/booking/42?session=abc#top")])
    OfflineAgent(svc.store).process(b)
    vault = {m.fields["caption"]: m for m in svc.store.list("knowledge_vault")}
    assert "Lena Fischer <lena.fischer@example.com>" in vault
    assert vault["Lena Fischer <lena.fischer@example.com>"].fields["sensitivity"] == "low"
    assert vault["Lena Fischer <lena.fischer@example.com>"].fields["entry_type"] == "contact"
    assert "https://air.example/booking/42" in vault  # query and fragment dropped
    assert vault["https://air.example/booking/42"].fields["entry_type"] == "bookmark"
    phones = [m for m in vault.values() if "+49 30 1234 5678" in m.fields["caption"]]
    assert len(phones) == 1 and phones[0].fields["sensitivity"] == "medium"
    assert not any("ops@example.com" in c for c in vault)  # line had a redaction placeholder
    assert all(not m.has_secret for m in vault.values())

    # seen again: deduplicated by value
    n = len(vault)
    OfflineAgent(svc.store).process(_queue(svc, [(60, *FOX, text, None)]))
    assert len(svc.store.list("knowledge_vault")) == n


def test_messages_one_memory_each_with_chat_source(svc):
    msgs = [
        MessageItem(
            conversation="conv-7",
            ref=f"D1:{i}",
            speaker=sp,
            text=tx,
            at=T0 + timedelta(seconds=30 * i),
            session="session_1",
        )
        for i, (sp, tx) in enumerate(
            [
                ("Caroline", "I went to the LGBTQ support group yesterday."),
                ("Melanie", "That sounds lovely! How did it go?"),
                ("Caroline", "   "),
                ("Caroline", "x" * 2500),
            ],
            start=1,
        )
    ]
    agent = OfflineAgent(svc.store)
    r = agent.process(Batch(id="b_msgs", messages=msgs))
    assert r.created == {"episodic": 3}
    mems = svc.store.list("episodic", newest_first=False)
    assert [m.sources[0].model_dump() for m in mems] == [
        {"kind": "chat", "ref": "D1:1"},
        {"kind": "chat", "ref": "D1:2"},
        {"kind": "chat", "ref": "D1:4"},
    ]
    first = mems[0]
    assert first.fields["summary"] == "I went to the LGBTQ support group yesterday."
    assert first.fields["actor"] == "Caroline" and first.fields["event_type"] == "conversation"
    assert first.fields["tree_path"] == ["conversations", "conv-7"]
    assert first.occurred_at == T0 + timedelta(seconds=30) and first.trust == "chat"
    assert len(mems[2].fields["summary"]) == 2000

    # processing the same messages again adds nothing; another conversation's D1:1 does
    assert agent.process(Batch(id="b_again", messages=msgs)).created == {}
    other = MessageItem(
        conversation="conv-8", ref="D1:1", speaker="Jon", text="Hi Gina", at=T0, session="session_1"
    )
    assert agent.process(Batch(id="b_other", messages=[other])).created == {"episodic": 1}


def test_rollback_removes_what_the_batch_wrote(svc):
    agent = OfflineAgent(svc.store)
    b1 = _queue(svc, [(0, *CODE, REPORT_1, None)])
    agent.process(b1)
    before = {m.id for t in ("episodic", "resource", "knowledge_vault") for m in svc.store.list(t)}
    b2 = _queue(svc, [(60, *CODE, REPORT_2, None), (62, *FOX, FLIGHT, "https://air.example/x")])
    r = agent.process(b2)
    assert r.updated >= 1 and r.created
    assert svc.store.counts()["knowledge_vault"] >= 2
    out = svc.store.rollback_batch(b2.id)
    assert out["removed"] >= 3 and out["restored"] >= 1
    after = {m.id for t in ("episodic", "resource", "knowledge_vault") for m in svc.store.list(t)}
    assert after == before
    ev = svc.store.list("episodic")[0]
    assert "onboarding" not in ev.fields["details"] and ev.current


def test_rules_titles_and_kinds():
    assert rules.event_summary("gnome-terminal-server", "lena@host: ~/src") == (
        "Worked in the terminal: lena@host: ~/src"
    )
    assert rules.clean_title("\u25cf notes.txt - gedit", "gedit") == "notes.txt"
    assert rules.event_summary("thunderbird", "Inbox - Mozilla Thunderbird") == (
        "Read mail 'Inbox' in Thunderbird"
    )
    assert rules.app_kind("slack") == "chat" and rules.app_kind("xcode-select") == "other"
    assert rules.normalise_url("https://user:pw@x.example/a") is None
