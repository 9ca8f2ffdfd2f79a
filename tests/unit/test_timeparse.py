"""Time phrases in queries: exact ranges against a fixed clock, stripped text, no false hits."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engram.core.memory.timeparse import ParsedQuery, TimeRange, parse_time_query

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 26, 15, 30, tzinfo=BERLIN)  # a Thursday


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=BERLIN)


def day(y: int, mo: int, d: int) -> tuple[datetime, datetime]:
    return at(y, mo, d), at(y, mo, d) + timedelta(days=1)


CASES = [
    # query, start, end, stripped text
    ("what did I do today?", *day(2026, 11, 26), "what did I do?"),
    ("yesterday", *day(2026, 11, 25), ""),
    ("the day before yesterday", *day(2026, 11, 24), ""),
    ("what did I read this morning", at(2026, 11, 26, 5), at(2026, 11, 26, 12), "what did I read"),
    ("emails this afternoon", at(2026, 11, 26, 12), at(2026, 11, 26, 18), "emails"),
    ("this evening", at(2026, 11, 26, 18), at(2026, 11, 26, 23), ""),
    ("dinner plans tonight", at(2026, 11, 26, 18), at(2026, 11, 27, 5), "dinner plans"),
    ("notes from yesterday afternoon", at(2026, 11, 25, 12), at(2026, 11, 25, 18), "notes"),
    (
        "what did I watch last night?",
        at(2026, 11, 25, 18),
        at(2026, 11, 26, 5),
        "what did I watch?",
    ),
    ("earlier today", at(2026, 11, 26), NOW, ""),
    ("what did I do on Tuesday", *day(2026, 11, 24), "what did I do"),
    ("Thursday standup", *day(2026, 11, 19), "standup"),  # today excluded: last week's
    ("last Tuesday afternoon", at(2026, 11, 24, 12), at(2026, 11, 24, 18), ""),
    ("Friday night drinks", at(2026, 11, 20, 18), at(2026, 11, 21, 5), "drinks"),
    ("the morning of 8 May", at(2026, 5, 8, 5), at(2026, 5, 8, 12), ""),
    ("what happened this week", at(2026, 11, 23), at(2026, 11, 30), "what happened"),
    ("what happened last week?", at(2026, 11, 16), at(2026, 11, 23), "what happened?"),
    ("last week's meeting notes", at(2026, 11, 16), at(2026, 11, 23), "meeting notes"),
    ("over the weekend", at(2026, 11, 21), at(2026, 11, 23), ""),
    ("bills this month", at(2026, 11, 1), at(2026, 12, 1), "bills"),
    ("bills last month", at(2026, 10, 1), at(2026, 11, 1), "bills"),
    ("trips last year", at(2025, 1, 1), at(2026, 1, 1), "trips"),
    ("what did I buy in March", at(2026, 3, 1), at(2026, 4, 1), "what did I buy"),
    ("in December", at(2025, 12, 1), at(2026, 1, 1), ""),  # December 2026 is still ahead
    ("in March 2024", at(2024, 3, 1), at(2024, 4, 1), ""),
    ("last November", at(2025, 11, 1), at(2025, 12, 1), ""),
    ("taxes in 2023", at(2023, 1, 1), at(2024, 1, 1), "taxes"),
    ("3 days ago", *day(2026, 11, 23), ""),
    ("two hours ago", at(2026, 11, 26, 13), at(2026, 11, 26, 14), ""),
    ("an hour ago", at(2026, 11, 26, 14), at(2026, 11, 26, 15), ""),
    ("2 weeks ago", at(2026, 11, 9), at(2026, 11, 16), ""),
    ("2 months ago", at(2026, 9, 1), at(2026, 10, 1), ""),
    ("a few days ago", at(2026, 11, 21), at(2026, 11, 25), ""),
    ("5 minutes ago", at(2026, 11, 26, 15, 20), NOW, ""),
    ("in the last 3 days", at(2026, 11, 23, 15, 30), NOW, ""),
    ("pages in the last 24 hours", at(2026, 11, 25, 15, 30), NOW, "pages"),
    ("past 30 minutes", at(2026, 11, 26, 15), NOW, ""),
    ("the past week", at(2026, 11, 19, 15, 30), NOW, ""),
    ("for the past 2 hours", at(2026, 11, 26, 13, 30), NOW, ""),
    ("since Monday", at(2026, 11, 23), None, ""),
    ("since 3 May", at(2026, 5, 3), None, ""),
    ("before 8 May 2023", None, at(2023, 5, 8), ""),
    ("after 8 May 2023", at(2023, 5, 9), None, ""),
    ("until yesterday", None, at(2026, 11, 26), ""),
    ("between Monday and Wednesday", at(2026, 11, 23), at(2026, 11, 26), ""),
    ("between 1 May and 3 May 2026", at(2026, 5, 1), at(2026, 5, 4), ""),
    ("from March to May", at(2026, 3, 1), at(2026, 6, 1), ""),
    ("photos on 8 May 2023", *day(2023, 5, 8), "photos"),
    ("May 8th", *day(2026, 5, 8), ""),
    ("on the 8th of May", *day(2026, 5, 8), ""),
    ("Monday, 8 May 2023", *day(2023, 5, 8), ""),
    ("2023-05-08", *day(2023, 5, 8), ""),
    ("8/5/2023", *day(2023, 5, 8), ""),  # day-first
    ("5/28/2023", *day(2023, 5, 28), ""),  # only month-first is a date
    ("8.5.2023", *day(2023, 5, 8), ""),
    (
        "the flight at 3pm yesterday",
        at(2026, 11, 25, 14, 30),
        at(2026, 11, 25, 15, 30),
        "the flight",
    ),
    (
        "yesterday at 15:00, who called?",
        at(2026, 11, 25, 14, 30),
        at(2026, 11, 25, 15, 30),
        "who called?",
    ),
    ("at 4pm", at(2026, 11, 25, 15, 30), at(2026, 11, 25, 16, 30), ""),  # 4pm today is ahead
    ("at 7:45am on Friday", at(2026, 11, 20, 7, 15), at(2026, 11, 20, 8, 15), ""),
    ("2023-05-08T13:56", at(2023, 5, 8, 13, 26), at(2023, 5, 8, 14, 26), ""),
]


@pytest.mark.parametrize(("query", "start", "end", "text"), CASES, ids=[c[0] for c in CASES])
def test_phrase(query: str, start: datetime | None, end: datetime | None, text: str) -> None:
    parsed = parse_time_query(query, now=NOW)
    assert parsed.range is not None, query
    assert (parsed.range.start, parsed.range.end) == (start, end)
    assert parsed.text == text
    assert parsed.range.phrase and parsed.range.phrase in query


def test_ranges_are_aware_in_the_local_zone() -> None:
    r = parse_time_query("yesterday afternoon", now=NOW).range
    assert r is not None and r.start is not None and r.end is not None
    assert r.start.tzinfo is BERLIN and r.start.utcoffset() == timedelta(hours=1)
    assert r.phrase == "yesterday afternoon"


def test_explicit_date_through_dateparser_fallback() -> None:
    parsed = parse_time_query("what did I do on 8 Mai 2023", now=NOW)
    assert parsed == ParsedQuery("what did I do", TimeRange(*day(2023, 5, 8), "on 8 Mai 2023"))


def test_day_first_can_be_switched_off() -> None:
    r = parse_time_query("8/5/2023", now=NOW, day_first=False).range
    assert r is not None and r.start == at(2023, 8, 5)


NEGATIVES = [
    "what was that flight code?",
    "what did Lena say about dinner",
    "May I see the report",
    "the March of Dimes donation",
    "message from May",
    "this may help",
    "what's the plan for the week",
    "the last time I saw Lena",
    "what is 3 times 4",
    "1/2 cup sugar recipe",
    "show me version 1.2.3 notes",
    "the 2023 budget spreadsheet",
    "meet me at 5",
    "the 10:30 meeting",
    "what did I do in 3 days",
    "on 3 projects",
    "before 3 people left",
    "after lunch",
    "between us",
    "how many days until the trip",
    "",
]


@pytest.mark.parametrize("query", NEGATIVES)
def test_no_false_positive(query: str) -> None:
    assert parse_time_query(query, now=NOW) == ParsedQuery(query, None)


@pytest.mark.parametrize(
    "query", ["what did I do before the design review?", "notes since the launch party"]
)
def test_event_anchor_is_left_to_search(query: str) -> None:
    assert parse_time_query(query, now=NOW) == ParsedQuery(query, None)


def test_event_anchor_next_to_a_date_keeps_only_the_date() -> None:
    parsed = parse_time_query("yesterday before the design review", now=NOW)
    assert parsed.text == "before the design review"
    assert parsed.range is not None and parsed.range.start == at(2026, 11, 25)


def test_naive_now_is_local_time_in_tz() -> None:
    naive = datetime(2026, 11, 26, 15, 30)
    assert parse_time_query("today", now=naive, tz=BERLIN) == parse_time_query("today", now=NOW)


def test_aware_now_is_converted_into_tz() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")  # 15:30 Berlin is 23:30 in Tokyo, still the 26th
    r = parse_time_query("yesterday", now=NOW, tz=tokyo).range
    assert r is not None
    assert r.start == datetime(2026, 11, 25, tzinfo=tokyo)
    r = parse_time_query("yesterday", now=NOW + timedelta(hours=1), tz=tokyo).range
    assert r is not None and r.start == datetime(2026, 11, 26, tzinfo=tokyo)


def test_dst_end_day_is_25_hours_and_hours_ago_counts_real_time() -> None:
    now = datetime(2026, 10, 26, 1, 30, tzinfo=BERLIN)  # the night after clocks went back
    r = parse_time_query("yesterday", now=now).range
    assert r is not None and r.start is not None and r.end is not None
    assert r.end - r.start == timedelta(hours=24)  # wall-clock difference
    assert r.end.timestamp() - r.start.timestamp() == 25 * 3600
    r = parse_time_query("in the last 24 hours", now=now).range
    assert r is not None and r.start is not None
    assert now.timestamp() - r.start.timestamp() == 24 * 3600


def test_default_now_is_the_current_time() -> None:
    r = parse_time_query("today", tz=BERLIN).range
    assert r is not None and r.start is not None and r.end is not None
    assert r.start <= datetime.now(BERLIN) < r.end


_WORDS = [
    "in",
    "on",
    "at",
    "since",
    "before",
    "after",
    "until",
    "between",
    "and",
    "from",
    "to",
    "the",
    "last",
    "past",
    "this",
    "ago",
    "a",
    "few",
    "of",
    "today",
    "yesterday",
    "tonight",
    "night",
    "morning",
    "afternoon",
    "Tuesday",
    "Sunday",
    "week",
    "weekend",
    "month",
    "year",
    "days",
    "hours",
    "minutes",
    "March",
    "May",
    "may",
    "8",
    "3pm",
    "15:00",
    "2023",
    "2023-05-08",
    "8/5/2023",
    "31",
    "12",
    "0",
    "99",
    "?",
    ",",
    "what",
    "did",
    "I",
    "see",
    "Lena",
    "report",
]
QUERIES = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=60),
    st.lists(st.sampled_from(_WORDS), max_size=9).map(" ".join),
)


@settings(max_examples=400, deadline=None)
@given(QUERIES)
def test_never_raises_and_ranges_are_ordered(query: str) -> None:
    parsed = parse_time_query(query, now=NOW)
    if parsed.range is None:
        assert parsed.text == query
    else:
        r = parsed.range
        assert r.phrase in query
        assert r.start is not None or r.end is not None
        if r.start is not None and r.end is not None:
            assert r.start <= r.end
