"""Which foreground windows must never be captured: password managers, private browsing, user rules.

An excluded frame is dropped before it is written anywhere, so these rules err on the side of
excluding. Apps are matched on the name the platform reports (X11 ``WM_CLASS`` class, the
macOS app name, the Windows process name); private browsing is recognised from the window
title, which is the only signal every platform offers. :func:`is_private_window` is the one
detector: :func:`engram.core.capture.window.active_window` uses it to fill
``WindowInfo.private``, and :meth:`PrivacyRules.check` runs it again so a ``WindowInfo`` made
elsewhere (an ingested image's sidecar) is judged the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engram.core.capture.window import WindowInfo

DEFAULT_EXCLUDED_APPS: tuple[str, ...] = (
    "KeePassXC",
    "KeePassX",
    "KeePass",
    "KeeWeb",
    "1Password",
    "Bitwarden",
    "LastPass",
    "Dashlane",
    "Enpass",
    "NordPass",
    "RoboForm",
    "Proton Pass",
    "Keeper",
    "Keeper Password Manager",
    "Buttercup",
    "Password Safe",
    "pwsafe",
    "QtPass",
    "pass",
    "Seahorse",
    "org.gnome.World.Secrets",
    "KWalletManager",
    "Keychain Access",
    "Authy",
)

# Title suffixes the browsers add to private windows. Each is anchored at the end of the title
# (or on a bracketed marker) so that an ordinary document whose name says "private" — e.g.
# "Private equity report.pdf - Evince" — is not mistaken for one.
DEFAULT_PRIVATE_TITLE_PATTERNS: tuple[str, ...] = (
    # Firefox >= 119 "… — Mozilla Firefox Private Browsing"; older "… - Mozilla Firefox (Private
    # Browsing)"; also Developer Edition, Nightly and the forks that keep the wording.
    r"(?:Mozilla Firefox|Firefox(?: Developer Edition| Nightly)?|LibreWolf|Waterfox|Floorp)"
    r"\s*\(?Private Browsing\)?\s*$",
    # A bare "Private Browsing" title or suffix (Safari's and Firefox's empty private window).
    r"(?:^|\s[—–-]\s*)Private Browsing\s*$",
    # Chrome / Chromium / other Chromium browsers: "… - Google Chrome (Incognito)".
    r"\(Incognito\)\s*$",
    # Brave, Vivaldi, Opera: "… - Brave (Private)", "… (Private with Tor)".
    r"\b(?:Brave|Vivaldi|Opera|Yandex)\b[^—–()]*\(Private(?: with Tor)?\)\s*$",
    # Edge: "… - [InPrivate] - Microsoft Edge" (Edge puts a zero-width space in its name).
    r"\[InPrivate\]",
    r"\(InPrivate\)\s*$",
    # Tor Browser: every window is private.
    r"\s[—–-]\s*Tor Browser\s*$",
)

# Apps whose every window is a private browsing window.
DEFAULT_PRIVATE_APPS: tuple[str, ...] = ("Tor Browser", "torbrowser")

_PRIVATE_RE = [re.compile(p, re.IGNORECASE) for p in DEFAULT_PRIVATE_TITLE_PATTERNS]


def _norm(name: str) -> str:
    name = name.strip().lower()
    for suffix in (".exe", ".app", ".desktop"):
        name = name.removesuffix(suffix)
    return re.sub(r"[^0-9a-z]+", "", name)


def _app_candidates(app: str) -> set[str]:
    """The whole name plus each part of a reverse-DNS id (``org.keepassxc.KeePassXC``)."""
    whole = app.strip().lower()
    for suffix in (".exe", ".app", ".desktop"):
        whole = whole.removesuffix(suffix)
    parts = {whole, *whole.split(".")}
    return {n for n in (_norm(p) for p in parts) if n}


def app_matches(app: str | None, names: Iterable[str]) -> str | None:
    """The first of ``names`` that ``app`` is, ignoring case, punctuation and version digits.

    "kwalletmanager5", "KeePassXC.exe", "org.keepassxc.KeePassXC" and "1Password 7" all match.
    """
    if not app:
        return None
    candidates = _app_candidates(app)
    for name in names:
        key = _norm(name)
        if not key:
            continue
        for cand in candidates:
            if cand == key or (cand.startswith(key) and cand[len(key) :].isdigit()):
                return name
    return None


def is_private_window(app: str | None, title: str | None) -> bool:
    """True when the window is a private / incognito browsing window."""
    if app_matches(app, DEFAULT_PRIVATE_APPS):
        return True
    return bool(title) and any(r.search(title) for r in _PRIVATE_RE)


def _compile(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for p in patterns:
        if not isinstance(p, str) or not p:
            raise ValueError(f"title pattern must be a non-empty string, got {p!r}")
        try:
            compiled.append(re.compile(p, re.IGNORECASE))
        except re.error as exc:
            raise ValueError(f"invalid title pattern {p!r}: {exc}") from exc
    return tuple(compiled)


@dataclass(frozen=True)
class PrivacyRules:
    """The exclusion rules in force; :meth:`check` says why a window is excluded."""

    excluded_apps: tuple[str, ...] = DEFAULT_EXCLUDED_APPS
    excluded_title_patterns: tuple[str, ...] = ()
    exclude_private_windows: bool = True
    _title_res: tuple[re.Pattern[str], ...] = field(
        init=False, repr=False, compare=False, default=()
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "excluded_apps", tuple(self.excluded_apps))
        object.__setattr__(self, "excluded_title_patterns", tuple(self.excluded_title_patterns))
        object.__setattr__(self, "_title_res", _compile(self.excluded_title_patterns))

    def check(self, window: WindowInfo | None) -> str | None:
        """``"app:<name>"``, ``"title:<pattern>"`` or ``"private"`` if excluded, else None.

        ``None`` (no window known, e.g. on Wayland) is not excluded: there is nothing to match.
        """
        if window is None:
            return None
        app = app_matches(window.app, self.excluded_apps)
        if app is not None:
            return f"app:{app}"
        title = window.title or ""
        for rx in self._title_res:
            if rx.search(title):
                return f"title:{rx.pattern}"
        if self.exclude_private_windows and (
            window.private or is_private_window(window.app, window.title)
        ):
            return "private"
        return None

    @classmethod
    def from_settings(
        cls,
        excluded_apps: Iterable[str] | None,
        excluded_title_patterns: Iterable[str] | None,
        exclude_private_windows: bool,
    ) -> PrivacyRules:
        """Rules from the settings; ``excluded_apps=None`` means the defaults.

        Raises ValueError naming the pattern when a title regex does not compile.
        """
        apps = DEFAULT_EXCLUDED_APPS if excluded_apps is None else tuple(excluded_apps)
        bad = [a for a in apps if not isinstance(a, str)]
        if bad:
            raise ValueError(f"excluded app names must be strings, got {bad!r}")
        apps = tuple(a.strip() for a in apps if a.strip())
        return cls(
            excluded_apps=apps,
            excluded_title_patterns=tuple(excluded_title_patterns or ()),
            exclude_private_windows=bool(exclude_private_windows),
        )
