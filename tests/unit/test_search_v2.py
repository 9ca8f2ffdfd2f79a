"""Retrieval v2 on a real store: exact codes, time phrases, neighbouring turns, speakers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engram.core.memory import rank
from engram.core.memory.search import hybrid_search, plan_query
from engram.core.memory.store import NewMemory


def episode(summary: str, at: datetime, actor: str = "user", tree=None, ref: str | None = None):
    fields = {"summary": summary, "occurred_at": at, "actor": actor, "event_type": "note"}
    if tree:
        fields["tree_path"] = tree
        fields["event_type"] = "conversation"
    sources = [{"kind": "chat", "ref": ref}] if ref else [{"kind": "user", "ref": "t"}]
    return NewMemory(type="episodic", fields=fields, sources=sources)


# -- exact tokens ------------------------------------------------------------------------


def test_exact_tokens_are_codes_addresses_amounts():
    q = "Was LH2042 booked from 10.0.4.17 for $1,249.00 on the 3rd at 5pm? ref AB-12"
    assert rank.exact_tokens(q) == ["LH2042", "10.0.4.17", "$1,249.00", "AB-12"]
    assert rank.exact_tokens("what did I read yesterday?") == []


def test_contains_exact_respects_token_boundaries():
    assert rank.contains_exact("Total: $1,249.00.", "$1,249.00")
    assert rank.contains_exact("ip 10.0.4.17, ok", "10.0.4.17")
    assert not rank.contains_exact("code LH20421", "LH2042")
    assert not rank.contains_exact("host 10.0.4.170", "10.0.4.17")
    assert rank.near_misses("Flight LH2043 to Berlin", ["LH2042"])
    assert rank.near_misses("backup at 10.0.4.170", ["10.0.4.17"])
    assert not rank.near_misses("Flight LH2042 to Munich", ["LH2042"])


@pytest.fixture
def codes(svc):
    now = datetime.now(UTC) - timedelta(days=2)
    texts = [
        "Booked flight LH2043 to Berlin for the conference",
        "Booked flight LH2042 to Munich, seat 14C",
        "The staging server at 10.0.4.170 is the backup box",
        "The database server lives at 10.0.4.17 behind the VPN",
        "Invoice from the printer shop: total $1,249.50",
        "Invoice for the new laptop: total $1,249.00 paid by card",
        "Weekly flight prices newsletter about cheap flights to Munich",
    ]
    mems = svc.store.add_many([episode(t, now + timedelta(minutes=i)) for i, t in enumerate(texts)])
    return {m.fields["summary"]: m.id for m in mems}


@pytest.mark.parametrize(
    ("query", "want", "never"),
    [
        ("what was the flight code LH2042?", "LH2042", "LH2043"),
        ("LH2042", "LH2042", "LH2043"),
        ("which server is 10.0.4.17", "10.0.4.17", "10.0.4.170"),
        ("the invoice of $1,249.00", "$1,249.00", "$1,249.50"),
    ],
)
def test_codes_match_exactly_never_fuzzily(svc, codes, query, want, never):
    hits = svc.search(query, k=5)
    texts = [h.memory.fields["summary"] for h in hits]
    assert want in texts[0]
    assert not any(never in t for t in texts), texts
    assert hits[0].signals["exact"] == 1.0


def test_a_query_without_codes_still_finds_both_flights(svc, codes):
    texts = [h.memory.fields["summary"] for h in svc.search("booked flights", k=5)]
    assert any("LH2042" in t for t in texts) and any("LH2043" in t for t in texts)


# -- time --------------------------------------------------------------------------------


@pytest.fixture
def days(svc):
    now = datetime.now().astimezone()
    yesterday = (now - timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    last_week = yesterday - timedelta(days=6)
    items = [
        episode("Read an article about solar panels on the roof", yesterday),
        episode("Read a long article about solar panels and home batteries", last_week),
        episode("Read an article about solar panel subsidies", last_week + timedelta(hours=2)),
    ]
    return svc.store.add_many(items)


def test_yesterday_in_the_query_filters_by_time(svc, days):
    hits = svc.search("what did I read about solar panels yesterday?", k=10)
    assert [h.memory.id for h in hits] == [days[0].id]
    assert "outside_time_range" not in hits[0].signals


def test_time_phrase_is_removed_from_the_search_text(svc, days):
    plan = plan_query(svc.store, "solar panels yesterday afternoon", parse_time=True)
    assert plan.text == "solar panels"
    assert plan.since is not None and plan.until is not None
    assert plan.until - plan.since == timedelta(hours=6)


def test_explicit_range_wins_over_the_phrase(svc, days):
    since = days[1].occurred_at - timedelta(minutes=1)
    until = days[2].occurred_at + timedelta(minutes=1)
    hits = svc.search("solar panels yesterday", k=10, since=since, until=until)
    assert {h.memory.id for h in hits} == {days[1].id, days[2].id}


def test_an_empty_range_falls_back_to_the_whole_store(svc, days):
    hits = svc.search("solar panels 4 years ago", k=10)
    assert {h.memory.id for h in hits} >= {d.id for d in days}
    assert all(h.signals.get("outside_time_range") for h in hits)


def test_before_an_event_is_anchored_on_that_event(svc):
    t0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
    svc.store.add_many(
        [
            episode("Sketched the onboarding screens in Figma", t0),
            episode("Design review of the onboarding flow with Priya", t0 + timedelta(days=1)),
            episode("Sketched the settings screens in Figma", t0 + timedelta(days=2)),
        ]
    )
    hits = svc.search("what did I sketch before the design review", k=5)
    texts = [h.memory.fields["summary"] for h in hits]
    assert texts and "onboarding screens" in texts[0]
    assert not any("settings screens" in t for t in texts)


# -- neighbours and speakers -------------------------------------------------------------


DISTRACTORS = [
    "Dinner reservations at the steakhouse are confirmed for Saturday",
    "Friday team lunch moved to noon because of the all-hands",
    "Cooking class on Friday evening was fun, we made dumplings",
    "Grocery list: eggs, milk, bread, coffee beans",
    "Plans for the weekend: hiking if the weather holds",
    "Dinner with the neighbours was cancelled, they are sick",
    "Tried a new ramen place downtown, the broth was great",
    "Friday standup notes: release slipped to next week",
    "Meal prep Sunday: chicken, rice and roasted vegetables",
    "Booked a table for two at the sushi bar on Thursday",
    "Lunch plans with Sam fell through",
    "The barbecue party plans are set for next Friday",
]


@pytest.fixture
def chat(svc):
    t0 = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
    turns = [
        ("Lena", "Hey Max! Long week, I finally finished the pottery class."),
        ("Max", "Nice! So what should we cook for dinner on Friday?"),
        ("Lena", "How about that mushroom risotto from the Italian place?"),
        ("Max", "Great, I will buy arborio rice and parmesan."),
        ("Max", "Lena, my family is visiting soon, they want to meet you."),
        ("Lena", "My family is visiting in June as well."),
        ("Max", "I adopted a puppy last month, her name is Pixel."),
    ]
    items = [
        episode(text, t0 + timedelta(seconds=30 * i), who, ["conversations", "c1"], f"D1:{i + 1}")
        for i, (who, text) in enumerate(turns)
    ]
    other = datetime(2023, 1, 2, 9, 0, tzinfo=UTC)
    items += [
        episode(text, other + timedelta(days=i), "user", ["notes", f"n{i}"])
        for i, text in enumerate(DISTRACTORS)
    ]
    return svc.store.add_many(items)[: len(turns)]


def test_hits_carry_their_thread_neighbours(svc, chat):
    hits = svc.search("what should we cook for dinner", k=5)
    top = hits[0]
    assert top.memory.id == chat[1].id
    assert [m.id for m in top.context] == [chat[0].id, chat[2].id]


def test_neighbouring_turns_lift_the_answer_turn(svc, chat):
    # the "risotto" turn shares no word with the question; the turn before it does
    def rank_of(context: bool) -> int:
        ids = [
            h.memory.id
            for h in hybrid_search(svc.store, "plans for Friday dinner", k=19, context=context)
        ]
        return ids.index(chat[2].id)

    assert rank_of(True) < rank_of(False)


def test_speaker_named_in_the_query_is_preferred(svc, chat, monkeypatch):
    from engram.core.memory import search

    q = "what did Lena say about her family visiting"
    hits = hybrid_search(svc.store, q, k=3)
    assert hits[0].memory.id == chat[5].id
    monkeypatch.setattr(search, "NAME_BOOST", 0.0)
    monkeypatch.setattr(search, "STRIP_NAMES", False)
    assert hybrid_search(svc.store, q, k=3)[0].memory.id == chat[4].id  # the name as a word


def test_context_off_gives_plain_fusion(svc, chat):
    hits = hybrid_search(svc.store, "what should we cook for dinner", k=3, context=False)
    assert hits and all(h.context == [] for h in hits)


def test_hit_public_shape(svc, chat):
    d = svc.search("puppy", k=1)[0].public()
    assert set(d) == {"id", "type", "score", "text", "occurred_at", "sources"}
    assert d["sources"] == [{"kind": "chat", "ref": "D1:7"}]


def test_bad_k_is_a_clear_error(svc):
    with pytest.raises(ValueError, match="k must be"):
        hybrid_search(svc.store, "x", k=0)


def test_time_range_gives_the_same_hits_from_the_index_and_the_ledger_scan(svc, days, monkeypatch):
    from engram.core.memory import search

    since = days[1].occurred_at - timedelta(minutes=1)
    until = days[2].occurred_at + timedelta(minutes=1)

    def hits() -> list[str]:
        return [h.memory.id for h in svc.search("solar panels", k=5, since=since, until=until)]

    scanned = hits()  # the ledger's vectors
    monkeypatch.setattr(search, "EXACT_SCAN_MAX", 0)
    in_memory = hits()  # rangescan's int8 copies
    monkeypatch.setattr(search, "range_scan", lambda store: _Incomplete())
    indexed = hits()  # Chroma's filtered query, when a vector is missing from the ledger
    assert indexed == in_memory == scanned and set(scanned) == {days[1].id, days[2].id}


class _Incomplete:
    def search(self, *_a, **_k):
        return [], -1


# -- broad lexical queries ----------------------------------------------------------------


def test_broad_or_queries_are_split_but_keep_the_best_bm25_hits(svc, monkeypatch):
    """All terms AND-ed plus the rare ones OR-ed: the top of the plain OR ranking survives."""
    from engram.core.memory import search

    now = datetime.now(UTC) - timedelta(days=1)
    texts = [f"project meeting notes number {i}" for i in range(30)]  # broad: 30 each
    texts += [f"project budget line {i}" for i in range(10)]  # one broad term only
    texts += ["project meeting about the pelican survey", "pelican survey in the marsh"]
    mems = svc.store.add_many([episode(t, now + timedelta(minutes=i)) for i, t in enumerate(texts)])
    ids = {m.fields["summary"]: m.id for m in mems}
    terms = search.query_terms("project meeting pelican")
    plain = search.fts_ranked(svc.store, search.fts_expression(terms), ["episodic"], None, None, 60)
    monkeypatch.setattr(search, "BROAD_POSTINGS", 20)
    monkeypatch.setattr(search, "RARE_DOCS", 5)
    split = search.lexical_ranked(svc.store, terms, ["episodic"], None, None, 60)
    assert set(split[:2]) == {
        ids["project meeting about the pelican survey"],  # every term
        ids["pelican survey in the marsh"],  # the rare term alone
    }
    assert split[:2] == plain[:2]  # in BM25's own order
    # memories holding only broad terms are the ones left to the vector ranking
    assert ids["project budget line 3"] in plain and ids["project budget line 3"] not in split
    assert len(split) == 2
    # below the threshold the plain OR query runs
    monkeypatch.setattr(search, "BROAD_POSTINGS", 10_000)
    assert search.lexical_ranked(svc.store, terms, ["episodic"], None, None, 60) == plain
