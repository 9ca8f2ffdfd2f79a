"""Chat files into messages: JSONL and LoCoMo, bad records as problems, bad files as errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engram.core.agents.chat_import import (
    ChatImportError,
    ChatMessage,
    load_chat,
    parse_locomo_time,
)

SHARED_LOCOMO = Path(__file__).resolve().parents[3] / "shared" / "bench-data" / "locomo" / "locomo-dev5.json"


def write_lines(path: Path, lines: list[object]) -> Path:
    path.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n", "utf-8"
    )
    return path


def locomo_item(sample: str, sessions: dict[int, tuple[str | None, list[object]]]) -> dict:
    conv: dict[str, object] = {"speaker_a": "Ann", "speaker_b": "Bob"}
    for n, (when, turns) in sessions.items():
        if when is not None:
            conv[f"session_{n}_date_time"] = when
        conv[f"session_{n}"] = turns
    return {"sample_id": sample, "conversation": conv, "qa": []}


def turn(dia: str, speaker: str, text: str, **more: object) -> dict:
    return {"speaker": speaker, "dia_id": dia, "text": text, **more}


# --- JSONL ----------------------------------------------------------------------------------


def test_jsonl_fields_defaults_and_problems(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "chat.jsonl",
        [
            {"id": "m1", "role": "user", "content": "hi", "at": "2024-03-01T09:30:00+01:00"},
            {"speaker": "bot", "text": "hello", "timestamp": 1709282000, "mood": "ok"},
            "{not json",
            "",
            ["a", "list"],
            {"id": "m4", "role": "user"},
            {"id": "m5", "content": "x", "at": ["bad"]},
            {"id": "m6", "content": "late", "at": "2024-03-01 10:00", "conversation": "other"},
            {"ref": 7, "content": [{"type": "text", "text": "part one"}, "part two"]},
            {"id": "m1", "content": "same id again"},
            {"id": "m9", "content": "   "},
            {"id": "m10", "content": "when?", "at": "yesterday-ish"},
        ],
    )
    got = load_chat(path)
    assert [m.ref for m in got.messages] == ["m1", "chat:2", "m6", "7"]
    first, second, other, parts = got.messages
    assert first == ChatMessage(
        "chat", "m1", "user", "hi", datetime(2024, 3, 1, 8, 30, tzinfo=UTC), None, {}
    )
    assert first.at is not None and first.at.utcoffset() == timedelta(hours=1)
    assert second.speaker == "bot" and second.at == datetime.fromtimestamp(1709282000, UTC)
    assert second.extra == {"mood": "ok"}
    assert other.conversation == "other" and other.extra["time_assumed_utc"] is True
    assert other.at == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert parts.text == "part one\npart two" and parts.speaker == "unknown"
    assert [(p.line, p.ref) for p in got.problems] == [
        (3, None),
        (5, None),
        (6, "m4"),
        (7, "m5"),
        (10, "m1"),
        (11, "m9"),
        (12, "m10"),
    ]
    reasons = [p.reason for p in got.problems]
    assert reasons[0].startswith("not JSON") and "not a JSON object" in reasons[1]
    assert "missing text" in reasons[2] and "timestamp" in reasons[3]
    assert "repeated id" in reasons[4] and "empty text" in reasons[5]
    assert "ISO 8601" in reasons[6]
    assert got.conversations == ["chat", "other"]
    assert got.speakers == {"chat": ["user", "bot", "unknown"], "other": ["unknown"]}


def test_jsonl_epoch_forms(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "t.jsonl",
        [
            {"text": "a", "at": 1700000000.5},
            {"text": "b", "at": "1700000000"},
            {"text": "c", "at": 1700000000000},  # milliseconds
            {"text": "d", "at": 1e300},
            {"text": "e", "at": True},
        ],
    )
    got = load_chat(path, "jsonl")
    want = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert [m.at for m in got.messages] == [want + timedelta(seconds=0.5), want, want]
    assert [p.line for p in got.problems] == [4, 5]


def test_empty_file_is_zero_messages(tmp_path: Path) -> None:
    for fmt in ("auto", "jsonl", "locomo"):
        path = tmp_path / f"empty-{fmt}.jsonl"
        path.write_text("\n  \n", "utf-8")
        got = load_chat(path, fmt)
        assert (got.messages, got.problems, got.conversations) == ([], [], [])


def test_non_utf8_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(json.dumps({"text": "café"}, ensure_ascii=False).encode("latin-1"))
    with pytest.raises(ChatImportError, match=r"latin1\.jsonl.*not UTF-8"):
        load_chat(path)


def test_unreadable_and_non_json_files_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ChatImportError, match="cannot read"):
        load_chat(tmp_path / "missing.jsonl")
    with pytest.raises(ChatImportError, match="cannot read"):
        load_chat(tmp_path)
    prose = tmp_path / "notes.txt"
    prose.write_text("Dear diary,\ntoday was fine.\n", "utf-8")
    with pytest.raises(ChatImportError, match=r"notes\.txt.*not JSON lines"):
        load_chat(prose)
    with pytest.raises(ChatImportError, match=r"notes\.txt.*not JSON"):
        load_chat(prose, "locomo")
    numbers = write_lines(tmp_path / "numbers.jsonl", ["1", "2"])
    with pytest.raises(ChatImportError, match="no line is a JSON object"):
        load_chat(numbers)
    with pytest.raises(ValueError, match="unknown chat format"):
        load_chat(prose, "csv")


def test_bom_and_crlf_and_line_separator_inside_text(tmp_path: Path) -> None:
    path = tmp_path / "win.jsonl"
    body = json.dumps({"id": "a", "text": "one\u2028two"}, ensure_ascii=False)
    path.write_bytes(b"\xef\xbb\xbf" + (body + "\r\n" + json.dumps({"text": "b"})).encode())
    got = load_chat(path)
    assert [m.text for m in got.messages] == ["one\u2028two", "b"] and got.problems == []


def test_huge_single_line(tmp_path: Path) -> None:
    text = "word " * 1_000_000
    path = write_lines(tmp_path / "big.jsonl", [{"id": "big", "text": text}])
    got = load_chat(path)
    assert len(got.messages) == 1 and got.messages[0].text == text


def test_lone_surrogate_is_a_problem(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "s.jsonl", ['{"text": "bad \\ud800 half"}', {"text": "fine"}])
    got = load_chat(path)
    assert [m.text for m in got.messages] == ["fine"]
    assert got.problems[0].line == 1 and "surrogate" in got.problems[0].reason


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=8,
)
_MESSAGE_LIKE = st.fixed_dictionaries(
    {},
    optional={
        k: _JSON_VALUES
        for k in ("id", "ref", "role", "speaker", "content", "text", "at", "timestamp")
    }
    | {"conversation": _JSON_VALUES, "session": _JSON_VALUES},
).map(json.dumps)
_LINES = st.lists(
    st.one_of(_MESSAGE_LIKE, st.text(max_size=40), _JSON_VALUES.map(json.dumps)), max_size=8
).map(lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass"))


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.one_of(st.binary(max_size=200), _LINES))
def test_random_input_raises_only_chat_import_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(data)
    for fmt in ("jsonl", "auto"):
        try:
            got = load_chat(path, fmt)
        except ChatImportError as exc:
            assert "fuzz.jsonl" in str(exc)
            continue
        for m in got.messages:
            assert isinstance(m.text, str) and m.text.strip() and isinstance(m.ref, str)
            assert m.at is None or m.at.tzinfo is not None
            assert m.conversation in got.conversations


# --- LoCoMo ---------------------------------------------------------------------------------


def test_locomo_messages_times_images_and_session_order(tmp_path: Path) -> None:
    sessions = {
        n: (f"{n}:05 pm on {n} May, 2023", [turn(f"D{n}:1", "Ann", f"s{n} a")])
        for n in (10, 2, 9, 1)
    }
    sessions[1][1].append(
        turn("D1:2", "Bob", "look", img_url=["http://x/y.jpg"], blip_caption="a photo of a cat")
    )
    path = tmp_path / "lc.json"
    path.write_text(json.dumps([locomo_item("conv-x", sessions)]), "utf-8")
    got = load_chat(path)
    assert [m.ref for m in got.messages] == ["D1:1", "D1:2", "D2:1", "D9:1", "D10:1"]
    assert [m.session for m in got.messages] == [
        "session_1",
        "session_1",
        "session_2",
        "session_9",
        "session_10",
    ]
    first, image = got.messages[:2]
    assert first.at == datetime(2023, 5, 1, 13, 5, tzinfo=UTC)
    assert image.at == first.at + timedelta(seconds=30)
    assert image.text == "look [image: a photo of a cat]"
    assert image.extra["blip_caption"] == "a photo of a cat"
    assert image.extra["img_url"] == ["http://x/y.jpg"]
    assert image.extra["time_assumed_utc"] is True
    assert image.extra["session_date_time"] == "1:05 pm on 1 May, 2023"
    assert got.messages[-1].at == datetime(2023, 5, 10, 22, 5, tzinfo=UTC)
    assert got.conversations == ["conv-x"] and got.speakers == {"conv-x": ["Ann", "Bob"]}
    assert got.problems == []


def test_locomo_broken_items_and_turns_are_problems(tmp_path: Path) -> None:
    good = locomo_item(
        "ok",
        {
            1: (
                "9:00 am on 2 June, 2023",
                [
                    turn("D1:1", "Ann", "fine"),
                    {"speaker": "Bob", "text": "no id"},
                    "not a turn",
                    turn("D1:4", "Cy", "third speaker"),
                    turn("D1:1", "Ann", "repeated id"),
                ],
            ),
            2: (None, [turn("D2:1", "Bob", "untimed")]),
            3: ("sometime", [turn("D3:1", "Ann", "odd time")]),
        },
    )
    good["conversation"]["session_4"] = "not a list"
    data = [
        good,
        {"sample_id": "ok", "conversation": {}},
        {"conversation": {}},
        5,
        {"sample_id": "z"},
    ]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data), "utf-8")
    got = load_chat(path, "locomo")
    assert [(m.ref, m.at is None) for m in got.messages] == [
        ("D1:1", False),
        ("D1:4", False),
        ("D2:1", True),
        ("D3:1", True),
    ]
    assert got.messages[1].at == datetime(2023, 6, 2, 9, 1, 30, tzinfo=UTC)  # turn index 3
    refs = [p.ref for p in got.problems]
    assert refs == [
        "ok/session_1[1]",
        "ok/session_1[2]",
        "D1:1",
        "ok/session_2",
        "ok/session_3",
        "ok/session_4",
        "ok",
        "item 2",
        "item 3",
        "z",
    ]
    assert got.speakers == {"ok": ["Ann", "Bob", "Cy"]}


def test_locomo_wrong_shapes_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "shape.json"
    path.write_text(json.dumps({"sample_id": "x", "conversation": "text"}), "utf-8")
    with pytest.raises(ChatImportError, match="not LoCoMo"):
        load_chat(path, "locomo")
    path.write_text(json.dumps([{"role": "user", "content": "hi"}]), "utf-8")
    with pytest.raises(ChatImportError, match="not LoCoMo"):
        load_chat(path)


def test_auto_sniffing(tmp_path: Path) -> None:
    item = locomo_item("solo", {1: ("1:56 pm on 8 May, 2023", [turn("D1:1", "Ann", "hi")])})
    single = tmp_path / "single.json"
    single.write_text(json.dumps(item, indent=2), "utf-8")  # one object, several lines
    assert [m.conversation for m in load_chat(single).messages] == ["solo"]
    listed = tmp_path / "listed.json"
    listed.write_text("  " + json.dumps([item]), "utf-8")
    assert [m.ref for m in load_chat(listed).messages] == ["D1:1"]
    one_line = write_lines(tmp_path / "one.jsonl", [{"id": "q", "text": "just one"}])
    assert [m.ref for m in load_chat(one_line).messages] == ["q"]
    with pytest.raises(ChatImportError):  # forced JSONL: the one line is a list, no object
        load_chat(listed, "jsonl")


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("1:56 pm on 8 May, 2023", datetime(2023, 5, 8, 13, 56)),
        ("12:09 am on 13 September, 2023", datetime(2023, 9, 13, 0, 9)),
        ("12:30 PM on May 8, 2023", datetime(2023, 5, 8, 12, 30)),
        ("  9:05 a.m. on 1st Jan 2024 ", datetime(2024, 1, 1, 9, 5)),
        ("13:56 on 8 May 2023", datetime(2023, 5, 8, 13, 56)),
        ("2023-05-08T13:56:00", datetime(2023, 5, 8, 13, 56)),
        ("2023-05-08T13:56:00+02:00", datetime(2023, 5, 8, 11, 56, tzinfo=UTC)),
        ("8 Mai 2023 13:56", datetime(2023, 5, 8, 13, 56)),
        ("13:56 pm on 8 May, 2023", None),
        ("1:56 pm on 31 June, 2023", None),
        ("sometime", None),
    ],
)
def test_parse_locomo_time(text: str, want: datetime | None) -> None:
    assert parse_locomo_time(text) == want


@pytest.mark.skipif(not SHARED_LOCOMO.exists(), reason="shared LoCoMo dev file not present")
def test_real_locomo_dev_file() -> None:
    got = load_chat(SHARED_LOCOMO)
    assert len(got.conversations) == 5
    assert len(got.messages) > 1000
    assert got.problems == []
    for conv in got.conversations:
        msgs = [m for m in got.messages if m.conversation == conv]
        refs = [m.ref for m in msgs]
        assert len(refs) == len(set(refs))
        assert len(got.speakers[conv]) == 2
        times = [m.at for m in msgs]
        assert all(t is not None and t.tzinfo is not None for t in times)
        sessions = [int(m.session.split("_")[1]) for m in msgs if m.session]
        assert sessions == sorted(sessions)
    assert any("[image: " in m.text for m in got.messages)


def test_timezone_offset_is_kept(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "z.jsonl", [{"text": "x", "at": "2024-01-01T00:00:00-05:00"}])
    at = load_chat(path).messages[0].at
    assert at is not None and at.utcoffset() == timezone(timedelta(hours=-5)).utcoffset(None)
