"""Secret redaction for OCR and chat text, run before anything is stored or sent to an LLM.

Detected secrets are replaced by ``[REDACTED:kind]``:

- ``card``: Luhn-valid card numbers (13-19 digits, contiguous or grouped like a card,
  plausible issuer prefix); order/tracking numbers, phones, dates and versions are left alone.
- ``api_key``: keys of known formats (OpenAI, Anthropic, AWS key id and labelled AWS secret,
  GitHub, Slack tokens and webhooks, Google, Stripe).
- ``jwt``: three base64url segments whose header starts ``eyJ``.
- ``private_key``: a whole ``-----BEGIN ... PRIVATE KEY-----`` block; when OCR cut off the
  END line, up to the next blank line or the end of the text.
- ``password``: the value after a password label (many languages), PINs, URL credentials.
  Masked values (``********``, bullets) are left as they are: there is nothing to hide.
- ``secret``: a random-looking value after ``Authorization: Bearer`` or a secret/token/api-key
  label whose format is not known.
- ``iban``: IBANs with a valid mod-97 checksum and the country's length.
- ``ssn``: US social security numbers, dashed or labelled, invalid ranges excluded.

Email addresses are deliberately NOT redacted: who you wrote to is useful memory and not a
credential. Redaction is idempotent, never raises on a ``str`` and stays linear in the input
size (every quantifier is bounded and anchored by a look-behind), so megabytes of OCR text
are safe to feed it.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw

__all__ = ["Finding", "Redaction", "black_out", "redact", "redact_text", "spans_to_boxes"]

PLACEHOLDER = "[REDACTED:{kind}]"
_PLACEHOLDER_RE = re.compile(r"\[REDACTED:[a-z_]{1,20}\]")

# When two findings overlap they are merged; the merged span takes the most specific kind.
_PRIORITY = {
    "private_key": 0,
    "jwt": 1,
    "api_key": 2,
    "card": 3,
    "iban": 4,
    "ssn": 5,
    "password": 6,
    "secret": 7,
}


@dataclass(frozen=True)
class Finding:
    """One secret: its kind and its span in the original text."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True)
class Redaction:
    """The redacted text and what was taken out of it."""

    text: str
    findings: tuple[Finding, ...]

    @property
    def kinds(self) -> dict[str, int]:
        """Number of findings per kind."""
        return dict(Counter(f.kind for f in self.findings))


# --------------------------------------------------------------------------- helpers


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _plausible_issuer(digits: str) -> bool:
    """Issuer prefixes of real card networks (Visa, Mastercard, Amex, Diners, JCB, Discover...)."""
    first = digits[0]
    if first in "456":
        return True
    if first == "3":
        return digits[1] in "045789"
    if first == "2":
        return 2221 <= int(digits[:4]) <= 2720
    return False


def _looks_random(value: str) -> bool:
    """A token rather than a word or a placeholder: at least 8 chars mixing character classes."""
    if len(value) < 8:
        return False
    lower = any(c.islower() for c in value)
    upper = any(c.isupper() for c in value)
    digit = any(c.isdigit() for c in value)
    return (lower + upper + digit) >= 2 and (digit or (lower and upper and len(value) >= 16))


def _is_placeholder_at(text: str, pos: int) -> bool:
    return _PLACEHOLDER_RE.match(text, pos) is not None


# --------------------------------------------------------------------------- cards

_CARD_SEP = r"(?: - |-| {1,2})"
# a digit that starts a number and is followed by at least 13 digits in groups
_CARD_RUN = re.compile(
    rf"\d(?<!\d\d)(?=(?:[ -]{{0,3}}\d){{12}})\d{{0,18}}(?:{_CARD_SEP}\d{{1,19}}){{0,16}}"
)
_CARD_SPLIT = re.compile(_CARD_SEP)
_GROUP_BEFORE = re.compile(r"(?<![A-Za-z0-9])(?=[A-Z0-9]{0,5}[0-9])[A-Z0-9]{2,6}(?: |-)\Z")
_NOT_CARD_LABELS = re.compile(
    r"(?i)(?:order|tracking|invoice|ref(?:erence)?|shipment|parcel|awb|transaction|txn|"
    r"confirmation|booking|ticket|serial|imei|iccid|account|acct|customer|member|id)\b"
)
_CARD_LABELS = re.compile(
    r"(?i)(?:card|visa|master ?card|amex|american express|discover|jcb|diners|maestro|"
    r"\bcc\b|credit|debit|kreditkarte|carte|tarjeta|\bpan\b)"
)


