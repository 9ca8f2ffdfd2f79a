"""The memory stage: claims batches from the inbox and hands them to the memory agent.

A batch goes when K items are queued or the oldest has waited T seconds. A batch whose
agent raises (LLM down, invalid output past its retries) is rolled back and parked; parked
batches are retried with backoff, so an outage delays memories but loses nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from engram.core import heap
from engram.core.agents.batch import BatchResult, MemoryAgent
from engram.core.memory.inbox import Inbox

log = logging.getLogger(__name__)


@dataclass
class BatchOutcome:
    batch_id: str
    items: int
    result: BatchResult | None
    error: str | None = None


class MemoryWorker:
    def __init__(
        self,
        inbox: Inbox,
        agent: Callable[[], MemoryAgent] | MemoryAgent,
        *,
        batch_size: int = 20,
        batch_seconds: float = 60.0,
        retry_seconds: float = 120.0,
        on_outcome: Callable[[BatchOutcome], None] | None = None,
    ) -> None:
        self.inbox = inbox
        self._agent = agent
        self.batch_size = batch_size
        self.batch_seconds = batch_seconds
        self.retry_seconds = retry_seconds
        self.on_outcome = on_outcome
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._run_lock = threading.Lock()
        self._last_retry = time.monotonic()
        self._pending_since: float | None = None

    def agent(self) -> MemoryAgent:
        a = self._agent
        return a() if callable(a) and not hasattr(a, "process") else a  # type: ignore[return-value]

    def _due(self) -> bool:
        n = int(
            self.inbox.ledger.scalar(
                "SELECT (SELECT count(*) FROM captures WHERE status = 'queued') + "
                "(SELECT count(*) FROM messages WHERE status = 'queued')"
            )
            or 0
        )
        if n == 0:
            self._pending_since = None
            return False
        if self._pending_since is None:
            self._pending_since = time.monotonic()
        return n >= self.batch_size or (
            time.monotonic() - self._pending_since >= self.batch_seconds
        )

    def run_once(self, *, force: bool = False) -> BatchOutcome | None:
        """Process one batch if one is due (or any queued items when forced)."""
        with self._run_lock:
            if not force and not self._due():
                return None
            batch = self.inbox.claim(self.batch_size)
            if batch is None:
                return None
            try:
                result = self.agent().process(batch)
            except Exception as exc:  # park, never lose
                msg = f"{type(exc).__name__}: {exc}"
                log.warning("batch %s parked: %s", batch.id, msg)
                self.inbox.park(batch.id, msg)
                self.last_error = msg
                out = BatchOutcome(batch.id, len(batch), None, msg)
            else:
                self.inbox.complete(batch.id)
                self.last_error = None
                out = BatchOutcome(batch.id, len(batch), result)
            self._pending_since = None
        heap.trim()  # a batch's texts, prompts and model activations are garbage now
        if self.on_outcome:
            try:
                self.on_outcome(out)
            except Exception:
                log.exception("on_outcome handler failed")
        return out

    def drain(self, *, include_parked: bool = False) -> list[BatchOutcome]:
        """Process everything queued now (ingest, import-chat); stops at the first failure."""
        if include_parked:
            self.inbox.requeue_parked()
        outcomes = []
        while True:
            out = self.run_once(force=True)
            if out is None:
                break
            outcomes.append(out)
            if out.error:
                break
        return outcomes

    # -- background loop -----------------------------------------------------------------
    def start(self, poll: float = 2.0) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, args=(poll,), name="engram-memory", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def _loop(self, poll: float) -> None:
        while not self._stop.is_set():
            try:
                out = self.run_once()
                if out is None and time.monotonic() - self._last_retry > self.retry_seconds:
                    self._last_retry = time.monotonic()
                    if self.inbox.requeue_parked():
                        continue
                if out is not None and not out.error:
                    continue  # more may be due right away
            except Exception:
                log.exception("memory worker iteration failed")
            self._wake.wait(poll)
            self._wake.clear()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)
            self._thread = None
