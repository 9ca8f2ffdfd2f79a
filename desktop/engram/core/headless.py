"""``engram run --headless``: the capture and memory pipeline without a window."""

from __future__ import annotations

import logging
import signal
import threading
import time

log = logging.getLogger(__name__)


def run_headless(capture: bool = True, seconds: float | None = None) -> int:
    """Run until SIGINT/SIGTERM (or ``seconds``); stop every thread cleanly on the way out."""
    from engram.core.service import EngramService

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping", signum)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    svc = EngramService()
    try:
        svc.start(capture=capture)
        print(
            f"engram: headless, capture {'on' if capture else 'paused'}, data in {svc.paths.data}",
            flush=True,
        )
        end = time.monotonic() + seconds if seconds else None
        last_prune = time.monotonic()
        last_state = None
        while not stop.is_set():
            if end is not None and time.monotonic() >= end:
                break
            state = svc.capture_state()
            if state != last_state:
                print(f"engram: {state}", flush=True)
                last_state = state
            if time.monotonic() - last_prune > 600:
                svc.prune()
                last_prune = time.monotonic()
            stop.wait(1.0)
    finally:
        svc.close()
    return 0