def _card_shape(lengths: Sequence[int]) -> bool:
    n = sum(lengths)
    if not 13 <= n <= 19:
        return False
    if len(lengths) == 1:
        return True
    if list(lengths) in ([4, 6, 5], [4, 6, 4]):  # Amex, Diners
        return True
    return len(lengths) >= 4 and all(x == 4 for x in lengths[:-1]) and 1 <= lengths[-1] <= 4


def _find_cards(text: str, low: str) -> Iterator[Finding]:
    pos = 0
    while (m := _CARD_RUN.search(text, pos)) is not None:
        start, end = m.span()
        pos = end
        run = m.group(0)
        prev = text[start - 1] if start else ""
        if prev == "+":  # an international phone number
            continue
        if prev and (prev in ".,/-_" or prev.isalnum()):
            # glued to a word, a decimal or an identifier: a card can only start after it
            pos = start + len(_CARD_SPLIT.split(run, maxsplit=1)[0])
            continue
        nxt = text[end : end + 2]
        if nxt[:1].isalnum() or nxt[:1] == "_" or (nxt[:1] in ".,/:" and nxt[1:2].isdigit()):
            # the last group belongs to an identifier, a decimal, a version, a date or a time
            last = list(_CARD_SPLIT.finditer(run))
            if not last:
                continue
            run = run[: last[-1].start()]
        if len(run) - run.count(" ") - run.count("-") < 13:
            continue
        if _GROUP_BEFORE.search(text, max(0, start - 8), start):
            continue  # the tail of an IBAN or a licence key
        for a, b in _cards_in_run(run):
            if not (run[a:b].isdigit() and _contiguous_not_card(text, start + a)):
                yield Finding("card", start + a, start + b)


def _cards_in_run(run: str) -> list[tuple[int, int]]:
    """Spans of the cards in a run of digit groups; a few stray digits (expiry, CVV, a
    quantity) may sit around them, but many stray digits make it a table, not cards."""
    groups = _CARD_SPLIT.split(run)
    if len(groups) == 1 and len(run) > 19:
        return []
    offsets, pos = [], 0
    for g, sep in zip(groups, [*(m.group(0) for m in _CARD_SPLIT.finditer(run)), ""], strict=True):
        offsets.append(pos)
        pos += len(g) + len(sep)
    spans: list[tuple[int, int]] = []
    stray, i = 0, 0
    while i < len(groups):
        for k in range(min(len(groups) - i, 5), 0, -1):
            window = groups[i : i + k]
            if not _card_shape([len(g) for g in window]):
                continue
            digits = "".join(window)
            if _plausible_issuer(digits) and _luhn_ok(digits):
                spans.append((offsets[i], offsets[i + k - 1] + len(window[-1])))
                i += k
                break
        else:
            stray += len(groups[i])
            i += 1
    return spans if stray <= 7 else []


def _contiguous_not_card(text: str, start: int) -> bool:
    """An undivided digit run labelled as an order/tracking/account number is not a card."""
    line_start = text.rfind("\n", max(0, start - 40), start) + 1
    before = text[max(line_start, start - 40) : start]
    neg = [m.end() for m in _NOT_CARD_LABELS.finditer(before)]
    if not neg:
        return False
    pos = [m.end() for m in _CARD_LABELS.finditer(before)]
    return not pos or max(pos) < max(neg)


# --------------------------------------------------------------------------- key formats


def _after(n: int, cls: str = "A-Za-z0-9_-") -> str:
    """Look-behind placed after an n-char literal prefix: the token must start there.

    Checking the boundary after the literal (not before it) lets the regex engine jump
    from prefix to prefix instead of testing a look-behind at every position.
    """
    return rf"(?<![{cls}].{{{n}}})"


