"""Rules that read window metadata and OCR text without an LLM.

Used by the offline agent to name what the user was doing, pick the informative OCR lines,
compare documents, and recognise contacts and links. Everything here is pure text in,
text out, so it is cheap and easy to test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

_PLACEHOLDER = re.compile(r"\[REDACTED:[a-z_]+\]")

# app kind -> (name fragments, resource_type, verb template)
_KINDS: dict[str, tuple[tuple[str, ...], str]] = {
    "browser": (
        (
            "firefox",
            "chrome",
            "chromium",
            "brave",
            "edge",
            "safari",
            "opera",
            "vivaldi",
            "librewolf",
            "epiphany",
            "web browser",
            "navigator",
        ),
        "web_page",
    ),
    "editor": (
        (
            "code",
            "vscodium",
            "pycharm",
            "intellij",
            "idea",
            "webstorm",
            "clion",
            "goland",
            "vim",
            "emacs",
            "sublime",
            "gedit",
            "kate",
            "atom",
            "zed",
            "notepad",
            "textedit",
            "writer",
            "word",
            "pages",
            "obsidian",
            "typora",
            "xed",
            "mousepad",
        ),
        "document",
    ),
    "terminal": (
        (
            "terminal",
            "konsole",
            "xterm",
            "alacritty",
            "kitty",
            "iterm",
            "tilix",
            "wezterm",
            "urxvt",
            "foot",
            "terminator",
            "powershell",
            "cmd.exe",
        ),
        "terminal",
    ),
    "mail": (("thunderbird", "outlook", "evolution", "mail", "geary", "mutt"), "email"),
    "chat": (
        (
            "slack",
            "discord",
            "telegram",
            "signal",
            "teams",
            "element",
            "whatsapp",
            "zoom",
            "mattermost",
            "skype",
            "messages",
        ),
        "chat",
    ),
    "viewer": (
        (
            "evince",
            "okular",
            "acrobat",
            "reader",
            "zathura",
            "preview",
            "atril",
            "xreader",
            "calc",
            "excel",
            "impress",
            "powerpoint",
            "sheets",
            "numbers",
            "keynote",
        ),
        "document",
    ),
}
_PRETTY = {
    "code": "Visual Studio Code",
    "code-oss": "Visual Studio Code",
    "firefox": "Firefox",
    "firefox-esr": "Firefox",
    "google-chrome": "Google Chrome",
    "chromium": "Chromium",
    "gnome-terminal-server": "Terminal",
    "gnome-terminal": "Terminal",
    "org.gnome.terminal": "Terminal",
    "thunderbird": "Thunderbird",
    "libreoffice": "LibreOffice",
    "soffice": "LibreOffice",
    "evince": "Document Viewer",
    "msedge": "Microsoft Edge",
}
CODE_EXT = re.compile(
    r"\.(py|js|ts|tsx|jsx|rs|go|java|kt|c|h|cc|cpp|hpp|cs|rb|php|swift|sh|bash|zsh|sql|lua|"
    r"toml|ya?ml|json|ini|cfg|html|css|scss|vue|svelte|r|jl|scala|dart|zig)\b",
    re.I,
)


def app_kind(app: str | None) -> str:
    """browser / editor / terminal / mail / chat / viewer / other, from the app name."""
    name = (app or "").lower()
    for kind, (frags, _rt) in _KINDS.items():
        if any(re.search(rf"(^|[^a-z]){re.escape(f)}([^a-z]|$)", name) for f in frags):
            return kind
    return "other"


def pretty_app(app: str | None) -> str:
    if not app:
        return "an unknown app"
    key = app.strip().lower()
    if key in _PRETTY:
        return _PRETTY[key]
    base = re.sub(r"\.(exe|app|desktop)$", "", app.strip(), flags=re.I)
    return base if any(c.isupper() for c in base) else base.replace("-", " ").title()


_SEP = re.compile(r"\s+[-\u2013\u2014|\u00b7]\s+")


def clean_title(title: str | None, app: str | None) -> str:
    """The window title without the trailing app name and modified markers."""
    t = (title or "").strip().lstrip("\u25cf*\u2022 ").strip()
    parts = [p for p in _SEP.split(t) if p.strip()]
    words = {
        w for w in re.findall(r"[a-z]+", f"{app or ''} {pretty_app(app)}".lower()) if len(w) > 2
    }
    words |= {"mozilla", "google", "microsoft", "visual", "studio"}
    while len(parts) > 1:
        tail = set(re.findall(r"[a-z]+", parts[-1].lower()))
        if tail and tail <= words | {"code", "firefox", "chrome", "browser", "private"}:
            parts.pop()
        else:
            break
    return " - ".join(parts).strip()


def resource_type(app: str | None, title: str) -> str:
    kind = app_kind(app)
    if kind == "editor" and CODE_EXT.search(title.split(" - ")[0]):
        return "code_file"
    return _KINDS[kind][1] if kind in _KINDS else "document"


def event_summary(app: str | None, title: str | None) -> str:
    """ "Edited report.md in Visual Studio Code", "Read 'X' in Firefox", ..."""
    name = pretty_app(app)
    t = clean_title(title, app)
    kind = app_kind(app)
    if not t:
        return f"Used {name}"
    if kind == "editor":
        return f"Edited {t.split(' - ')[0]} in {name}"
    if kind in ("browser", "viewer"):
        return f"Read '{t}' in {name}"
    if kind == "mail":
        return f"Read mail '{t}' in {name}"
    if kind == "chat":
        return f"Chatted in {name}: {t}"
    if kind == "terminal":
        return f"Worked in the terminal: {t}"
    return f"Used {name}: {t}"[:2000]


# ------------------------------------------------------------------------------ lines


def lines_of(text: str) -> list[str]:
    """Non-trivial OCR lines: stripped, whitespace collapsed, at least 3 letters/digits."""
    out = []
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if sum(ch.isalnum() for ch in line) >= 3:
            out.append(line)
    return out


def _score(line: str) -> float:
    words = re.findall(r"[^\W\d_]{3,}", line)
    alnum = sum(ch.isalnum() for ch in line) or 1
    letters = sum(ch.isalpha() for ch in line)
    return len(set(w.lower() for w in words)) * (letters / alnum)


def informative_lines(new: list[str], seen: set[str], *, k: int = 25, cap: int = 2000) -> list[str]:
    """Up to k lines not in ``seen``, the most informative kept, in their original order."""
    fresh: list[str] = []
    local: set[str] = set()
    for line in new:
        key = line.lower()
        if key in seen or key in local or _score(line) < 1:
            continue
        local.add(key)
        fresh.append(line)
    best = set(sorted(range(len(fresh)), key=lambda i: -_score(fresh[i]))[:k])
    out, size = [], 0
    for i, line in enumerate(fresh):
        if i in best and size + len(line) + 1 <= cap:
            out.append(line)
            size += len(line) + 1
    return out


def shingles(text: str, n: int = 3) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    if len(words) < n:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def jaccard(a: set, b: set) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def norm_title(title: str) -> str:
    return " ".join(re.findall(r"\w+", title.lower()))


# ------------------------------------------------------------------------------ vault


@dataclass(frozen=True)
class Found:
    """A vault candidate: entry_type, caption, the normalised value used for dedupe."""

    entry_type: str
    caption: str
    value: str
    sensitivity: str


_EMAIL = re.compile(
    r"(?<![\w.+-])([A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24})\b"
)
_NAME = re.compile(
    r"((?:[A-Z][a-z\u00e0-\u00ff'-]+|[A-Z]\.)(?:\s+(?:van|von|de|der|da|di|le|la|[A-Z][a-z\u00e0-\u00ff'-]+|[A-Z]\.)){1,3})"
    r"\s*[<(\[:,]?\s*$"
)
_URL = re.compile(r"\bhttps?://[^\s<>\"'`\])}]{3,2000}", re.I)
_PHONE = re.compile(
    r"(?:(?P<label>\b(?:tel|phone|mobile|mob|cell|fax|call|telefon|handy|t\.)\b\.?\s*[:#]?\s*)"
    r"(?P<num1>\+?\(?\d[\d\s().\/-]{5,20}\d)|(?P<num2>\+\d{1,3}[\s.-]?\(?\d[\d\s().\/-]{5,18}\d))",
    re.I,
)
_STOP_NAMES = {
    "From",
    "To",
    "Cc",
    "Bcc",
    "Reply",
    "Sent",
    "Date",
    "Subject",
    "Email",
    "Mail",
    "Contact",
    "Re",
    "Fwd",
    "Dear",
    "Hi",
    "Hello",
    "Thanks",
    "Regards",
    "The",
}


def _name_before(line: str, start: int) -> str | None:
    m = _NAME.search(line[:start])
    if not m:
        return None
    words = [w for w in m.group(1).split() if w not in _STOP_NAMES]
    return " ".join(words) if len(words) >= 2 else None


def normalise_url(url: str) -> str | None:
    """scheme://host/path (lower-case host, no query, fragment or credentials); None if odd."""
    url = url.rstrip(".,;:!?")
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if not host or "." not in host or parts.username or parts.password:
        return None
    path = parts.path.rstrip("/")
    return urlunsplit(
        (parts.scheme.lower(), host + (f":{parts.port}" if parts.port else ""), path, "", "")
    )


