"""`engram run`: the QApplication, the service, the tray and the main window.

One instance per store: a second `engram run` on the same ENGRAM_HOME only asks the
running one (over a QLocalSocket) to show its window, or its quick-ask popup.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import signal
import sys
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QApplication, QMessageBox

from engram.core.config import ConfigError, Paths
from engram.core.keys import KeyUnavailable, WrongPassphrase, keyring_usable
from engram.ui.ops import Runner
from engram.ui.status import StatusPoller
from engram.ui.theme import app_icon, apply_theme
from engram.ui.tray import Tray
from engram.ui.welcome import PassphraseDialog, WelcomeDialog
from engram.ui.window import MainWindow

log = logging.getLogger(__name__)


def instance_name(paths: Paths) -> str:
    digest = hashlib.sha1(str(paths.data.resolve()).encode()).hexdigest()[:12]
    return f"engram-{os.getuid() if hasattr(os, 'getuid') else 0}-{digest}"


def signal_running(name: str, message: str) -> bool:
    """Send `message` to a running instance; False when there is none."""
    sock = QLocalSocket()
    sock.connectToServer(name)
    if not sock.waitForConnected(300):
        return False
    sock.write(message.encode())
    sock.waitForBytesWritten(500)
    sock.disconnectFromServer()
    return True


def needs_passphrase(paths: Paths) -> bool | None:
    """None: no passphrase needed; True: create one; False: unlock an existing store."""
    if os.environ.get("ENGRAM_PASSPHRASE"):
        return None
    if paths.keyfile.exists():
        import json

        try:
            source = json.loads(paths.keyfile.read_text()).get("source")
        except (OSError, ValueError):
            return None  # the service reports a damaged key file with its own message
        return False if source == "passphrase" else None
    forced = os.environ.get("ENGRAM_KEY_SOURCE", "").lower() == "passphrase"
    return True if forced or not keyring_usable()[0] else None


def open_service(paths: Paths) -> Any:
    """Build the service, asking for a passphrase in a dialog when the store needs one."""
    from engram.core.service import EngramService

    mode = needs_passphrase(paths)
    error = ""
    while True:
        if mode is None:
            return EngramService(paths)
        dlg = PassphraseDialog(create=mode, error=error)
        if dlg.exec() != PassphraseDialog.DialogCode.Accepted:
            return None
        # the key manager reads the passphrase from the environment; drop it right after
        os.environ["ENGRAM_PASSPHRASE"] = dlg.passphrase()
        try:
            return EngramService(paths)
        except WrongPassphrase as exc:
            error = str(exc)
        finally:
            os.environ.pop("ENGRAM_PASSPHRASE", None)


class EngramApp:
    """Everything `engram run` owns; `quit()` stops capture and closes the store."""

    def __init__(self, app: QApplication, svc: Any, capture: bool = True) -> None:
        self.app = app
        self.svc = svc
        self.runner = Runner()
        self.poller = StatusPoller(svc, self.runner)
        self.tray = Tray(svc, self.runner, self.poller)
        self.has_tray = Tray.available()
        self.window = MainWindow(svc, self.runner, self.poller, hide_on_close=self.has_tray)
        self.tray.open_main.connect(self.window.bring_up)
        self.tray.quit_requested.connect(self.quit)
        self.window.quit_requested.connect(self.quit)
        self.closed = False
        self.server: QLocalServer | None = None
        svc.start(capture=capture)
        self.api = self._start_api(svc)
        self.poller.start()
        self.tray.show()
        if not self.has_tray or not capture:
            self.window.bring_up()
        app.styleHints().colorSchemeChanged.connect(lambda _s: apply_theme(app))

    def listen(self, name: str) -> None:
        QLocalServer.removeServer(name)
        self.server = QLocalServer()
        self.server.newConnection.connect(self._message)
        if not self.server.listen(name):
            log.warning("single-instance socket unavailable: %s", self.server.errorString())

    def _message(self) -> None:
        assert self.server is not None
        sock = self.server.nextPendingConnection()
        if sock is None:
            return
        sock.waitForReadyRead(500)
        msg = bytes(sock.readAll().data()).decode(errors="replace").strip()
        if msg == "quick-ask":
            self.tray.quick_ask()
        else:
            self.window.bring_up()
        sock.disconnectFromServer()

    @staticmethod
    def _start_api(svc: Any) -> Any:
        """The local API + MCP endpoint (loopback, token); a busy port is not fatal."""
        from engram.core.api import start_api_server

        try:
            return start_api_server(svc)
        except Exception as exc:  # port taken, bad host setting: the app runs without it
            log.warning("local API not started: %s", exc)
            return None

    def quit(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.api is not None:
            with contextlib.suppress(Exception):
                self.api.stop()
        self.window.save_state()
        self.poller.stop()
        self.tray.hide()
        self.runner.shutdown()
        try:
            self.svc.close()
        finally:
            if self.server is not None:
                self.server.close()
            self.app.quit()


def run_app(capture: bool = True, quick_ask: bool = False) -> int:
    """Start the desktop app; returns the process exit code."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Engram")
    app.setApplicationDisplayName("Engram")
    app.setDesktopFileName("engram")
    app.setWindowIcon(app_icon())
    app.setQuitOnLastWindowClosed(False)
    apply_theme(app)
    paths = Paths()
    name = instance_name(paths)
    if signal_running(name, "quick-ask" if quick_ask else "show"):
        return 0
    try:
        svc = open_service(paths)
    except (KeyUnavailable, ConfigError) as exc:
        QMessageBox.critical(None, "Engram cannot start", str(exc))
        return 2
    if svc is None:
        return 1
    try:
        if svc.first_run:
            runner = Runner()
            dlg = WelcomeDialog(svc, runner)
            accepted = dlg.exec() == WelcomeDialog.DialogCode.Accepted
            settings = dlg.result_settings() if accepted else svc.settings
            svc.save_settings(settings)  # also marks the first run as done
            if accepted and settings.llm_configured and dlg.api_key():
                svc.set_api_key(dlg.api_key())
            runner.shutdown()
        engram = EngramApp(app, svc, capture=capture)
    except Exception:
        svc.close()
        raise
    engram.listen(name)
    if quick_ask:
        engram.tray.quick_ask()
    # Ctrl+C in the terminal quits cleanly (Python only sees signals between Qt events)
    signal.signal(signal.SIGINT, lambda *_: engram.quit())
    tick = QTimer()
    tick.start(250)
    tick.timeout.connect(lambda: None)
    code = app.exec()
    with contextlib.suppress(Exception):
        engram.quit()
    return int(code)