_END = r"(?![A-Za-z0-9_-])"
# one pattern per literal prefix: the engine then jumps between prefix occurrences
_KEYS = tuple(
    re.compile(p)
    for p in (
        rf"sk-{_after(3)}[A-Za-z0-9_-]{{20,300}}{_END}",  # OpenAI, Anthropic (sk-ant-)
        rf"sk_{_after(3)}(?:live|test)_[A-Za-z0-9]{{16,250}}{_END}",  # Stripe
        rf"rk_{_after(3)}(?:live|test)_[A-Za-z0-9]{{16,250}}{_END}",
        rf"AKIA{_after(4, 'A-Za-z0-9')}[A-Z0-9]{{16}}(?![A-Za-z0-9])",  # AWS key id
        rf"ASIA{_after(4, 'A-Za-z0-9')}[A-Z0-9]{{16}}(?![A-Za-z0-9])",
        rf"gh[pousr]_{_after(4)}[A-Za-z0-9]{{30,255}}{_END}",  # GitHub
        rf"github_pat_{_after(11)}[A-Za-z0-9_]{{30,255}}{_END}",
        rf"xox[abposr]-{_after(5)}[A-Za-z0-9-]{{10,250}}{_END}",  # Slack
        rf"xapp-{_after(5)}[0-9]-[A-Za-z0-9-]{{10,250}}{_END}",
        rf"AIza{_after(4)}[A-Za-z0-9_-]{{35}}{_END}",  # Google
        rf"eyJ{_after(3)}[A-Za-z0-9_-]{{8,4000}}\.[A-Za-z0-9_-]{{8,8000}}"
        rf"\.[A-Za-z0-9_-]{{8,4000}}{_END}",  # JWT
    )
)
_SK_BODY = re.compile(r"[A-Za-z0-9]{20,}")
_SLACK_HOOK = re.compile(
    r"hooks\.slack\.com/(?:services|workflows|triggers)/(T[A-Z0-9]{6,15}/[A-Za-z0-9/_-]{10,200})"
)
# the next two run on the lower-cased text (same offsets): case-insensitive without re.I
_AWS_SECRET = re.compile(
    r"secret[_ .-]?access[_ .-]?key[\"']?[ \t]*[:=][ \t]*[\"']?([a-z0-9/+]{40})(?![a-z0-9/+])"
)
_AUTH = re.compile(
    r"authorization[\"']?[ \t]*[:=][ \t]*[\"']?(?:bearer|token|basic)[ \t]+([a-z0-9._~+/=-]{8,4096})"
)


def _find_keys(text: str, low: str) -> Iterator[Finding]:
    for m in (m for pattern in _KEYS for m in pattern.finditer(text)):
        token = m.group(0)
        if token.startswith("sk-") and not _random_body(token):
            continue  # "sk-learn-compatible-estimators", not a key
        if token.startswith(("xox", "xapp")) and not any(c.isdigit() for c in token[5:]):
            continue
        yield Finding("jwt" if token.startswith("eyJ") else "api_key", m.start(), m.end())
    if "hooks.slack.com" in text:
        for m in _SLACK_HOOK.finditer(text):
            yield Finding("api_key", m.start(1), m.end(1))
    if "access" in low:
        for m in _AWS_SECRET.finditer(low):
            yield Finding("api_key", m.start(1), m.end(1))
    if "authorization" in low:
        for m in _AUTH.finditer(low):
            if _looks_random(text[m.start(1) : m.end(1)]):
                yield Finding("secret", m.start(1), m.end(1))


def _random_body(token: str) -> bool:
    for m in _SK_BODY.finditer(token, 3):
        run = m.group(0)
        if any(c.isdigit() for c in run) and any(c.isalpha() for c in run):
            return True
    return False


# --------------------------------------------------------------------------- private keys

_PK_BEGIN = re.compile(r"BEGIN ([A-Z0-9]{1,12} ){0,3}PRIVATE KEY(?: BLOCK)? ?-{2,6}")
_PK_END = re.compile(r"END ([A-Z0-9]{1,12} ){0,3}PRIVATE KEY(?: BLOCK)? ?-{2,6}")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_DASHES_BEFORE = re.compile(r"-{2,6} ?\Z")


def _begin_marker(text: str, pos: int, limit: int | None = None) -> tuple[int, int] | None:
    """Next ``-----BEGIN ... PRIVATE KEY-----`` line as (start, end), dashes included."""
    end = len(text) if limit is None else limit
    while (m := _PK_BEGIN.search(text, pos, end)) is not None:
        dashes = _DASHES_BEFORE.search(text, max(0, m.start() - 7), m.start())
        if dashes:
            return dashes.start(), m.end()
        pos = m.end()
    return None


