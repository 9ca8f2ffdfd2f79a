"""Hostile and broken input: each bad item gets a clear error, the rest goes through.

Corrupt/empty/bomb images and bad sidecars one by one are in tests/integration/test_pipeline.py
and the chat parsers are fuzzed in tests/unit/test_chat_import.py; this adds the end-to-end
mixed batches through the real CLI, huge and non-UTF-8 text, and fuzzing of the sidecar parser
and of the redactor with secrets inside arbitrary text.
"""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from engram.core.capture.ingest import IngestItem, IngestItemError, read_sidecar
from engram.core.memory.inbox import NewCapture, unpack_text
from engram.core.perceive.redact import redact, redact_text
from tests.conftest import run_cli
from tests.frames import write_frame

T0 = datetime(2026, 2, 3, 10, 0, tzinfo=UTC)
AWS = "AKIAIOSFODNN7EXAMPL3"
CARD = "4111 1111 1111 1111"


def _huge_text(size: int, seed: int = 5) -> str:
    rng = random.Random(seed)
    words = [
        "lorem",
        "ipsum",
        "dolor",
        "quartz",
        "tundra",
        "basalt",
        "harbor",
        "okapi",
        "report",
        "ledger",
    ]
    lines, n = [], 0
    while n < size:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(3, 14)))
        lines.append(line)
        n += len(line) + 1
    mid = len(lines) // 2
    lines[3:3] = [f"aws_access_key_id = {AWS}"]
    lines[mid:mid] = [f"pay with card {CARD} today"]
    lines.append("password: hunter2-ocelot-77")
    return "\n".join(lines)


@pytest.mark.parametrize(
    "size", [1_000_000, pytest.param(5_000_000, marks=pytest.mark.slow)], ids=["1MB", "5MB"]
)
def test_huge_ocr_text_through_redaction_inbox_and_offline_agent(svc, size):
    text = _huge_text(size)
    red = redact(text)
    assert {"api_key", "card", "password"} <= set(red.kinds)
    assert AWS not in red.text and "4111" not in red.text and "hunter2" not in red.text
    uid, added = svc.inbox.add_capture(
        NewCapture(at=T0, monitor=0, app="gedit", title="dump.txt", url=None, text=red.text)
    )
    assert added
    outs = svc.worker.drain()
    assert outs and all(o.error is None for o in outs), outs
    assert svc.inbox.pending() == {"queued": 0, "processing": 0, "parked": 0}
    mems = svc.list_memories(limit=50)
    assert any(m.type == "episodic" and m.sources[0].ref == uid for m in mems)
    stored = json.dumps([m.fields for m in mems])
    assert AWS not in stored and "4111" not in stored and "hunter2" not in stored
    assert svc.search("okapi harbor report")  # still searchable


def test_non_utf8_text_and_titles(svc, tmp_path):
    """Bytes that are not UTF-8 become replacement characters at the edges, never a crash."""
    bad = b"caf\xe9 men\xfc \xff\xfe".decode("utf-8", "surrogateescape")
    uid, added = svc.inbox.add_capture(
        NewCapture(at=T0, monitor=0, app="x\udcff", title=bad, url=None, text="ok " + bad)
    )
    assert added
    title, text = svc.store.ledger.query("SELECT title, text FROM captures WHERE uid = ?", (uid,))[
        0
    ]
    text = unpack_text(text)
    assert title.startswith("caf") and "\ufffd" in title and text.startswith("ok caf")
    outs = svc.worker.drain()
    assert outs and outs[0].error is None


