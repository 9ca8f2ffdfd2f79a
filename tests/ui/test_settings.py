"""Settings persist across service instances; bad values are refused with the field's
name; Test connection talks to a real HTTP server; the key goes to the keyring."""

from __future__ import annotations

import json

from tests.fakes.llm_server import fake_llm  # noqa: F401  (fixture)
from tests.ui.conftest import wait_idle


def test_settings_persist_for_a_new_service(svc, window, runner, qtbot, embedder):
    view = window.settings
    view.interval.setValue(5.0)
    view.idle.setValue(300)
    view.thumbs.setChecked(True)
    view.apps.setPlainText("KeePassXC\nSignal")
    view.titles.setPlainText("(?i)online banking")
    view.days.setValue(14)
    view.provider.preset.setCurrentIndex(view.provider.preset.findData("ollama"))
    assert view.provider.base_url.text() == "http://127.0.0.1:11434/v1"
    view.provider.key.setText("sk-local-123")
    view.save_btn.click()
    wait_idle(qtbot, runner)
    assert "Saved" in view.status.text()

    from engram.core.service import EngramService

    with EngramService(embedder=embedder) as again:
        s = again.settings
        assert s.capture_interval == 5.0 and s.idle_seconds == 300 and s.thumbnails
        assert s.excluded_apps == ["KeePassXC", "Signal"]
        assert s.excluded_title_patterns == ["(?i)online banking"]
        assert s.retention_days == 14
        assert (s.llm_preset, s.llm_model) == ("ollama", "llama3.1")
        assert again.api_key() == "sk-local-123"
    assert "sk-local-123" not in svc.paths.config_file.read_text()

    # the window's size and page come back from ENGRAM_HOME/ui.ini
    from engram.ui.window import MainWindow

    window.resize(900, 700)
    window.show_page(2)
    window.save_state()
    assert (svc.paths.config / "ui.ini").exists()
    again_w = MainWindow(svc, runner, window.poller)
    qtbot.addWidget(again_w)
    assert again_w.nav.currentRow() == 2
    assert again_w.height() == 700


def test_bad_values_connection_and_export(svc, window, runner, qtbot, fake_llm, tmp_path):  # noqa: F811
    view = window.settings
    view.titles.setPlainText("([unclosed")
    view.save()
    assert "excluded_title_patterns" in view.status.text()
    view.titles.setPlainText("")
    view.monitors.setText("left, right")
    view.save()
    assert "monitors" in view.status.text()
    assert not svc.paths.config_file.exists()

    view.provider.preset.setCurrentIndex(view.provider.preset.findData("custom"))
    view.provider.base_url.setText(fake_llm.base_url)
    view.provider.model.setText("fake-model")
    view.provider.test_btn.click()
    wait_idle(qtbot, runner)
    assert "✓" in view.provider.result.text()
    view.provider.base_url.setText("http://127.0.0.1:9/v1")
    view.provider.test()
    wait_idle(qtbot, runner)
    assert "✗" in view.provider.result.text()

    svc.add_memory("semantic", {"name": "Exporter", "summary": "Ships 12 August"})
    out = tmp_path / "export.json"
    view.export_to(out)
    wait_idle(qtbot, runner)
    data = json.loads(out.read_text())
    assert [m["fields"]["name"] for m in data["semantic"]] == ["Exporter"]
