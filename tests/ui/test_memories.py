"""Memory browser: delete removes from search, vault masked until a confirmed Reveal, core
blocks edited against their budget, edit writes a new version, forget by app."""

from __future__ import annotations

from datetime import date

from PySide6.QtWidgets import QDialog, QMessageBox

from tests.ui.conftest import wait_idle
from tests.ui.workday import seed_workday


def _select(tab, mid, qtbot, runner):
    item = tab._item(mid)
    assert item is not None, f"{mid} is not listed"
    tab.tree.setCurrentItem(item)
    wait_idle(qtbot, runner)


def test_delete_removes_from_search_and_vault_is_masked(svc, window, runner, qtbot, monkeypatch):
    seed_workday(svc, date.today())
    target = next(m for m in svc.list_memories("semantic") if m.fields["name"] == "NW-482")
    assert target.id in [h.memory.id for h in svc.search("NW-482 VAT columns ticket")]
    window.show_page(2)
    window.memories.show_type("semantic")
    wait_idle(qtbot, runner)
    tab = window.memories.pages["semantic"]
    _select(tab, target.id, qtbot, runner)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    tab.delete_btn.click()
    wait_idle(qtbot, runner)
    assert target.id not in [h.memory.id for h in svc.search("NW-482 VAT columns ticket")]
    assert tab._item(target.id) is None

    # the knowledge vault: masked until a confirmed Reveal
    window.show_page(2)
    window.memories.show_type("knowledge_vault")
    wait_idle(qtbot, runner)
    tab = window.memories.pages["knowledge_vault"]
    secret = "s7aging-Pw-93!kq"
    mid = next(
        m.id for m in svc.list_memories("knowledge_vault") if "Staging" in m.fields["caption"]
    )

    def shown() -> str:
        texts = [tab._item(mid).text(c) for c in range(4)]
        return " ".join(texts) + tab.details.body.text() + tab.details.title.text()

    _select(tab, mid, qtbot, runner)
    assert secret not in shown() and "••••" in shown()

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    tab.reveal_btn.click()
    wait_idle(qtbot, runner)
    assert secret not in shown()

    asked = []

    def yes(*a, **k):
        asked.append(a[1] if len(a) > 1 else "")
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", yes)
    tab.reveal_btn.click()
    wait_idle(qtbot, runner)
    assert asked == ["Reveal secret"]
    assert tab._item(mid).text(3) == secret
    tab.mask_all()
    assert secret not in shown()


def test_core_budget_edit_and_forget(svc, window, runner, qtbot, monkeypatch):
    seed_workday(svc, date.today())
    window.show_page(2)
    window.memories.show_type("core")
    wait_idle(qtbot, runner)
    core = window.memories.pages["core"]
    assert "Anna Berg" in core.edits["human"].toPlainText()
    core.edits["human"].setPlainText("x" * 2100)
    assert "2100 / 2000" in core.counters["human"].text()
    core.save("human")
    wait_idle(qtbot, runner)
    assert "over its limit" in core.status.text()
    core.edits["human"].setPlainText("Anna Berg, staff engineer.")
    core.save("human")
    wait_idle(qtbot, runner)
    human = next(m for m in svc.list_memories("core") if m.fields["label"] == "human")
    assert human.fields["value"] == "Anna Berg, staff engineer."

    window.memories.show_type("procedural")
    wait_idle(qtbot, runner)
    tab = window.memories.pages["procedural"]
    mid = next(iter(tab.memories))
    _select(tab, mid, qtbot, runner)

    def fake_exec(dlg):
        dlg.widgets["summary"][1].setPlainText("Release a flagged feature safely")
        return QDialog.DialogCode.Accepted

    from engram.ui import memories

    monkeypatch.setattr(memories.MemoryEditor, "exec", fake_exec)
    tab.edit_btn.click()
    wait_idle(qtbot, runner)
    hist = svc.history(mid)
    assert len(hist) == 2
    assert hist[-1].fields["summary"] == "Release a flagged feature safely"

    view = window.memories

    def fake_exec(dlg):
        dlg.by_app.setChecked(True)
        dlg.app.setText("Zoom")
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(memories.ForgetDialog, "exec", fake_exec)
    view.forget()
    wait_idle(qtbot, runner)
    assert "Forgot 2 memories" in view.status.text()
    assert all(svc.memory_app(m.id) != "Zoom" for m in svc.list_memories("episodic", limit=100))