def _find_private_keys(text: str, low: str) -> Iterator[Finding]:
    pos = 0
    while (begin := _begin_marker(text, pos)) is not None:
        nxt = _begin_marker(text, begin[1])
        limit = nxt[0] if nxt else len(text)
        end_m = _PK_END.search(text, begin[1], limit)
        if end_m is not None:
            stop = end_m.end()
        else:  # END line lost (scrolled away, cropped): to the next blank line or the end
            blank = _BLANK_LINE.search(text, begin[1], limit)
            if blank is not None and _is_armor_header(text[begin[1] : blank.start()]):
                blank = _BLANK_LINE.search(text, blank.end(), limit)
            stop = blank.start() if blank else limit
        yield Finding("private_key", begin[0], stop)
        pos = stop


def _is_armor_header(block: str) -> bool:
    """PGP/encrypted PEM put 'Key: value' headers and a blank line before the key body."""
    lines = [ln for ln in block.strip().splitlines() if ln.strip()]
    return bool(lines) and all(":" in ln for ln in lines)


# --------------------------------------------------------------------------- labelled values

_SP = "[ \\t\\u00a0\\u202f]"
_SEPARATOR = rf"(?:{_SP}*(?::=|=>|[:=]){_SP}*|{_SP}+(?P<is>is|was|ist|est|es|é){_SP}+)"
_SECRET_WORDS = r"secret|token|api[_-]?key|access[_-]?key|auth[_-]?key"
_SECRET_KW = re.compile(_SECRET_WORDS)
# runs on the lower-cased text; only labels followed by a separator are candidates
_LABEL = re.compile(
    r"(?P<kw>password|passwort|passwd|passphrase|pass[ _-]phrase|pwd|pw|kennwort"
    r"|mot[ \u00a0]de[ \u00a0]passe|contrase(?:ñ|n)a|senha|wachtwoord|lösenord|salasana|hasło"
    rf"|пароль|パスワード|密码|pass|pin|{_SECRET_WORDS})(?=[\"'`]?{_SEPARATOR.replace('?P<is>', '')})"
)
_VALUE = re.compile(
    rf"[\"'`]?{_SEPARATOR}"
    r"(?:(?P<q>[\"'`])(?P<qv>[^\"'`\n]{1,256})(?P=q)|(?P<v>[^\s\"'`=][^\s]{0,255}))"
)
_MASKED = re.compile(r"[*•●·∙○◦⚫⬤xX]{3,}")
_NOT_VALUES = frozenset(
    [
        "none",
        "null",
        "nil",
        "true",
        "false",
        "required",
        "optional",
        "hidden",
        "change",
        "changed",
        "reset",
        "set",
        "unset",
        "not",
        "n/a",
        "na",
        "empty",
        "yes",
        "no",
        "string",
        "str",
        "text",
        "show",
        "hide",
        "edit",
        "update",
        "forgot",
        "undefined",
        "default",
        "enabled",
        "disabled",
        "on",
        "off",
        "...",
        "…",
        "-",
        "—",
        "****",
    ]
)
_CODE = re.compile(r"[A-Za-z_][\w.]{0,64}[\[(]")
_PATHLIKE = re.compile(r"(?:~|\.{1,2})?/[\w./-]*")
_NATURAL_TRAIL = ".,;:!?)\"'"


def _find_labelled(text: str, low: str) -> Iterator[Finding]:
    for m in _LABEL.finditer(low):
        start, kw = m.start(), m.group("kw")
        prev = text[start - 1] if start else ""
        if kw == "pass":
            if prev not in ("_", ".", "-"):  # DB_PASS, smtp.pass; not "Boarding pass:"
                continue
        elif prev.isalnum() and not (prev.islower() and text[start].isupper()):
            continue  # inside a word ("Spin:", "OLDPWD"), unless camelCase ("dbPassword")
        v = _VALUE.match(low, m.end())
        if v is None:
            continue
        quoted = v.group("qv") is not None
        group = "qv" if quoted else "v"
        vstart, vend = v.start(group), v.end(group)
        natural = v.group("is") is not None
        if not quoted:
            vend = vstart + len(text[vstart:vend].rstrip(_NATURAL_TRAIL if natural else ",;"))
        value = text[vstart:vend]
        if not value:
            continue
        kind: str | None = "password"
        if kw == "pin":
            kind = "password" if value.isdigit() and 4 <= len(value) <= 12 else None
        elif _SECRET_KW.fullmatch(kw):
            kind = "secret" if _looks_random(value) else None
        elif natural and not quoted and (len(value) < 4 or value.isalpha()):
            kind = None  # "password is incorrect"
        if kind and _plausible_value(text, vstart, value):
            yield Finding(kind, vstart, vend)


