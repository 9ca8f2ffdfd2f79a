"""Privacy rules: password managers, private browsing windows and user title patterns."""

from __future__ import annotations

import pytest

from engram.core.capture.privacy import (
    DEFAULT_EXCLUDED_APPS,
    PrivacyRules,
    app_matches,
    is_private_window,
)
from engram.core.capture.window import WindowInfo

RULES = PrivacyRules()


def win(app: str, title: str = "", private: bool = False) -> WindowInfo:
    return WindowInfo(app=app, title=title, private=private)


@pytest.mark.parametrize("app", DEFAULT_EXCLUDED_APPS)
def test_every_default_app_is_excluded(app: str) -> None:
    assert RULES.check(win(app, "Vault")) == f"app:{app}"
    assert RULES.check(win(app.upper(), "Vault")) is not None


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ("keepassxc", "KeePassXC"),  # X11 WM_CLASS
        ("KeePassXC.exe", "KeePassXC"),  # Windows process name
        ("org.keepassxc.KeePassXC", "KeePassXC"),  # Flatpak / Wayland app id
        ("kwalletmanager5", "KWalletManager"),  # versioned WM_CLASS
        ("1Password 7", "1Password"),  # macOS localized name with version
        ("com.bitwarden.desktop", "Bitwarden"),
        ("KeePass2", "KeePass"),
        ("Proton Pass", "Proton Pass"),
        ("org.gnome.seahorse.Application", "Seahorse"),
    ],
)
def test_platform_spellings_of_password_managers(reported: str, expected: str) -> None:
    assert RULES.check(win(reported, "x")) == f"app:{expected}"


@pytest.mark.parametrize(
    "app",
    [
        "firefox",
        "Evince",
        "gnome-terminal-server",
        "Code",
        "passport-photo",
        "Keepsake",
        "org.gnome.Nautilus",
    ],
)
def test_ordinary_apps_not_excluded(app: str) -> None:
    assert app_matches(app, DEFAULT_EXCLUDED_APPS) is None
    assert RULES.check(win(app, "Some document")) is None


PRIVATE_TITLES = [
    ("firefox", "Bank login — Mozilla Firefox Private Browsing"),
    ("firefox", "Mozilla Firefox Private Browsing"),
    ("firefox", "Bank login - Mozilla Firefox (Private Browsing)"),
    ("firefox-developer-edition", "Page — Firefox Developer Edition Private Browsing"),
    ("Google-chrome", "Bank login - Google Chrome (Incognito)"),
    ("Chromium", "New Incognito Tab - Chromium (Incognito)"),
    ("Microsoft-edge", "New InPrivate tab - [InPrivate] - Microsoft\u200b Edge"),
    ("Brave-browser", "New Private Tab - Brave (Private)"),
    ("Brave-browser", "Onion site - Brave (Private with Tor)"),
    ("Safari", "Private Browsing"),
    ("Tor Browser", "Explore. Privately."),
    ("firefox", "Explore. Privately. — Tor Browser"),
]


@pytest.mark.parametrize(("app", "title"), PRIVATE_TITLES)
def test_private_browsing_windows_detected(app: str, title: str) -> None:
    assert is_private_window(app, title)
    assert RULES.check(win(app, title)) == "private"


@pytest.mark.parametrize(
    ("app", "title"),
    [
        ("Evince", "Private equity report.pdf - Evince"),
        ("firefox", "Private Browsing - Mozilla Support — Mozilla Firefox"),
        ("firefox", "Use InPrivate browsing in Microsoft Edge — Mozilla Firefox"),
        ("Google-chrome", "Incognito mode explained - Google Chrome"),
        ("Google-chrome", "Private repositories · GitHub - Google Chrome"),
        ("Gedit", "notes (private).txt - gedit"),
        ("Thunderbird", "Re: private browsing bug - Mozilla Thunderbird"),
        ("Brave-browser", "Brave Private Search - Brave"),
    ],
)
def test_ordinary_titles_mentioning_private_not_excluded(app: str, title: str) -> None:
    assert not is_private_window(app, title)
    assert RULES.check(win(app, title)) is None


def test_private_flag_set_by_the_platform_layer_is_honoured() -> None:
    assert RULES.check(win("firefox", "Some page", private=True)) == "private"


def test_private_windows_allowed_when_the_user_says_so() -> None:
    rules = PrivacyRules.from_settings(None, [], exclude_private_windows=False)
    assert rules.check(win("Google-chrome", "Bank - Google Chrome (Incognito)")) is None
    # password managers stay excluded
    assert rules.check(win("KeePassXC", "db.kdbx")) == "app:KeePassXC"


def test_user_title_patterns_case_insensitive() -> None:
    rules = PrivacyRules.from_settings(None, [r"payroll", r"^Inbox \(\d+\)"], True)
    assert rules.check(win("Evince", "PAYROLL-2024.pdf - Evince")) == "title:payroll"
    assert rules.check(win("Thunderbird", "inbox (12) - Mail")) == r"title:^Inbox \(\d+\)"
    assert rules.check(win("Thunderbird", "Drafts - Mail")) is None


def test_user_app_list_replaces_defaults() -> None:
    rules = PrivacyRules.from_settings(["Signal", "  "], [], True)
    assert rules.excluded_apps == ("Signal",)
    assert rules.check(win("signal", "Chats")) == "app:Signal"
    assert rules.check(win("KeePassXC", "db.kdbx")) is None
    defaults = PrivacyRules.from_settings(None, None, True)
    assert defaults.excluded_apps == DEFAULT_EXCLUDED_APPS


def test_invalid_regex_names_the_pattern() -> None:
    with pytest.raises(ValueError, match=r"invalid title pattern '\(unclosed'"):
        PrivacyRules.from_settings(None, ["fine", "(unclosed"], True)
    with pytest.raises(ValueError, match="invalid title pattern"):
        PrivacyRules(excluded_title_patterns=("[z-a]",))
    with pytest.raises(ValueError, match="non-empty string"):
        PrivacyRules.from_settings(None, [""], True)


def test_no_window_is_not_excluded() -> None:
    assert RULES.check(None) is None
    assert RULES.check(win("", "")) is None


def test_rules_are_hashable_values() -> None:
    a = PrivacyRules.from_settings(None, ["a"], True)
    b = PrivacyRules(excluded_title_patterns=("a",))
    assert a == b and hash(a) == hash(b)
    assert a != PrivacyRules(excluded_title_patterns=("b",))
