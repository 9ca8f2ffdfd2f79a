"""UI fixtures: a runner, a status poller, and a main window over the real `svc`."""

from __future__ import annotations

import os

import pytest

# the session-wide QApplication is created before the per-test env fixture runs
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


class CachedEmbedder:
    """The real session embedder, memoised per text: UI tests seed the same workday often."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.cache: dict[str, object] = {}

    def embed(self, texts):
        import numpy as np

        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            for t, v in zip(missing, self.inner.embed(missing), strict=True):
                self.cache[t] = v
        if not texts:
            return self.inner.embed(texts)
        return np.stack([self.cache[t] for t in texts])


@pytest.fixture(scope="session")
def _cached_embedder(embedder):
    return CachedEmbedder(embedder)


@pytest.fixture
def svc(isolated_env, _cached_embedder):
    """The real service over a memoising wrapper of the real embedder."""
    from engram.core.service import EngramService

    service = EngramService(embedder=_cached_embedder)
    yield service
    service.close()


@pytest.fixture
def runner(qapp):
    from engram.ui.ops import Runner
    from engram.ui.theme import apply_theme

    apply_theme(qapp)
    r = Runner()
    yield r
    r.shutdown()


@pytest.fixture
def poller(svc, runner):
    from engram.ui.status import StatusPoller

    p = StatusPoller(svc, runner, interval_ms=200)
    yield p
    p.stop()


@pytest.fixture
def window(svc, runner, poller, qtbot):
    from engram.ui.window import MainWindow

    w = MainWindow(svc, runner, poller)
    qtbot.addWidget(w)
    yield w
    poller.stop()
    runner.shutdown()


def wait_idle(qtbot, runner, timeout: int = 15000) -> None:
    """Wait until every operation has run and its callbacks have been delivered."""
    for _ in range(10):
        qtbot.waitUntil(lambda: not runner.busy, timeout=timeout)
        qtbot.wait(30)
        if not runner.busy:
            return


# The offscreen platform plugin warns that it cannot raise windows or pass size hints to a
# window manager; that is the plugin, not the app. Every other Qt warning still fails a test.
OFFSCREEN_LIMITS = r"This plugin does not support (raise|propagateSizeHints|activateWindow)\(\)"


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.qt_log_ignore(OFFSCREEN_LIMITS))
