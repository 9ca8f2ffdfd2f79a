"""A made-up but plausible workday, written through the real service, for UI tests and
screenshots: captures (with painted thumbnails) and the memories built from them.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from engram.core.memory.inbox import NewCapture
from engram.core.memory.store import NewMemory

# (HH:MM, app, window title, event_type, summary, details)
EVENTS = [
    (
        "08:52",
        "Thunderbird",
        "Inbox - anna@northwind.io",
        "email",
        "Read Priya's email about the Q3 billing migration timeline",
        "Priya asks whether the invoice exporter can ship by 14 August; staging freeze on the 9th.",
    ),
    (
        "09:05",
        "Slack",
        "#payments - Northwind",
        "message",
        "Team standup thread in #payments: Marco is blocked on the Stripe webhook retries",
        "",
    ),
    (
        "09:18",
        "Visual Studio Code",
        "invoice_export.py - billing-service",
        "coding",
        "Worked on invoice_export.py: added CSV column mapping for VAT ids",
        "Function build_rows() now maps vat_id and country_code; tests in test_export.py.",
    ),
    (
        "09:41",
        "Firefox",
        "PEP 636 – Structural Pattern Matching | peps.python.org",
        "browsing",
        "Read PEP 636 on structural pattern matching for the exporter's record parser",
        "",
    ),
    (
        "10:02",
        "Terminal",
        "pytest -q tests/test_export.py",
        "coding",
        "Ran the exporter tests: 2 failures in test_vat_rounding",
        "AssertionError 19.99 != 20.00",
    ),
    (
        "10:15",
        "Visual Studio Code",
        "rounding.py - billing-service",
        "coding",
        "Fixed VAT rounding to use Decimal with ROUND_HALF_EVEN in rounding.py",
        "",
    ),
    (
        "10:30",
        "Zoom",
        "Billing migration sync - Zoom Meeting",
        "meeting",
        "Billing migration sync with Priya, Marco and Lena (30 min)",
        "Decided: ship the invoice exporter behind a feature flag on 12 August; Lena owns the "
        "rollback runbook; Marco moves webhook retries to the queue worker.",
    ),
    (
        "11:05",
        "Firefox",
        "NW-482 Invoice exporter: VAT columns - Jira",
        "browsing",
        "Updated Jira ticket NW-482 with the feature-flag plan and moved it to In Review",
        "",
    ),
    (
        "11:20",
        "Thunderbird",
        "Re: Q3 billing migration timeline",
        "email",
        "Replied to Priya: exporter ships 12 August behind the invoice_export_v2 flag",
        "",
    ),
    (
        "11:48",
        "Visual Studio Code",
        "flags.py - billing-service",
        "coding",
        "Added the invoice_export_v2 feature flag to flags.py with a default of off",
        "",
    ),
    (
        "12:35",
        "Firefox",
        "Lunch menu - Kantine am Park",
        "browsing",
        "Looked at the lunch menu of Kantine am Park",
        "",
    ),
    (
        "13:10",
        "Slack",
        "Direct message - Lena Vogel",
        "message",
        "Lena shared the draft rollback runbook for the billing migration",
        "",
    ),
    (
        "13:32",
        "Firefox",
        "Rollback runbook - Confluence",
        "browsing",
        "Reviewed the rollback runbook in Confluence and left three comments",
        "",
    ),
    (
        "14:05",
        "Visual Studio Code",
        "test_export.py - billing-service",
        "coding",
        "Wrote tests for the feature-flagged exporter path (flag on and off)",
        "",
    ),
    (
        "14:40",
        "Terminal",
        "git push origin nw-482-vat-columns",
        "coding",
        "Pushed branch nw-482-vat-columns and opened merge request !318",
        "",
    ),
    (
        "15:00",
        "Zoom",
        "1:1 Anna / Tom - Zoom Meeting",
        "meeting",
        "1:1 with Tom: talked about the on-call rotation and the conference talk proposal",
        "",
    ),
    (
        "15:45",
        "Firefox",
        "!318 VAT columns for invoice export - GitLab",
        "browsing",
        "Addressed Marco's review comments on merge request !318",
        "",
    ),
    (
        "16:20",
        "Thunderbird",
        "Invitation: Q3 planning (Thu 10:00)",
        "email",
        "Accepted the invitation to Q3 planning on Thursday at 10:00",
        "",
    ),
    (
        "16:55",
        "Visual Studio Code",
        "CHANGELOG.md - billing-service",
        "coding",
        "Wrote the CHANGELOG entry for the VAT columns in the invoice exporter",
        "",
    ),
    (
        "17:30",
        "Slack",
        "#payments - Northwind",
        "message",
        "Posted the end-of-day update in #payments: !318 approved, merging tomorrow",
        "",
    ),
]

OTHER = [
    NewMemory(
        "semantic",
        {
            "name": "invoice_export_v2",
            "summary": "Feature flag that turns on "
            "the new invoice exporter with VAT columns; default off until 12 August.",
            "tree_path": ["work", "billing-service", "flags"],
        },
    ),
    NewMemory(
        "semantic",
        {
            "name": "Priya Shah",
            "summary": "Product manager for billing; owns the Q3 billing migration timeline.",
            "tree_path": ["people", "northwind"],
        },
    ),
    NewMemory(
        "semantic",
        {
            "name": "Lena Vogel",
            "summary": "SRE; owns the rollback runbook for the billing migration.",
            "tree_path": ["people", "northwind"],
        },
    ),
    NewMemory(
        "semantic",
        {
            "name": "NW-482",
            "summary": "Jira ticket: VAT columns in the invoice exporter; merge request !318.",
            "tree_path": ["work", "billing-service", "tickets"],
        },
    ),
    NewMemory(
        "procedural",
        {
            "entry_type": "workflow",
            "summary": "Release a flagged feature in billing-service",
            "steps": [
                "Merge behind the flag",
                "Deploy to staging",
                "Flip the flag for internal accounts",
                "Watch the invoice error rate for a day",
                "Flip the flag for everyone",
            ],
        },
    ),
    NewMemory(
        "resource",
        {
            "title": "Rollback runbook: billing migration",
            "resource_type": "document",
            "summary": "Confluence page by Lena: steps to roll back the exporter.",
        },
    ),
    NewMemory(
        "knowledge_vault",
        {
            "entry_type": "credential",
            "source": "Terminal",
            "sensitivity": "high",
            "caption": "Staging database password (billing)",
            "secret_value": "s7aging-Pw-93!kq",
        },
    ),
    NewMemory(
        "knowledge_vault",
        {
            "entry_type": "api_key",
            "source": "Firefox",
            "sensitivity": "medium",
            "caption": "Sandbox Stripe key for webhook tests",
            "secret_value": "sk_test_51Hx-made-up-key",
        },
    ),
]

SCREEN = {
    "Visual Studio Code": ("#1e1e2e", "#2d2f3f", ["#89b4fa", "#a6e3a1", "#f9e2af", "#cdd6f4"]),
    "Terminal": ("#111318", "#22252e", ["#a6e3a1", "#cdd6f4", "#f38ba8"]),
    "Firefox": ("#ffffff", "#e9e7f2", ["#3b3b4f", "#8a8aa0", "#5b6cf9"]),
    "Thunderbird": ("#f7f8fb", "#dfe6f2", ["#2a3140", "#7a8496", "#2f7de1"]),
    "Slack": ("#ffffff", "#3f0e40", ["#1d1c1d", "#616061", "#1264a3"]),
    "Zoom": ("#1a1a1a", "#242424", ["#3a3a3a"]),
}


def paint_screen(app: str, seed: int) -> bytes:
    """A small PNG that looks like the app's window (needs a QGuiApplication)."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRect
    from PySide6.QtGui import QColor, QImage, QPainter

    bg, bar, inks = SCREEN.get(app, ("#ffffff", "#dddddd", ["#333333"]))
    img = QImage(320, 180, QImage.Format.Format_RGB32)
    img.fill(QColor(bg))
    p = QPainter(img)
    p.fillRect(QRect(0, 0, 320, 18), QColor(bar))
    if app == "Zoom":
        for i in range(4):
            x, y = 8 + (i % 2) * 156, 26 + (i // 2) * 76
            p.fillRect(
                QRect(x, y, 148, 70), QColor(["#35506b", "#5b4a6b", "#4a6b5b", "#6b5b4a"][i])
            )
            p.setBrush(QColor("#e8d5c4"))
            p.drawEllipse(x + 58, y + 16, 30, 30)
    else:
        side = 60 if app in ("Visual Studio Code", "Slack", "Thunderbird") else 0
        if side:
            p.fillRect(QRect(0, 18, side, 162), QColor(bar).lighter(115 if app != "Slack" else 100))
        for i in range(14):
            w = 40 + (seed * 37 + i * 53) % 200
            indent = (seed + i * 7) % 4 * 12 if app == "Visual Studio Code" else 0
            p.fillRect(QRect(side + 10 + indent, 28 + i * 11, w, 5), QColor(inks[i % len(inks)]))
    p.end()
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    img.save(buf, "PNG")
    return bytes(data.data())


def at(day: date, hhmm: str) -> datetime:
    h, m = map(int, hhmm.split(":"))
    return datetime.combine(day, time(h, m)).astimezone()


def seed_workday(svc, day: date, thumbs: bool = False, others: bool = True) -> list[str]:
    """Captures and memories for `day`; returns the episodic memory ids in time order."""
    items = []
    for n, (hhmm, app, title, kind, summary, details) in enumerate(EVENTS):
        when = at(day, hhmm)
        uid, _ = svc.inbox.add_capture(
            NewCapture(
                at=when,
                monitor=1,
                app=app,
                title=title,
                url=None,
                text=f"{title}\n{summary}\n{details}",
                thumb=paint_screen(app, n) if thumbs else None,
                origin="ingest",
            )
        )
        items.append(
            NewMemory(
                "episodic",
                {
                    "occurred_at": when,
                    "event_type": kind,
                    "summary": summary,
                    "details": details,
                    "tree_path": ["work", "billing-service"]
                    if app != "Firefox" or n != 10
                    else ["life"],
                },
                sources=[{"kind": "capture", "ref": uid}],
                trust="screen",
                app=app,
            )
        )
    if others:
        items.extend(OTHER)
    mems = svc.add_memories(items)
    if others:
        svc.add_memory(
            "core",
            {
                "label": "human",
                "value": "Anna Berg, backend engineer at "
                "Northwind on the billing team. Works in Python; prefers short answers "
                "with links to tickets. Based in Berlin.",
            },
        )
        svc.add_memory(
            "core", {"label": "persona", "value": "Answer briefly and cite the memories you used."}
        )
    return [m.id for m in mems if m.type == "episodic"]


def many_events(day: date, n: int) -> list:
    """`n` timeline rows spread over a day (for the model's scale test)."""
    from engram.ui.timeline import Event

    apps = ["Visual Studio Code", "Firefox", "Terminal", "Slack", "Thunderbird", "Zoom"]
    start = at(day, "07:00")
    step = timedelta(seconds=13 * 3600 / n)
    return [
        Event(
            f"ep_{i:012x}",
            start + i * step,
            apps[i % len(apps)],
            f"event {i} summary",
            "activity",
            None,
        )
        for i in range(n)
    ]
