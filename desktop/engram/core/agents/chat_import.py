"""Chat files read into messages, the input half of ``engram import-chat``.

The memory managers get plain :class:`ChatMessage` objects; each keeps its message id
(``ref``) so memories built from it can cite it as a source. A bad line or turn is reported
as an :class:`ImportProblem` and skipped, never fatal; only a file that is unusable as a
whole (unreadable, not UTF-8, not JSON at all, wrong top-level shape) raises
:class:`ChatImportError`. An empty file is zero messages, not an error.

JSONL (``--format jsonl``): one JSON object per line, blank lines ignored::

    {"id": "m1", "role": "user", "content": "hi", "at": "2024-03-01T09:30:00+01:00"}

- ``id`` or ``ref`` (string or integer): the message id; missing -> ``"<file stem>:<line>"``.
- ``role`` or ``speaker`` (string); missing -> ``"unknown"``.
- ``content`` or ``text``: a non-empty string, or a list of parts (strings or
  ``{"text": ...}`` objects, OpenAI style) which are joined with newlines. Required.
- ``at`` or ``timestamp``: ISO 8601 text, or epoch seconds (number or digit string; values
  above 1e11 are taken as epoch milliseconds). Optional.
- ``conversation`` (optional, default the file stem), ``session`` (optional).
- Any other keys are kept in ``ChatMessage.extra``. A repeated id within a conversation is
  a problem (the id must identify one message).

LoCoMo (``--format locomo``): the benchmark's JSON list of items with ``sample_id`` and
``conversation`` {``speaker_a``, ``speaker_b``, ``session_N_date_time``
("1:56 pm on 8 May, 2023"), ``session_N``: [{``speaker``, ``dia_id``, ``text``,
``img_url``?, ``blip_caption``?}]}. One message per turn: conversation = sample_id,
ref = dia_id, session = "session_N" (sessions in numeric order), at = the session time plus
30 s per turn index so order survives sorting by time. An image turn gets
``" [image: <blip_caption>]"`` appended to its text; the image fields stay in ``extra``.

Times without a zone (all LoCoMo session times, naive ISO strings) are taken as UTC and
flagged with ``extra["time_assumed_utc"] = True``.

``format="auto"`` sniffs: a JSON list, or one object with a ``conversation`` object, is
LoCoMo; anything else is read as JSONL.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engram.core.memory.timeparse import DATEPARSER_LANGUAGES, MONTHS

__all__ = [
    "ChatImport",
    "ChatImportError",
    "ChatMessage",
    "ImportProblem",
    "load_chat",
    "parse_locomo_time",
]

FORMATS = ("auto", "jsonl", "locomo")
TURN_STEP = timedelta(seconds=30)  # LoCoMo: per-turn offset from the session's time


@dataclass(frozen=True)
class ChatMessage:
    """One message; ``ref`` is its id within ``conversation`` (LoCoMo: the dia_id)."""

    conversation: str
    ref: str
    speaker: str
    text: str
    at: datetime | None
    session: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ImportProblem:
    """A line or turn that was skipped (or imported with less than it should have)."""

    line: int | None
    ref: str | None
    reason: str


@dataclass
class ChatImport:
    """What a file yielded: messages in file order, problems, conversations, their speakers."""

    messages: list[ChatMessage]
    problems: list[ImportProblem]
    conversations: list[str]
    speakers: dict[str, list[str]]


class ChatImportError(Exception):
    """The whole file is unusable; the message names the file and says why."""


class _Bad(Exception):
    """One record is unusable; becomes an ImportProblem."""


def load_chat(path: Path, format: str = "auto") -> ChatImport:
    """Read a chat file ("jsonl", "locomo" or "auto") into messages and problems."""
    if format not in FORMATS:
        raise ValueError(f"unknown chat format {format!r}; expected one of {', '.join(FORMATS)}")
    path = Path(path)
    text = _read_text(path)
    out = _Collector()
    if not text.strip():
        return out.result()
    data: Any = None
    if format != "jsonl":
        data = _whole_json(path, text, required=format == "locomo")
        if format == "auto":
            looks_locomo = isinstance(data, list) or (
                isinstance(data, dict) and isinstance(data.get("conversation"), dict)
            )
            format = "locomo" if looks_locomo else "jsonl"
    if format == "locomo":
        _read_locomo(path, data, out)
    else:
        _read_jsonl(path, text, out)
    return out.result()


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ChatImportError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ChatImportError(
            f"{path}: not UTF-8 text (invalid byte 0x{raw[exc.start]:02x} at offset {exc.start})"
        ) from exc


def _whole_json(path: Path, text: str, required: bool) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        if required:
            raise ChatImportError(f"{path}: not JSON ({_why(exc)})") from exc
        return None


def _why(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc)


class _Collector:
    """Accumulates messages, keeping conversation/speaker order and refusing repeated refs."""

    def __init__(self) -> None:
        self.messages: list[ChatMessage] = []
        self.problems: list[ImportProblem] = []
        self.speakers: dict[str, list[str]] = {}
        self.refs: dict[str, set[str]] = {}

    def conversation(self, name: str, speakers: Iterable[str] = ()) -> None:
        known = self.speakers.setdefault(name, [])
        self.refs.setdefault(name, set())
        for who in speakers:
            if who not in known:
                known.append(who)

    def problem(self, line: int | None, ref: str | None, reason: str) -> None:
        self.problems.append(ImportProblem(line, ref, reason))

    def add(self, msg: ChatMessage, line: int | None = None) -> None:
        self.conversation(msg.conversation, [msg.speaker])
        seen = self.refs[msg.conversation]
        if msg.ref in seen:
            self.problem(line, msg.ref, f"repeated id {msg.ref!r} in {msg.conversation!r}")
            return
        seen.add(msg.ref)
        self.messages.append(msg)

    def result(self) -> ChatImport:
        return ChatImport(self.messages, self.problems, list(self.speakers), self.speakers)


# --- JSONL ----------------------------------------------------------------------------------

_JSONL_KEYS = {"id", "ref", "role", "speaker", "content", "text", "at", "timestamp",
               "conversation", "session"}  # fmt: skip


def _read_jsonl(path: Path, text: str, out: _Collector) -> None:
    objects = 0
    # split on "\n" only: JSON strings may hold U+2028 etc., which str.splitlines() breaks on
    for line_no, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as exc:
            out.problem(line_no, None, f"not JSON: {_why(exc)}")
            continue
        if not isinstance(obj, dict):
            out.problem(line_no, None, f"not a JSON object but {_kind(obj)}")
            continue
        objects += 1
        try:
            out.add(_jsonl_message(obj, path.stem, line_no), line_no)
        except _Bad as exc:
            ref = obj.get("id", obj.get("ref"))
            out.problem(line_no, ref if isinstance(ref, str) else None, str(exc))
    if not objects:
        first = out.problems[0]
        raise ChatImportError(
            f"{path}: not JSON lines (no line is a JSON object; line {first.line}: {first.reason})"
        )


def _jsonl_message(obj: dict, stem: str, line_no: int) -> ChatMessage:
    ref = _first(obj, "id", "ref")
    if ref is None:
        ref = f"{stem}:{line_no}"
    elif isinstance(ref, int) and not isinstance(ref, bool):
        ref = str(ref)
    elif not isinstance(ref, str) or not ref.strip():
        raise _Bad(f"id must be a non-empty string or an integer, not {_kind(ref)}")
    speaker = _first(obj, "role", "speaker")
    if speaker is None:
        speaker = "unknown"
    elif not isinstance(speaker, str):
        raise _Bad(f"role/speaker must be a string, not {_kind(speaker)}")
    body = _content(_first(obj, "content", "text"))
    conversation = obj.get("conversation")
    if conversation is None:
        conversation = stem
    elif isinstance(conversation, int | str) and not isinstance(conversation, bool):
        conversation = str(conversation)
    else:
        raise _Bad(f"conversation must be a string, not {_kind(conversation)}")
    session = obj.get("session")
    if session is not None and not isinstance(session, str | int):
        raise _Bad(f"session must be a string, not {_kind(session)}")
    at, assumed = _timestamp(_first(obj, "at", "timestamp"))
    extra = {k: v for k, v in obj.items() if k not in _JSONL_KEYS}
    if assumed:
        extra["time_assumed_utc"] = True
    for value in (ref, speaker, body, conversation):
        _unicode_ok(value)
    return ChatMessage(
        conversation=conversation,
        ref=ref,
        speaker=speaker,
        text=body,
        at=at,
        session=None if session is None else str(session),
        extra=extra,
    )


def _first(obj: dict, *keys: str) -> Any:
    for key in keys:
        if obj.get(key) is not None:
            return obj[key]
    return None


def _content(value: Any) -> str:
    if value is None:
        raise _Bad("missing text (content/text)")
    if isinstance(value, list):  # OpenAI-style content parts
        parts = [
            p if isinstance(p, str) else p.get("text") for p in value if isinstance(p, str | dict)
        ]
        value = "\n".join(p for p in parts if isinstance(p, str))
    if not isinstance(value, str):
        raise _Bad(f"text must be a string, not {_kind(value)}")
    if not value.strip():
        raise _Bad("empty text")
    return value


def _timestamp(value: Any) -> tuple[datetime | None, bool]:
    """(aware datetime, whether the zone was assumed UTC) from ISO 8601 or epoch seconds."""
    if value is None:
        return None, False
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+(\.\d+)?\s*", value):
        value = float(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
        if not math.isfinite(seconds):
            raise _Bad(f"timestamp {value!r} is not a finite number")
        if abs(seconds) > 1e11:
            seconds /= 1000  # epoch milliseconds
        try:
            return datetime.fromtimestamp(seconds, tz=UTC), False
        except (OverflowError, OSError, ValueError) as exc:
            raise _Bad(f"timestamp {value!r} is out of range") from exc
    if isinstance(value, str):
        try:
            at = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise _Bad(f"timestamp {value[:60]!r} is not ISO 8601") from exc
        if at.tzinfo is None:
            return at.replace(tzinfo=UTC), True
        return at, False
    raise _Bad(f"timestamp must be ISO 8601 text or epoch seconds, not {_kind(value)}")


def _unicode_ok(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _Bad("text holds an unpaired surrogate (\\ud8xx escape)") from exc


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


# --- LoCoMo ---------------------------------------------------------------------------------

_SESSION = re.compile(r"session_([0-9]{1,9})")
_LOCOMO_TIME = re.compile(
    r"\s*(?P<h>\d{1,2})[:.](?P<m>\d{2})(?:\s*(?P<ap>[ap])\.?\s*m\.?)?\s*,?\s*(?:on\s+)?"
    r"(?:(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mon>[a-z]+)\.?"
    r"|(?P<mon2>[a-z]+)\.?\s+(?P<d2>\d{1,2})(?:st|nd|rd|th)?)\s*,?\s*(?P<y>\d{4})\s*",
    re.IGNORECASE,
)


def parse_locomo_time(text: str) -> datetime | None:
    """A LoCoMo session time ("1:56 pm on 8 May, 2023") as a datetime, else None.

    Naive unless the text carries an offset (ISO 8601 with a zone).

    Tolerates case, spacing, "a.m.", 24-hour clocks, month-first order and ISO 8601; other
    shapes go to dateparser as a last resort.
    """
    m = _LOCOMO_TIME.fullmatch(text)
    if m:
        hour, minute = int(m["h"]), int(m["m"])
        month = MONTHS.get((m["mon"] or m["mon2"]).lower())
        if m["ap"]:
            hour = hour % 12 + (12 if m["ap"].lower() == "p" else 0) if 1 <= hour <= 12 else 99
        try:
            if month is not None:
                return datetime(int(m["y"]), month, int(m["d"] or m["d2"]), hour, minute)
        except ValueError:
            return None
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        pass
    if not re.search(r"\d{4}", text):
        return None  # without a year dateparser would guess one
    try:
        from dateparser.date import DateDataParser

        found = DateDataParser(
            languages=DATEPARSER_LANGUAGES, settings={"RETURN_AS_TIMEZONE_AWARE": False}
        ).get_date_data(text)
    except Exception:  # dateparser missing or confused: the time is unreadable
        return None
    return found.date_obj


def _read_locomo(path: Path, data: Any, out: _Collector) -> None:
    if isinstance(data, dict) and isinstance(data.get("conversation"), dict):
        data = [data]
    if not isinstance(data, list):
        raise ChatImportError(
            f"{path}: not LoCoMo (expected a JSON list of conversations, got {_kind(data)})"
        )
    if data and not any(isinstance(i, dict) and "conversation" in i for i in data):
        raise ChatImportError(
            f"{path}: not LoCoMo (a JSON list, but no item has a 'conversation' object)"
        )
    seen: set[str] = set()
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            out.problem(None, f"item {index}", f"not an object but {_kind(item)}")
            continue
        sample = item.get("sample_id")
        if isinstance(sample, int) and not isinstance(sample, bool):
            sample = str(sample)
        if not isinstance(sample, str) or not sample:
            out.problem(None, f"item {index}", "missing sample_id")
            continue
        if sample in seen:
            out.problem(None, sample, f"repeated sample_id {sample!r}; item {index} skipped")
            continue
        seen.add(sample)
        conv = item.get("conversation")
        if not isinstance(conv, dict):
            out.problem(None, sample, "missing conversation object")
            continue
        _read_locomo_conversation(sample, conv, out)


def _read_locomo_conversation(sample: str, conv: dict, out: _Collector) -> None:
    pair = [conv.get("speaker_a"), conv.get("speaker_b")]
    named = [p for p in pair if isinstance(p, str) and p]
    if len(named) < 2:
        out.problem(None, sample, "missing speaker_a/speaker_b; speakers taken from the turns")
    out.conversation(sample, named)
    sessions = sorted((int(m[1]), key) for key in conv if (m := _SESSION.fullmatch(key)))
    if not sessions:
        out.problem(None, sample, "no session_N lists")
    for _, key in sessions:
        where = f"{sample}/{key}"
        turns = conv[key]
        if not isinstance(turns, list):
            out.problem(None, where, f"{key} is not a list of turns but {_kind(turns)}")
            continue
        raw_time = conv.get(f"{key}_date_time")
        start = parse_locomo_time(raw_time) if isinstance(raw_time, str) else None
        if start is None:
            out.problem(None, where, f"missing or unreadable {key}_date_time {raw_time!r}")
        for index, turn in enumerate(turns):
            try:
                msg = _locomo_message(sample, key, index, turn, start, raw_time)
            except _Bad as exc:
                ref = turn.get("dia_id") if isinstance(turn, dict) else None
                out.problem(None, ref if isinstance(ref, str) else f"{where}[{index}]", str(exc))
                continue
            out.add(msg)


def _locomo_message(
    sample: str, session: str, index: int, turn: Any, start: datetime | None, raw_time: Any
) -> ChatMessage:
    if not isinstance(turn, dict):
        raise _Bad(f"turn is not an object but {_kind(turn)}")
    missing = [k for k in ("dia_id", "speaker", "text") if not isinstance(turn.get(k), str)]
    if missing:
        raise _Bad(f"turn lacks {', '.join(missing)}")
    ref, speaker, text = turn["dia_id"], turn["speaker"], turn["text"]
    if not ref.strip() or not speaker.strip():
        raise _Bad("turn has an empty dia_id or speaker")
    extra = {k: v for k, v in turn.items() if k not in ("dia_id", "speaker", "text")}
    caption = turn.get("blip_caption")
    if isinstance(caption, str) and caption.strip():
        text = f"{text} [image: {caption.strip()}]".strip()
    if not text.strip():
        raise _Bad("turn has no text")
    for value in (ref, speaker, text):
        _unicode_ok(value)
    at = None
    if start is not None:
        at = start + TURN_STEP * index
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
            extra["time_assumed_utc"] = True
    if isinstance(raw_time, str):
        extra["session_date_time"] = raw_time
    return ChatMessage(sample, ref, speaker, text, at, session, extra)
