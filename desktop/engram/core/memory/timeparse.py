"""Time phrases in search queries, parsed offline by rule (no LLM).

``parse_time_query("what did I read yesterday afternoon?")`` returns the query without the
time phrase ("what did I read?", for full-text and vector search) and the time range the
phrase names (a filter for the store). Own rules come first; `dateparser` is imported lazily
and only asked about explicit dates the rules do not know (e.g. "on 8 Mai 2023").

Conventions (all ranges are tz-aware, in the local zone or ``tz``; ``end`` is exclusive):

- Calendar phrases cover the whole period, even past ``now``: "today" is 00:00 to 00:00 the
  next day, "this week" Monday to next Monday (weeks start on Monday), "this month" etc.
- Parts of a day: morning 05-12, afternoon 12-18, evening 18-23, night 18 to 05 next day
  ("tonight", "last night", "Tuesday night").
- Weekday names ("Tuesday", "on Tuesday", "last Tuesday", "this Tuesday") mean the most
  recent such day strictly before today. Year-less dates ("May 8th", "in March") mean the
  most recent one not in the future.
- A clock time ("at 3pm", "yesterday at 15:00") is an hour centred on it (14:30-15:30);
  without a day it is the most recent such time not after ``now``.
- "N units ago": a window around that point: the calendar day for days, the Monday week for
  weeks, the calendar month/year for months/years, an hour centred on the point for hours,
  ten minutes for minutes (clipped at ``now``). "a couple of" = 2-3, "a few" = 2-5,
  "several" = 3-7 units, widening the window accordingly.
- "in the last N days", "past N minutes", "the past week": rolling, from now - N to now.
  Bare "last week/month/year" is the previous calendar period.
- "since X" / "after X" give an open end (``end=None``): start of X / end of X.
  "before X" ends at the start of X, "until X" at its end; both have ``start=None``.
  "between X and Y" / "from X to Y" run from the start of X to the end of Y.
- Numeric dates: year-first is ISO (2023-05-08, 2023/05/08). Otherwise day-first
  (8/5/2023 = 8 May; European order, ``day_first=False`` switches), except when only the
  other order is a valid date (5/28/2023 = 28 May).
- Month names count as time only after in/during/since/before/after/until/between/last/this
  or before a year ("the March of Dimes" and "May I see the report" are not time phrases);
  lower-case "may" next to a bare day number also needs such an anchor.
- Phrases that name an event rather than a date ("before the design review") give
  ``range=None`` and leave the text as it was: the search layer resolves event anchors.
- Only the single longest phrase (the earliest among equals) is taken out of the query.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

__all__ = ["DATEPARSER_LANGUAGES", "MONTHS", "ParsedQuery", "TimeRange", "parse_time_query"]

# dateparser is asked in these languages only: detecting among all of its ~200 locales costs
# seconds on the first call, a short list a few hundred milliseconds.
DATEPARSER_LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "pt"]


@dataclass(frozen=True)
class TimeRange:
    """A time filter: tz-aware bounds (``None`` = open), ``end`` exclusive; ``phrase`` = words."""

    start: datetime | None
    end: datetime | None
    phrase: str


@dataclass(frozen=True)
class ParsedQuery:
    """The query with the time phrase removed (for search) and the range it named."""

    text: str
    range: TimeRange | None


MONTHS: dict[str, int] = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9,
    "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_PARTS = {"morning": (5, 12), "afternoon": (12, 18), "evening": (18, 23), "night": (18, 29)}
_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "fifteen": 15, "twenty": 20, "thirty": 30,
}  # fmt: skip
_VAGUE = {"couple": (2, 3), "few": (2, 5), "several": (3, 7)}

_I = re.IGNORECASE
_END = r"(?!\w)"  # a phrase ends at a word boundary
_MONTH = r"(?P<mon>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_WEEKDAY = r"(?P<wd>" + "|".join(_WEEKDAYS) + r")"
_PART = r"(?P<part>morning|afternoon|evening|night)"
_NUM = (
    r"(?P<n>\d{1,4}|(?:a\s+)?couple\s+of|a\s+few|few|several|"
    + "|".join(sorted(_NUMBERS, key=len, reverse=True))
    + r")"
)
_UNIT = r"(?P<u>minute|min|hour|hr|day|week|wk|month|year|yr)s?"
_YEAR = r"(?P<y>(?:19|20)\d\d)(?!\d)"

_RX_TODAY = re.compile(r"(?P<w>today|yesterday|the\s+day\s+before\s+yesterday)" + _END, _I)
_RX_WEEKDAY = re.compile(r"(?:(?:last|this\s+past|past|this)\s+)?" + _WEEKDAY + _END, _I)
_RX_ISO = re.compile(r"(?P<y>\d{4})(?P<sep>[-/])(?P<m>\d{1,2})(?P=sep)(?P<d>\d{1,2})(?![\w:/-])")
_RX_ISO_TIME = re.compile(
    r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})[T ](?P<H>\d{1,2}):(?P<M>\d{2})"
    r"(?::\d{2}(?:\.\d+)?)?(?![\w:.+-])"
)
_RX_NUMERIC = re.compile(
    r"(?P<a>\d{1,2})(?:(?P<s1>/)(?P<b1>\d{1,2})/(?P<y1>\d{4}|\d{2})"
    r"|(?P<s2>[.-])(?P<b2>\d{1,2})(?P=s2)(?P<y2>\d{4}))(?![\w./-])",
)
_RX_DMY = re.compile(
    r"(?:the\s+)?(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?"
    + _MONTH
    + r"(?:,?\s*"
    + _YEAR
    + r")?"
    + _END,
    _I,
)
_RX_MDY = re.compile(
    _MONTH
    + r"\s+(?:the\s+)?(?P<d>\d{1,2})(?:st|nd|rd|th)?(?![\d:])(?:,?\s*"
    + _YEAR
    + r")?"
    + _END,
    _I,
)
_RX_WEEKDAY_PREFIX = re.compile(_WEEKDAY + r",?\s+", _I)
_RX_TIME = re.compile(
    r"(?:(?P<pre>at|around|about|ca\.?)\s+)?"
    r"(?:(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ap>a\.?m\.?|p\.?m\.?)(?!\w)"
    r"|(?P<h2>\d{1,2})[:.](?P<m2>\d{2})(?![\d:.]?\w)|(?P<word>noon|midday|midnight)" + _END + ")",
    _I,
)
_RX_SPACE_AT = re.compile(r",?\s+(?:on\s+)?", _I)
_RX_DAY_CLOCK = re.compile(r",?\s+")
_RX_DAY_PART = re.compile(r"\s+(?:in\s+the\s+)?" + _PART + _END, _I)
_RX_PART_OF = re.compile(r"(?:the\s+)?" + _PART + r"\s+(?:of|on)\s+", _I)
_RX_THIS_PART = re.compile(r"this\s+(?P<part>morning|afternoon|evening)" + _END, _I)
_RX_NIGHT = re.compile(r"(?P<w>tonight|last\s+night|earlier\s+today)" + _END, _I)
_RX_CALENDAR = re.compile(
    r"(?:(?P<rel>this|last|previous|the\s+previous)\s+|(?P<the>(?:over\s+)?the\s+))"
    r"(?P<u>week|month|year|weekend)" + _END,
    _I,
)
_RX_MONTH = re.compile(
    r"(?:(?P<rel>last|this)\s+)?" + _MONTH + r"(?:,?\s*" + _YEAR + r")?" + _END, _I
)
_RX_YEAR = re.compile(_YEAR + _END)
_RX_AGO = re.compile(
    r"(?:(?P<half>half\s+an\s+hour)|" + _NUM + r"\s+" + _UNIT + r")\s+ago" + _END, _I
)
_RX_ROLLING = re.compile(
    r"(?:(?P<for>for|in|during|over|within)\s+)?(?P<the>the\s+)?(?P<kw>last|past|previous)\s+"
    r"(?:" + _NUM + r"\s+)?" + _UNIT + _END,
    _I,
)
_RX_POSSESSIVE = re.compile(r"['’]s" + _END)
_RX_PREP = re.compile(r"(?P<p>back\s+in|in|during|on|over|from|within|around)\s+", _I)
_RX_MOD = re.compile(
    r"(?P<m>since|after|before|prior\s+to|until|till|til|up\s+to|between|from)\s+", _I
)
_RX_SEP = re.compile(r"\s+(?:and|to|until|till|through|thru)\s+|\s*[-–]\s*", _I)
_ANCHORING = {"in", "on", "during", "back in", "since", "after", "before", "prior to", "until",
              "till", "til", "up to", "between"}  # fmt: skip

_FALLBACK_STOP = {
    "and", "or", "to", "until", "till", "through", "but", "when", "while", "where", "with",
    "for", "about", "because", "that", "which", "who", "what", "did", "was", "were", "is",
}  # fmt: skip
_RELATIVE_WORD = re.compile(
    r"(?i)^(ago|now|next|last|this|today|tomorrow|yesterday|(second|sec|minute|min|hour|hr"
    r"|day|week|month|year|yr)s?)$"
)

_Bounds = tuple[datetime, datetime]
_Hit = tuple[int, datetime | None, datetime | None]  # (end index in the query, start, end)


def parse_time_query(
    query: str, now: datetime | None = None, tz: tzinfo | None = None, *, day_first: bool = True
) -> ParsedQuery:
    """Find the time phrase in ``query``; return the rest of the query and the range it names.

    ``now`` defaults to the current time; a naive ``now`` is taken as local time in ``tz``.
    ``tz`` defaults to the zone of an aware ``now``, else the system zone.
    """
    ctx = _Ctx(now, tz, day_first)
    best: tuple[int, int, datetime | None, datetime | None] | None = None
    for i in _word_starts(query):
        hit = _expr(ctx, query, i)
        if hit is not None and (best is None or hit[0] - i > best[1] - best[0]):
            best = (i, hit[0], hit[1], hit[2])
    if best is None:
        return ParsedQuery(query, None)
    i, j, start, end = best
    phrase = query[i:j].strip()
    return ParsedQuery(_clean(query[:i] + " " + query[j:]), TimeRange(start, end, phrase))


class _Ctx:
    """The clock the phrases are resolved against."""

    def __init__(self, now: datetime | None, tz: tzinfo | None, day_first: bool) -> None:
        if tz is None:
            tz = now.tzinfo if now is not None and now.tzinfo is not None else _local_tz()
        if now is None:
            now = datetime.now(tz)
        elif now.tzinfo is None:
            now = now.replace(tzinfo=tz)
        else:
            now = now.astimezone(tz)
        self.tz = tz
        self.now = now
        self.today = now.date()
        self.day_first = day_first

    def at(self, d: date, hour: int = 0, minute: int = 0) -> datetime:
        """Local wall time on day ``d``; hours past 24 roll into the next day."""
        days, hour = divmod(hour, 24)
        return datetime.combine(d + timedelta(days=days), time(hour, minute), tzinfo=self.tz)

    def day(self, d: date) -> _Bounds:
        return self.at(d), self.at(d + timedelta(days=1))

    def week(self, d: date) -> _Bounds:
        monday = d - timedelta(days=d.weekday())
        return self.at(monday), self.at(monday + timedelta(days=7))

    def month(self, year: int, month: int) -> _Bounds:
        ny, nm = _add_months(year, month, 1)
        return self.at(date(year, month, 1)), self.at(date(ny, nm, 1))

    def year(self, year: int) -> _Bounds:
        return self.at(date(year, 1, 1)), self.at(date(year + 1, 1, 1))

    def elapsed(self, delta: timedelta) -> datetime:
        """``now - delta`` in real elapsed time (correct across DST changes)."""
        return (self.now.astimezone(UTC) - delta).astimezone(self.tz)

    def around(self, point: datetime, half: timedelta) -> _Bounds:
        utc = point.astimezone(UTC)
        return (utc - half).astimezone(self.tz), (utc + half).astimezone(self.tz)


def _local_tz() -> tzinfo:
    try:
        import tzlocal

        return tzlocal.get_localzone()
    except Exception:  # no tzlocal or an unreadable system zone: the fixed current offset
        return datetime.now().astimezone().tzinfo or UTC


def _word_starts(s: str) -> list[int]:
    return [i for i, c in enumerate(s) if c.isalnum() and (i == 0 or not s[i - 1].isalnum())]


def _clean(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([?.!,;:])", r"\1", text)
    text = re.sub(r"[,;:]+(?=[?.!]|$)", "", text)
    text = re.sub(r"^[,;:]\s*", "", text)
    text = re.sub(r"([,;:])(?=[,;:])", "", text)
    return text.strip()


def _add_months(year: int, month: int, k: int) -> tuple[int, int]:
    y, m = divmod(year * 12 + (month - 1) + k, 12)
    return y, m + 1


def _longest(hits: list[_Hit | None]) -> _Hit | None:
    found = [h for h in hits if h is not None]
    return max(found, key=lambda h: h[0]) if found else None


# --- expressions: modifiers around a period -------------------------------------------------


def _expr(ctx: _Ctx, s: str, i: int) -> _Hit | None:
    hits: list[_Hit | None] = [_possessive(s, _period(ctx, s, i, anchored=False))]
    m = _RX_PREP.match(s, i)
    if m:
        anchored = _norm(m["p"]) in _ANCHORING
        hits.append(_possessive(s, _period(ctx, s, m.end(), anchored)))
    m = _RX_MOD.match(s, i)
    if m:
        mod = _norm(m["m"])
        first = _period(ctx, s, m.end(), anchored=True)
        if first is not None:
            if mod in ("between", "from"):
                sep = _RX_SEP.match(s, first[0])
                second = _period(ctx, s, sep.end(), anchored=True) if sep else None
                if second is not None and second[0] > first[0]:
                    starts = [t for t in (first[1], second[1]) if t is not None]
                    ends = [t for t in (first[2], second[2]) if t is not None]
                    hits.append((second[0], min(starts, default=None), max(ends, default=None)))
            elif mod == "since":
                hits.append((first[0], first[1], None))
            elif mod == "after":
                hits.append((first[0], first[2], None))
            elif mod in ("before", "prior to"):
                hits.append((first[0], None, first[1]))
            else:  # until, till, up to: inclusive of the named period
                hits.append((first[0], None, first[2]))
    return _longest(hits)


def _norm(word: str) -> str:
    return " ".join(word.lower().split())


def _possessive(s: str, hit: _Hit | None) -> _Hit | None:
    if hit is None:
        return None
    m = _RX_POSSESSIVE.match(s, hit[0])
    return (m.end(), hit[1], hit[2]) if m else hit


# --- periods --------------------------------------------------------------------------------


def _period(ctx: _Ctx, s: str, i: int, anchored: bool) -> _Hit | None:
    hits = [rule(ctx, s, i, anchored) for rule in _RULES]
    best = _longest(hits)
    if best is None and anchored:
        best = _dateparser_fallback(ctx, s, i)
    return best


def _day_rules(ctx: _Ctx, s: str, i: int, anchored: bool) -> _Hit | None:
    """A day, alone or with a part of it or a clock time: "yesterday afternoon", "at 3pm"."""
    hits: list[_Hit | None] = []
    day = _day(ctx, s, i, anchored)
    if day is not None:
        j, d = day
        hits.append((j, *ctx.day(d)))
        m = _RX_DAY_PART.match(s, j)
        if m:
            hits.append((m.end(), *_part(ctx, d, m["part"])))
        m = _RX_DAY_CLOCK.match(s, j)
        clock = _clock(s, m.end()) if m else None
        if clock is not None:
            hits.append((clock[0], *ctx.around(ctx.at(d, *clock[1:]), timedelta(minutes=30))))
    m = _RX_PART_OF.match(s, i)
    if m:
        day = _day(ctx, s, m.end(), True)
        if day is not None:
            hits.append((day[0], *_part(ctx, day[1], m["part"])))
    clock = _clock(s, i)
    if clock is not None:
        j, hour, minute = clock
        m = _RX_SPACE_AT.match(s, j)
        day = _day(ctx, s, m.end(), True) if m else None
        if day is not None:
            point = ctx.at(day[1], hour, minute)
            hits.append((day[0], *ctx.around(point, timedelta(minutes=30))))
        else:
            point = ctx.at(ctx.today, hour, minute)
            if point > ctx.now:
                point = ctx.at(ctx.today - timedelta(days=1), hour, minute)
            hits.append((j, *ctx.around(point, timedelta(minutes=30))))
    m = _RX_ISO_TIME.match(s, i)
    if m:
        d = _valid(int(m["y"]), int(m["m"]), int(m["d"]))
        if d is not None and int(m["H"]) < 24 and int(m["M"]) < 60:
            point = ctx.at(d, int(m["H"]), int(m["M"]))
            hits.append((m.end(), *ctx.around(point, timedelta(minutes=30))))
    return _longest(hits)


def _part(ctx: _Ctx, d: date, part: str) -> _Bounds:
    lo, hi = _PARTS[part.lower()]
    return ctx.at(d, lo), ctx.at(d, hi)


def _this_part(ctx: _Ctx, s: str, i: int, anchored: bool) -> _Hit | None:
    m = _RX_THIS_PART.match(s, i)
    if m:
        return (m.end(), *_part(ctx, ctx.today, m["part"]))
    m = _RX_NIGHT.match(s, i)
    if not m:
        return None
    w = _norm(m["w"])
    if w == "tonight":
        return (m.end(), *_part(ctx, ctx.today, "night"))
    if w == "last night":
        return (m.end(), *_part(ctx, ctx.today - timedelta(days=1), "night"))
    return (m.end(), ctx.at(ctx.today), ctx.now)  # earlier today


def _calendar(ctx: _Ctx, s: str, i: int, anchored: bool) -> _Hit | None:
    m = _RX_CALENDAR.match(s, i)
    if not m:
        return None
    unit, rel = m["u"].lower(), _norm(m["rel"] or "this")
    back = rel != "this"
    t = ctx.today
    if unit == "weekend":
        saturday = t - timedelta(days=(t.weekday() - 5) % 7)
        if back and t.weekday() >= 5:
            saturday -= timedelta(days=7)
        return (m.end(), ctx.at(saturday), ctx.at(saturday + timedelta(days=2)))
    if m["the"]:  # "the week" etc. is not a time phrase; only "the weekend" is
        return None
    if unit == "week":
        return (m.end(), *ctx.week(t - timedelta(days=7 * back)))
    if unit == "month":
        return (m.end(), *ctx.month(*_add_months(t.year, t.month, -back)))
    return (m.end(), *ctx.year(t.year - back))


def _month(ctx: _Ctx, s: str, i: int, anchored: bool) -> _Hit | None:
    m = _RX_MONTH.match(s, i)
    if not m:
        return None
    month, rel = MONTHS[m["mon"].lower()], (m["rel"] or "").lower()
    if m["y"]:
        return (m.end(), *ctx.month(int(m["y"]), month))
    if not (anchored or rel) or (rel == "this" and month == 5):  # "this may be..."
        return None
    year = ctx.today.year
    if rel == "last":
        year -= month >= ctx.today.month
    elif rel == "" and month > ctx.today.month:
        year -= 1
    return (m.end(), *ctx.month(year, month))


def _year(ctx: _Ctx, s: str, i: int, anchored: bool) -> _Hit | None:
    m = _RX_YEAR.match(s, i)
    return (m.end(), *ctx.year(int(m["y"]))) if m and anchored else None


def _ago(ctx: _Ctx, s: str, i: int, anchored: bool) -> _Hit | None:
    m = _RX_AGO.match(s, i)
    if not m:
        return None
    if m["half"]:
        lo, hi, unit = 30, 30, "minute"
    else:
        lo, hi = _count(m["n"])
        unit = _unit(m["u"])
    if hi > 10_000:
        return None
    a, b = _ago_window(ctx, unit, hi), _ago_window(ctx, unit, lo)
    return (m.end(), a[0], b[1])


def _ago_window(ctx: _Ctx, unit: str, n: int) -> tuple[datetime, datetime]:
    t = ctx.today
    if unit == "minute":
        start, end = ctx.around(ctx.elapsed(timedelta(minutes=n)), timedelta(minutes=5))
        return start, min(end, ctx.now)
    if unit == "hour":
        start, end = ctx.around(ctx.elapsed(timedelta(hours=n)), timedelta(minutes=30))
        return start, min(end, ctx.now)
    if unit == "day":
        return ctx.day(t - timedelta(days=n))
    if unit == "week":
        return ctx.week(t - timedelta(days=7 * n))
    if unit == "month":
        return ctx.month(*_add_months(t.year, t.month, -n))
    return ctx.year(t.year - n)


def _rolling(ctx: _Ctx, s: str, i: int, anchored: bool) -> _Hit | None:
    m = _RX_ROLLING.match(s, i)
    if not m:
        return None
    kw = m["kw"].lower()
    if m["for"] and not m["the"] and not m["n"]:
        return None  # "in last week" etc.: left to the calendar rule
    if not (m["the"] or m["n"] or kw == "past"):
        return None  # bare "last week" is the previous calendar week
    n = _count(m["n"])[1] if m["n"] else 1
    unit = _unit(m["u"])
    if n > 10_000:
        return None
    if unit in ("minute", "hour"):
        start = ctx.elapsed(timedelta(minutes=n) if unit == "minute" else timedelta(hours=n))
    elif unit in ("day", "week"):
        start = ctx.now - timedelta(days=n * (7 if unit == "week" else 1))
    else:
        months = n if unit == "month" else 12 * n
        y, mo = _add_months(ctx.today.year, ctx.today.month, -months)
        start = ctx.now.replace(year=y, month=mo, day=min(ctx.today.day, _days_in(y, mo)))
    return (m.end(), start, ctx.now)


def _days_in(year: int, month: int) -> int:
    ny, nm = _add_months(year, month, 1)
    return (date(ny, nm, 1) - date(year, month, 1)).days


def _count(word: str) -> tuple[int, int]:
    w = _norm(word)
    for key, span in _VAGUE.items():
        if key in w:
            return span
    n = int(w) if w.isdigit() else _NUMBERS[w]
    return n, n


def _unit(word: str) -> str:
    w = word.lower()
    for unit, prefix in (("minute", "mi"), ("hour", "h"), ("day", "d"), ("week", "w")):
        if w.startswith(prefix):
            return unit
    return "month" if w.startswith("mo") else "year"


_RULES: tuple[Callable[[_Ctx, str, int, bool], _Hit | None], ...] = (
    _day_rules,
    _this_part,
    _calendar,
    _month,
    _year,
    _ago,
    _rolling,
)


# --- days and clock times -------------------------------------------------------------------


def _day(ctx: _Ctx, s: str, i: int, anchored: bool) -> tuple[int, date] | None:
    """The longest day phrase at ``i``: today, yesterday, a weekday, an explicit date."""
    found: list[tuple[int, date]] = []
    t = ctx.today
    m = _RX_TODAY.match(s, i)
    if m:
        back = {"today": 0, "yesterday": 1}.get(m["w"].lower(), 2)
        found.append((m.end(), t - timedelta(days=back)))
    m = _RX_WEEKDAY.match(s, i)
    if m:
        wd = _WEEKDAYS.index(m["wd"].lower())
        back = (t.weekday() - wd) % 7 or 7
        found.append((m.end(), t - timedelta(days=back)))
    explicit = _explicit_date(ctx, s, i, anchored)
    if explicit is None:
        m = _RX_WEEKDAY_PREFIX.match(s, i)  # "Monday, 8 May 2023": the date decides
        if m:
            explicit = _explicit_date(ctx, s, m.end(), True)
    if explicit is not None:
        found.append(explicit)
    return max(found, key=lambda f: f[0]) if found else None


def _explicit_date(ctx: _Ctx, s: str, i: int, anchored: bool) -> tuple[int, date] | None:
    found: list[tuple[int, date]] = []
    m = _RX_ISO.match(s, i)
    if m:
        d = _valid(int(m["y"]), int(m["m"]), int(m["d"]))
        if d is not None:
            found.append((m.end(), d))
    m = _RX_NUMERIC.match(s, i)
    if m:
        a, b = int(m["a"]), int(m["b1"] or m["b2"])
        y = int(m["y1"] or m["y2"])
        if y < 100:
            y += 2000 if y <= ctx.today.year % 100 + 1 else 1900
        day, month = (a, b) if ctx.day_first else (b, a)
        d = _valid(y, month, day) or _valid(y, day, month)
        if d is not None:
            found.append((m.end(), d))
    for rx in (_RX_DMY, _RX_MDY):
        m = rx.match(s, i)
        if not m:
            continue
        month = MONTHS[m["mon"].lower()]
        if month == 5 and not m["y"] and not anchored and not m["mon"].startswith("M"):
            continue  # lower-case "may 2" is more likely the verb
        if m["y"]:
            d = _valid(int(m["y"]), month, int(m["d"]))
        else:
            d = _recent(ctx.today, month, int(m["d"]))
        if d is not None:
            found.append((m.end(), d))
    return max(found, key=lambda f: f[0]) if found else None


def _valid(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _recent(today: date, month: int, day: int) -> date | None:
    """The latest ``month``/``day`` not after today (looks back far enough for 29 February)."""
    for year in range(today.year, today.year - 9, -1):
        d = _valid(year, month, day)
        if d is not None and d <= today:
            return d
    return None


def _clock(s: str, i: int) -> tuple[int, int, int] | None:
    """A clock time at ``i``: "3pm", "at 3:15 p.m.", "at 15:00", "at noon"."""
    m = _RX_TIME.match(s, i)
    if not m:
        return None
    if m["h"]:
        hour, minute = int(m["h"]), int(m["m"] or 0)
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if m["ap"].lower().startswith("p") else 0)
    elif not m["pre"]:
        return None  # a bare "10:30" or "noon" needs "at"/"around"
    elif m["word"]:
        hour, minute = (0, 0) if m["word"].lower() == "midnight" else (12, 0)
    else:
        hour, minute = int(m["h2"]), int(m["m2"])
        if hour > 23:
            return None
    if minute > 59:
        return None
    return m.end(), hour, minute


# --- explicit dates the rules do not know ---------------------------------------------------


def _dateparser_fallback(ctx: _Ctx, s: str, i: int) -> _Hit | None:
    """Ask dateparser about the next few words after an anchor, if they hold a digit."""
    tokens: list[re.Match[str]] = []
    for tok in re.finditer(r"\S+", s[i:]):
        word = tok.group().rstrip(",;:?!.)")
        if len(tokens) == 5 or word.lower() in _FALLBACK_STOP or not word:
            break
        tokens.append(tok)
        if word != tok.group():
            break
    for n in range(len(tokens), 0, -1):
        end = i + tokens[n - 1].end()
        text = s[i:end].rstrip(",;:?!)")
        text = text[:-1] if text.endswith(".") and not text[-2:-1].isdigit() else text
        words = text.split()
        if not any(c.isdigit() for c in text) or text.isdigit():
            continue
        if any(_RELATIVE_WORD.match(w.strip(",.")) for w in words):
            continue
        bounds = _dateparse(ctx, text)
        if bounds is not None:
            return (i + len(text), *bounds)
    return None


def _dateparse(ctx: _Ctx, text: str) -> _Bounds | None:
    try:
        from dateparser.date import DateDataParser

        parser = DateDataParser(
            languages=DATEPARSER_LANGUAGES,
            settings={
                "PREFER_DATES_FROM": "past",
                "RELATIVE_BASE": ctx.now.replace(tzinfo=None),
                "DATE_ORDER": "DMY" if ctx.day_first else "MDY",
                "PREFER_DAY_OF_MONTH": "first",
                "RETURN_AS_TIMEZONE_AWARE": False,
            },
        )
        data = parser.get_date_data(text)
    except Exception:  # dateparser missing or confused: the phrase simply is not a date
        return None
    found = data.date_obj
    if found is None:
        return None
    d = found.date()
    if data.period == "year":
        return ctx.year(d.year)
    if data.period == "month":
        return ctx.month(d.year, d.month)
    if data.period == "week":
        return ctx.week(d)
    if data.period == "time":
        return ctx.around(ctx.at(d, found.hour, found.minute), timedelta(minutes=30))
    return ctx.day(d)