def _plausible_value(text: str, start: int, value: str) -> bool:
    if _is_placeholder_at(text, start) or _MASKED.fullmatch(value):
        return False
    if value.lower() in _NOT_VALUES or value[0] in "$<{%([" or _CODE.match(value):
        return False  # a UI word, a template or a code expression, not a secret
    return not (_PATHLIKE.fullmatch(value) and "/" in value[1:])  # PWD=/home/alice


_URL_CREDS = re.compile(r"://([^\s:/@]{1,64}):([^\s:/@]{1,128})@")


def _find_url_credentials(text: str, low: str) -> Iterator[Finding]:
    for m in _URL_CREDS.finditer(text):
        yield Finding("password", m.start(2), m.end(2))


# --------------------------------------------------------------------------- IBAN, SSN

_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,32}")


def _iban_ok(compact: str) -> bool:
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


def _find_ibans(text: str, low: str) -> Iterator[Finding]:
    pos = 0
    while (m := _IBAN.search(text, pos)) is not None:
        start = m.start()
        space = text.find(" ", start, m.end())  # the match may run into the next token
        pos = space + 1 if space != -1 else m.end()
        if start and text[start - 1].isalnum():  # inside a word: an IBAN starts at a token
            continue
        length = _IBAN_LENGTHS.get(text[start : start + 2])
        if length is None:
            continue
        count, stop = 0, start
        for i in range(start, m.end()):
            if text[i] != " ":
                count += 1
                if count == length:
                    stop = i + 1
                    break
        if count < length or (stop < len(text) and text[stop].isalnum()):
            continue
        if _iban_ok(text[start:stop].replace(" ", "")):
            yield Finding("iban", start, stop)
            pos = stop


_SSN_DASHED = re.compile(r"-(?<=[0-9]{3}-)[0-9]{2}-[0-9]{4}(?![\w-])")
_SSN_LABELLED = re.compile(  # on the lower-cased text
    r"(?:ssn|ss#|social security(?: number| no\.?| #)?)[ \t]*[:#=]?[ \t]*"
    r"([0-9]{3}([ -]?)[0-9]{2}\2[0-9]{4})(?![\w-])"
)


def _ssn_ok(digits: str) -> bool:
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _find_ssns(text: str, low: str) -> Iterator[Finding]:
    for m in _SSN_DASHED.finditer(text):
        start = m.start() - 3
        if start and (
            text[start - 1] == "-" or text[start - 1].isalnum() or text[start - 1] == "_"
        ):
            continue
        if _ssn_ok(text[start : m.end()].replace("-", "")):
            yield Finding("ssn", start, m.end())
    if "ss" in low or "social" in low:
        for m in _SSN_LABELLED.finditer(low):
            if m.start() and low[m.start() - 1].isalnum():
                continue
            if low[m.start(1) - 1].isalnum():  # "ssn123456789"
                continue
            digits = m.group(1).replace(" ", "").replace("-", "")
            if _ssn_ok(digits):
                yield Finding("ssn", m.start(1), m.end(1))


# --------------------------------------------------------------------------- API

_DETECTORS = (
    _find_private_keys,
    _find_keys,
    _find_cards,
    _find_ibans,
    _find_ssns,
    _find_labelled,
    _find_url_credentials,
)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _lower_same_length(text: str) -> str:
    """Lower-cased text with the same offsets (a few letters grow when lower-cased)."""
    low = text.lower()
    return low if len(low) == len(text) else text.translate(_ASCII_LOWER)


def _merge(findings: Iterable[Finding]) -> list[Finding]:
    merged: list[Finding] = []
    for f in sorted(findings, key=lambda f: (f.start, -f.end)):
        if f.end <= f.start:
            continue
        if merged and f.start < merged[-1].end:
            last = merged[-1]
            kind = min(last.kind, f.kind, key=lambda k: _PRIORITY.get(k, 99))
            merged[-1] = Finding(kind, last.start, max(last.end, f.end))
        else:
            merged.append(f)
    return merged