def find_vault_items(text: str, *, url: str | None = None, browser: bool = False) -> list[Found]:
    """Contacts (email with a name nearby, labelled or international phone numbers) and
    bookmarks (the capture URL, and URLs in a browser's OCR text). Never a redacted value."""
    out: dict[str, Found] = {}
    for line in text.splitlines():
        if _PLACEHOLDER.search(line):
            continue
        for m in _EMAIL.finditer(line):
            email = m.group(1).lower()
            name = _name_before(line, m.start())
            if name:
                key = f"email:{email}"
                out.setdefault(key, Found("contact", f"{name} <{email}>", key, "low"))
        for m in _PHONE.finditer(line):
            raw = (m.group("num1") or m.group("num2")).strip()
            digits = re.sub(r"\D", "", raw)
            if not 7 <= len(digits) <= 15 or re.fullmatch(r"(\d)\1+", digits):
                continue
            name = _name_before(line, m.start())
            key = f"phone:{'+' if raw.startswith('+') else ''}{digits}"
            caption = f"{name}: {raw}" if name else f"Phone {raw}"
            out.setdefault(key, Found("contact", caption, key, "medium"))
        if browser:
            for m in _URL.finditer(line):
                u = normalise_url(m.group(0))
                if u:
                    out.setdefault(f"url:{u}", Found("bookmark", u, f"url:{u}", "low"))
    if url and not _PLACEHOLDER.search(url):
        u = normalise_url(url)
        if u:
            out.setdefault(f"url:{u}", Found("bookmark", u, f"url:{u}", "low"))
    return list(out.values())


def vault_key(source: str) -> str | None:
    """The dedupe key an existing vault entry was stored with (kept in ``source``)."""
    m = re.search(r"\bkey=(\S+)", source)
    return m.group(1) if m else None