def test_mixed_good_and_bad_frames_through_the_cli(isolated_env, tmp_path):
    d = tmp_path / "mixed"
    for i, (word, app) in enumerate([("pelican", "gedit"), ("walrus", "libreoffice")]):
        write_frame(
            d,
            f"good{i}",
            [f"Field notes on the {word} colony", f"count {40 + i} adults"],
            app=app,
            title=f"{word}.txt",
            at=(T0 + timedelta(minutes=i)).isoformat(),
        )
    (d / "zero.png").write_bytes(b"")
    (d / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4)
    (d / "text.png").write_text("this is not an image at all")
    Image.new("1", (20000, 20000)).save(d / "bomb.png")
    write_frame(d, "wrongtypes", ["x"], sidecar='{"app": ["a"], "title": {"t": 1}, "at": 5}')
    write_frame(d, "badjson", ["x"], sidecar=b"\xff\xfe{bad".decode("latin-1"))
    write_frame(d, "surrogate", ["x"], sidecar='{"title": "half \\ud800 pair"}')
    proc = run_cli("ingest", str(d), "--json", timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    errs = {Path(e["path"]).name: e["error"] for e in out["errors"]}
    assert set(errs) == {
        "zero.png",
        "corrupt.jpg",
        "text.png",
        "bomb.png",
        "wrongtypes.png",
        "badjson.png",
        "surrogate.png",
    }, errs
    assert "empty file" in errs["zero.png"] and "MP limit" in errs["bomb.png"]
    assert "must be" in errs["wrongtypes.png"] and "JSON" in errs["badjson.png"]
    assert "Unicode" in errs["surrogate.png"]
    assert all(str(tmp_path) in e["path"] for e in out["errors"])  # each names its file
    assert out["kept"] == 2 and out["memories"].get("episodic", 0) >= 2
    hits = json.loads(run_cli("search", "walrus colony", "--json").stdout)
    assert hits and "walrus" in hits[0]["text"].lower()


def test_chat_files_with_missing_fields_through_the_cli(isolated_env, tmp_path):
    jl = tmp_path / "chat.jsonl"
    lines = [
        {
            "id": "m1",
            "speaker": "Ines",
            "text": "We adopted a greyhound named Pixel",
            "at": "2026-01-02T10:00:00Z",
        },
        {"id": "m2", "speaker": "Ines"},  # no text
        "not json at all {",
        {"id": "m3", "text": 12345},  # wrong type
        {"id": "m4", "speaker": "Ines", "text": "Pixel loves the beach at Sagres"},
        [1, 2, 3],
    ]
    jl.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines))
    proc = run_cli("import-chat", str(jl), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["messages"] == 2 and out["added"] == 2
    assert len(out["problems"]) == 4 and all(p["reason"] for p in out["problems"])
    assert out["memories"].get("episodic") == 2

    locomo = tmp_path / "locomo.json"
    locomo.write_text(
        json.dumps(
            [
                {
                    "sample_id": "s1",
                    "conversation": {
                        "speaker_a": "Ana",
                        "speaker_b": "Bo",
                        "session_1_date_time": "1:56 pm on 8 May, 2023",
                        "session_1": [
                            {
                                "speaker": "Ana",
                                "dia_id": "D1:1",
                                "text": "I ran a marathon in Porto",
                            },
                            {"speaker": "Bo", "text": "no dia_id here"},
                            {"dia_id": "D1:3", "text": "no speaker"},
                            {"speaker": "Bo", "dia_id": "D1:4"},
                        ],
                    },
                },
                {"sample_id": "s2"},
            ]
        )
    )
    proc = run_cli("import-chat", str(locomo), "--format", "locomo", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["added"] >= 1 and out["problems"], out
    hits = json.loads(run_cli("search", "marathon Porto", "--json").stdout)
    assert hits and any(s["ref"].endswith("D1:1") for s in hits[0]["sources"])


# ------------------------------------------------------------------------------ fuzzing

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3)
    ),
    max_leaves=6,
)
_DATES = st.datetimes(timezones=st.none() | st.just(UTC)).map(lambda d: d.isoformat())
_SIDECAR = st.fixed_dictionaries(
    {},
    optional={
        "app": _JSON | st.text(max_size=40),
        "title": _JSON | st.text(max_size=5000),
        "url": _JSON,
        "at": _JSON | _DATES | st.text(alphabet="0123456789-:TZ+. ", max_size=30),
    },
).map(lambda d: json.dumps(d))


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.one_of(_SIDECAR, _JSON.map(json.dumps), st.binary(max_size=120)))
def test_fuzz_sidecar_parser_raises_only_item_errors(tmp_path, raw):
    image = tmp_path / "shot.png"
    image.write_bytes(b"\x89PNG")
    side = tmp_path / "shot.json"
    side.write_bytes(raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass"))
    try:
        item = read_sidecar(image)
    except IngestItemError as exc:
        assert str(side) in str(exc)
        return
    assert isinstance(item, IngestItem) and item.path == image
    assert item.at.tzinfo is not None
    for key in ("app", "title", "url"):
        v = getattr(item, key)
        assert v is None or (isinstance(v, str) and len(v) <= 4096)
        if v is not None:
            v.encode("utf-8")  # storable as-is


_KEYS = st.sampled_from(
    [
        AWS,
        "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
        "sk-proj-" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa",
        "4111111111111111",
        "DE89 3704 0044 0532 0130 00",
    ]
)


@settings(max_examples=300, deadline=None)
@given(before=st.text(max_size=200), key=_KEYS, after=st.text(max_size=200))
def test_fuzz_known_secrets_never_survive_in_arbitrary_text(before, key, after):
    text = f"{before}\n{key}\n{after}"
    out = redact_text(text)
    compact = re.sub(r"\s", "", out)
    assert re.sub(r"\s", "", key) not in compact, (text, out)
    assert redact_text(out) == out