def _detect(text: str) -> list[Finding]:
    low = _lower_same_length(text)
    found = [f for detect in _DETECTORS for f in detect(text, low)]
    if "[REDACTED:" in text:  # never re-redact a placeholder
        held = [(m.start(), m.end()) for m in _PLACEHOLDER_RE.finditer(text)]
        starts = [a for a, _ in held]

        def overlaps(f: Finding) -> bool:
            i = bisect_left(starts, f.end)  # placeholders starting before f ends
            return i > 0 and held[i - 1][1] > f.start

        found = [f for f in found if not overlaps(f)]
    return _merge(found)


def _apply(text: str, findings: Sequence[Finding]) -> tuple[str, list[tuple[int, int, int]]]:
    """The redacted text and its kept segments as (output start, output end, input start)."""
    parts: list[str] = []
    segments: list[tuple[int, int, int]] = []
    pos = out = 0
    for f in [*findings, Finding("", len(text), len(text))]:
        piece = text[pos : f.start]
        segments.append((out, out + len(piece), pos))
        parts.append(piece)
        out += len(piece)
        if f.kind:
            holder = PLACEHOLDER.format(kind=f.kind)
            parts.append(holder)
            out += len(holder)
        pos = f.end
    return "".join(parts), segments


def redact(text: str) -> Redaction:
    """Replace every secret in ``text`` by ``[REDACTED:kind]``; spans refer to ``text``.

    A placeholder can change what surrounds a look-alike (a boundary character is gone), so
    the output is checked again and anything it still holds is added, until nothing is left:
    that makes ``redact`` idempotent.
    """
    if not isinstance(text, str):
        raise TypeError(f"redact() needs a str, got {type(text).__name__}")
    findings = _detect(text)
    out = text
    for _ in range(4):
        if not findings:
            break
        out, segments = _apply(text, findings)
        starts = [seg[0] for seg in segments]
        extra = []
        for f in _detect(out):
            seg = segments[bisect_left(starts, f.start + 1) - 1]
            if f.end <= seg[1]:
                shift = seg[2] - seg[0]
                extra.append(Finding(f.kind, f.start + shift, f.end + shift))
        if not extra:
            break
        findings = _merge([*findings, *extra])
        out = _apply(text, findings)[0]
    return Redaction(out, tuple(findings))


def redact_text(text: str) -> str:
    """``redact(text).text``."""
    return redact(text).text


def spans_to_boxes(
    findings: Iterable[Finding], words: Sequence[Any]
) -> list[tuple[int, int, int, int]]:
    """Pixel boxes ``(left, top, right, bottom)`` of every OCR word overlapping a finding.

    ``words`` carry ``.left .top .width .height`` and ``.char_start .char_end`` (the word's
    offsets in the OCR text that was redacted), so a thumbnail can be blacked out where the
    secret was shown.
    """
    spans = sorted((f.start, f.end) for f in findings)
    if not spans:
        return []
    starts = [s for s, _ in spans]
    # running maximum of span ends, so one bisect finds whether any span reaches a word
    max_end: list[int] = []
    for _, e in spans:
        max_end.append(max(e, max_end[-1]) if max_end else e)
    boxes: list[tuple[int, int, int, int]] = []
    for w in words:
        try:
            a, b = int(w.char_start), int(w.char_end)
            left, top = int(w.left), int(w.top)
            right, bottom = left + int(w.width), top + int(w.height)
        except AttributeError as exc:
            raise TypeError(f"OCR word lacks a box or char offsets: {exc}") from None
        i = bisect_left(starts, b)  # spans starting before the word ends
        if i and max_end[i - 1] > a:
            boxes.append((left, top, right, bottom))
    return boxes


def black_out(
    image: Image.Image, boxes: Iterable[tuple[int, int, int, int]], pad: int = 2
) -> Image.Image:
    """A copy of ``image`` with every box (grown by ``pad`` pixels) filled black."""
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
    if image.mode == "P":  # palette index 0 need not be black
        out = image.convert("RGBA" if "transparency" in image.info else "RGB")
    else:
        out = image.copy()
    bands = out.getbands()
    fill: int | tuple[int, ...] = (
        0 if len(bands) == 1 else tuple(255 if b == "A" else 0 for b in bands)
    )
    draw = ImageDraw.Draw(out)
    width, height = out.size
    for left, top, right, bottom in boxes:
        x0, y0 = max(0, left - pad), max(0, top - pad)
        x1, y1 = min(width, right + pad), min(height, bottom + pad)
        if x1 > x0 and y1 > y0:
            draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=fill)
    return out
