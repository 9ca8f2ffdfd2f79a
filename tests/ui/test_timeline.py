"""Timeline: the day's events in the model, other days empty, filters, scrubber, details;
and a 5,000-event day through the same model and proxy."""

from __future__ import annotations

from datetime import date, timedelta

from tests.ui.conftest import wait_idle
from tests.ui.workday import EVENTS, many_events, seed_workday

DAY = date(2025, 3, 12)


def test_timeline_day_filters_scrubber_and_a_5000_event_day(svc, window, runner, qtbot):
    ids = seed_workday(svc, DAY, others=False)
    tl = window.timeline
    tl.set_day(DAY)
    wait_idle(qtbot, runner)
    assert tl.model.rowCount() == len(EVENTS)
    assert [e.id for e in tl.model.events] == ids
    assert tl.model.events[0].app == "Thunderbird"
    assert "Zoom" in tl.model.apps()

    tl.app_box.setCurrentText("Zoom")
    assert tl.proxy.rowCount() == sum(1 for e in EVENTS if e[1] == "Zoom")
    tl.app_box.setCurrentText("All apps")
    tl.search.setText("rollback runbook")
    assert tl.proxy.rowCount() == 2
    tl.search.clear()

    # scrubbing to 10:31 selects the meeting at 10:30 and shows its details and source
    start = tl.model.events[6].at
    tl.strip.scrubbed.emit(start + timedelta(minutes=0))
    wait_idle(qtbot, runner)
    assert tl.details.current == ids[6]
    assert "Billing migration sync" in tl.details.title.text()
    assert tl.details.sources.count() >= 1

    tl.set_day(DAY + timedelta(days=1))
    wait_idle(qtbot, runner)
    assert tl.model.rowCount() == 0
    tl.prev_btn.click()
    wait_idle(qtbot, runner)
    assert tl.day == DAY and tl.model.rowCount() == len(EVENTS)

    # a 5,000-event day through the same model, proxy and view
    events = many_events(DAY, 5000)
    tl.day = DAY
    tl._loading += 1
    tl._loaded(DAY, events)
    assert tl.model.rowCount() == 5000
    assert tl.proxy.rowCount() == 5000
    tl.app_box.setCurrentText("Zoom")
    assert tl.proxy.rowCount() == 5000 // 6 + (1 if 5000 % 6 > 5 else 0)
    tl.app_box.setCurrentText("All apps")
    window.show_page(1)
    window.resize(1200, 800)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: tl.list.verticalScrollBar().maximum() > 0, timeout=5000)
    tl.list.scrollToBottom()
    qtbot.waitUntil(
        lambda: tl.list.indexAt(tl.list.viewport().rect().center()).row() > 4900, timeout=5000
    )
