"""Secret redaction: the corpus, look-alikes, idempotence, fuzzing, size, and thumbnail boxes."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from engram.core.perceive.redact import (
    Finding,
    Redaction,
    black_out,
    redact,
    redact_text,
    spans_to_boxes,
)

CORPUS = Path(__file__).resolve().parents[1] / "data" / "redaction_corpus.jsonl"
ENTRIES = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]
POSITIVES = [e for e in ENTRIES if e["kind"]]
NEGATIVES = [e for e in ENTRIES if not e["kind"]]
KINDS = ("card", "api_key", "jwt", "private_key", "password", "secret", "iban", "ssn")


def test_corpus_is_large_and_covers_every_kind() -> None:
    assert len(POSITIVES) >= 60 and len(NEGATIVES) >= 60
    assert {e["kind"] for e in POSITIVES} == set(KINDS)
    assert len({e["id"] for e in ENTRIES}) == len(ENTRIES)


@pytest.mark.parametrize("entry", POSITIVES, ids=[e["id"] for e in POSITIVES])
def test_positive_is_redacted_with_its_kind(entry: dict) -> None:
    text, secret = entry["text"], entry["secret"]
    result = redact(text)
    assert secret not in result.text
    start = text.index(secret)
    covering = [f for f in result.findings if f.start <= start and f.end >= start + len(secret)]
    assert [f.kind for f in covering] == [entry["kind"]]
    assert f"[REDACTED:{entry['kind']}]" in result.text
    # the surrounding text survives: everything outside the findings is unchanged
    kept = "".join(
        text[a:b]
        for a, b in zip(
            [0, *(f.end for f in result.findings)],
            [*(f.start for f in result.findings), len(text)],
            strict=True,
        )
    )
    assert re.sub(r"\[REDACTED:[a-z_]+\]", "", result.text) == kept


@pytest.mark.parametrize("entry", NEGATIVES, ids=[e["id"] for e in NEGATIVES])
def test_look_alike_is_left_alone(entry: dict) -> None:
    result = redact(entry["text"])
    assert result.text == entry["text"], entry["note"]
    assert result.findings == ()


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["id"] for e in ENTRIES])
def test_idempotent_on_corpus(entry: dict) -> None:
    once = redact_text(entry["text"])
    assert redact_text(once) == once


def test_whole_corpus_as_one_document() -> None:
    text = "\n".join(e["text"] for e in ENTRIES)
    result = redact(text)
    offset = 0
    for e in ENTRIES:
        span = (offset, offset + len(e["text"]))
        inside = [f for f in result.findings if f.start < span[1] and f.end > span[0]]
        if e["kind"]:
            secret = offset + e["text"].index(e["secret"])
            assert any(f.start <= secret and f.end >= secret + len(e["secret"]) for f in inside)
        else:
            assert inside == [], e["id"]
        offset = span[1] + 1
    assert redact_text(result.text) == result.text


def test_kinds_counts_and_spans_refer_to_original() -> None:
    text = "card 4111 1111 1111 1111 and 5555-5555-5555-4444, pw: hunter2 SSN 123-45-6789"
    result = redact(text)
    assert isinstance(result, Redaction)
    assert result.kinds == {"card": 2, "password": 1, "ssn": 1}
    assert [text[f.start : f.end] for f in result.findings] == [
        "4111 1111 1111 1111",
        "5555-5555-5555-4444",
        "hunter2",
        "123-45-6789",
    ]
    assert result.text == (
        "card [REDACTED:card] and [REDACTED:card], pw: [REDACTED:password] SSN [REDACTED:ssn]"
    )


def test_emails_are_kept_and_masked_passwords_left_alone() -> None:
    text = "From: alice@example.com\nPassword: ••••••••\npassword: ********"
    assert redact_text(text) == text


def test_private_key_cut_off_by_ocr_runs_to_blank_line() -> None:
    text = "before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAfake\nQk9HVVM=\n\nafter"
    assert redact_text(text) == "before\n[REDACTED:private_key]\n\nafter"


def test_non_str_input_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="needs a str"):
        redact(b"password: x")  # type: ignore[arg-type]


def test_megabyte_input_completes_and_redacts_throughout() -> None:
    """Guards against catastrophic backtracking by size: adversarial 1 MB inputs finish."""
    chunks = [
        "4" * 1_000_000,
        "4111 " * 200_000,
        "eyJ" + "A" * 1_000_000,
        "sk-" * 330_000,
        "-" * 1_000_000,
        "password is " * 90_000,
        "AB12 " * 200_000,
        "a://b:c@" * 120_000,
    ]
    for chunk in chunks:
        assert redact_text(chunk) == redact_text(redact_text(chunk))
    line = "user pays with 4111 1111 1111 1111 then logs: INFO ok id=42 at 2024-01-01 10:00\n"
    big = line * (1_000_000 // len(line))
    result = redact(big)
    assert result.kinds == {"card": big.count(line)}
    assert "4111" not in result.text


# --------------------------------------------------------------------------- property tests


def _luhn_complete(body: str) -> str:
    for check in "0123456789":
        digits = body + check
        total = sum(
            (int(c) * 2 - 9 if int(c) * 2 > 9 else int(c) * 2) if i % 2 else int(c)
            for i, c in enumerate(reversed(digits))
        )
        if total % 10 == 0:
            return digits
    raise AssertionError("unreachable")


def _iban(country: str, bban: str) -> str:
    number = int("".join(str(int(c, 36)) for c in bban + country + "00"))
    return f"{country}{98 - number % 97:02d}{bban}"


SAFE_TEXT = st.text(alphabet="abcdefghij klmnop XYZ.,;!?\n", max_size=40)


@st.composite
def cards(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(["4", "51", "55", "2221", "6011", "65", "35"]))
    body = prefix + "".join(
        draw(
            st.lists(
                st.sampled_from("0123456789"), min_size=15 - len(prefix), max_size=15 - len(prefix)
            )
        )
    )
    number = _luhn_complete(body)
    sep = draw(st.sampled_from(["", " ", "-"]))
    return sep.join(number[i : i + 4] for i in range(0, 16, 4)) if sep else number


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(before=SAFE_TEXT, card=cards(), after=SAFE_TEXT)
def test_generated_cards_never_survive(before: str, card: str, after: str) -> None:
    text = f"{before} card {card} {after}"
    out = redact_text(text)
    assert card not in out and "[REDACTED:card]" in out
    assert not re.search(r"\d{16}", out.replace(" ", "").replace("-", ""))
    assert redact_text(out) == out


@settings(max_examples=100)
@given(
    country=st.sampled_from([("DE", 18), ("GB", 18), ("NL", 14), ("FR", 23), ("BE", 12)]),
    digits=st.text(alphabet="0123456789", min_size=23, max_size=23),
    spaced=st.booleans(),
)
def test_generated_ibans_are_redacted_and_corrupted_ones_kept(
    country: tuple[str, int], digits: str, spaced: bool
) -> None:
    code, length = country
    iban = _iban(code, digits[:length])
    shown = " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)) if spaced else iban
    assert redact_text(f"IBAN: {shown} thanks") == "IBAN: [REDACTED:iban] thanks"
    bad_check = f"{int(iban[2:4]) % 97 + 1:02d}" if iban[2:4] != "97" else "03"
    corrupted = iban[:2] + bad_check + iban[4:]
    assert redact_text(f"IBAN: {corrupted} ok") == f"IBAN: {corrupted} ok"


TOKENS = st.sampled_from(
    [
        "password",
        ": ",
        "=",
        " is ",
        "sk-",
        "eyJ",
        ".",
        "4111",
        " ",
        "-",
        "\n",
        "\n\n",
        "1234",
        "AKIA",
        "DE89",
        "ghp_",
        "[REDACTED:card]",
        "-----BEGIN PRIVATE KEY-----",
        "-----END PRIVATE KEY-----",
        "SSN",
        "123-45-6789",
        "://u:",
        "@",
        "'",
        '"',
        "Bearer ",
        "Authorization: ",
        "AbC9",
        "xX0",
        "pin",
        "İ",
    ]
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TOKENS, max_size=40).map("".join))
def test_fuzz_token_soup_never_raises_and_is_idempotent(text: str) -> None:
    result = redact(text)
    assert redact_text(result.text) == result.text
    for f in result.findings:
        assert 0 <= f.start < f.end <= len(text)
    assert all(a.end <= b.start for a, b in zip(result.findings, result.findings[1:], strict=False))


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_fuzz_arbitrary_text_never_raises(text: str) -> None:
    out = redact_text(text)
    assert redact_text(out) == out


# --------------------------------------------------------------------------- thumbnail boxes


@dataclass
class Word:
    text: str
    left: int
    top: int
    width: int
    height: int
    char_start: int
    char_end: int


def _words(text: str) -> list[Word]:
    words, x = [], 0
    for m in re.finditer(r"\S+", text):
        words.append(Word(m.group(0), x, 2, 6 * len(m.group(0)), 8, m.start(), m.end()))
        x += 6 * len(m.group(0)) + 4
    return words


def test_spans_to_boxes_picks_the_words_of_each_finding() -> None:
    text = "login alice password: hunter2 card 4111 1111 1111 1111 done"
    words = _words(text)
    result = redact(text)
    boxes = spans_to_boxes(result.findings, words)
    secret_words = [w for w in words if w.text in ("hunter2", "4111", "1111")]
    assert boxes == [(w.left, w.top, w.left + w.width, w.top + w.height) for w in secret_words]
    assert spans_to_boxes([], words) == []
    assert spans_to_boxes([Finding("card", 0, 3)], words[:1]) == [(0, 2, 30, 10)]


def test_spans_to_boxes_rejects_words_without_offsets() -> None:
    with pytest.raises(TypeError, match="char offsets"):
        spans_to_boxes([Finding("card", 0, 3)], [object()])


def test_black_out_fills_boxes_on_a_copy() -> None:
    image = Image.new("RGB", (40, 20), (255, 255, 255))
    out = black_out(image, [(10, 5, 20, 10)], pad=2)
    assert image.getpixel((12, 7)) == (255, 255, 255)  # original untouched
    assert out.getpixel((12, 7)) == (0, 0, 0)
    assert out.getpixel((8, 3)) == (0, 0, 0)  # padding
    assert out.getpixel((21, 11)) == (0, 0, 0)
    assert out.getpixel((22, 12)) == (255, 255, 255)  # just outside the padded box
    assert out.getpixel((7, 7)) == (255, 255, 255)
    edge = black_out(image, [(-5, -5, 3, 3), (38, 18, 60, 60)], pad=0)
    assert edge.getpixel((0, 0)) == (0, 0, 0) and edge.getpixel((39, 19)) == (0, 0, 0)
    rgba = black_out(Image.new("RGBA", (4, 4), (9, 9, 9, 0)), [(0, 0, 2, 2)], pad=0)
    assert rgba.getpixel((1, 1)) == (0, 0, 0, 255) and rgba.getpixel((3, 3)) == (9, 9, 9, 0)
    gray = black_out(Image.new("L", (4, 4), 200), [(0, 0, 1, 1)], pad=0)
    assert gray.getpixel((0, 0)) == 0 and gray.getpixel((1, 1)) == 200
    with pytest.raises(ValueError, match="pad"):
        black_out(image, [], pad=-1)


def test_redacted_thumbnail_end_to_end_with_random_layout() -> None:
    rng = random.Random(7)
    filler = ["meeting", "notes", "for", "tuesday", "budget", "ok"]
    text = " ".join(rng.choice(filler) for _ in range(8)) + " token: ghp_" + "Ab1" * 12
    words = _words(text)
    image = Image.new("RGB", (words[-1].left + words[-1].width + 4, 14), "white")
    out = black_out(image, spans_to_boxes(redact(text).findings, words), pad=0)
    secret = words[-1]
    assert out.getpixel((secret.left + 1, secret.top + 1)) == (0, 0, 0)
    assert out.getpixel((words[0].left + 1, words[0].top + 1)) == (255, 255, 255)
