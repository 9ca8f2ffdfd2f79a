"""Faults while running: the LLM misbehaves, the disk fills, the keyring is locked, the display
goes away. Each time nothing is lost, the problem is named, and work resumes on its own."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engram.core.agents.llm_agent import LLMAgent
from engram.core.agents.worker import MemoryWorker
from engram.core.config import Settings
from engram.core.llm.client import LLMClient, LLMConfig
from engram.core.memory.inbox import Inbox, NewCapture, unpack_text
from tests.conftest import run_cli
from tests.fakes.llm_server import FakeLLM, _RequestHandler, _Server, tools
from tests.xvfb import open_window, wait_for

T0 = datetime(2026, 5, 6, 9, 0, tzinfo=UTC)
TEXTS = [
    "Project Heliotrope kickoff notes\nOwner: Ada Ruiz",
    "Heliotrope budget review\nDeadline end of June",
]


class FakeLLMAt(FakeLLM):
    """The fake server on a chosen port, so an 'LLM down' endpoint can come back up."""

    def start_at(self, port: int) -> FakeLLMAt:
        owner = self

        class _Handler(_RequestHandler):
            fake = owner

        self._httpd = _Server(("127.0.0.1", port), _Handler)
        self.base_url = f"http://127.0.0.1:{port}/v1"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client(base_url: str, *, timeout: float = 5.0) -> LLMClient:
    cfg = LLMConfig(base_url=base_url, model="fake-model", timeout=timeout, max_retries=1)
    return LLMClient(cfg, sleep=lambda s: None)


def queue_captures(svc) -> tuple[Inbox, list[str]]:
    inbox = Inbox(svc.store)
    uids = []
    for i, text in enumerate(TEXTS):
        uid, _ = inbox.add_capture(
            NewCapture(
                at=T0 + timedelta(seconds=2 * i),
                monitor=0,
                app="firefox",
                title="Heliotrope - Mozilla Firefox",
                url=None,
                text=text,
            )
        )
        uids.append(uid)
    return inbox, uids


def good_script(fake: FakeLLM) -> None:
    """The model behaving: route to semantic, insert one fact, nothing else."""

    def answer(body: dict):
        system = body["messages"][0]["content"]
        if "meta memory manager" in system:
            return tools(("route", {"types": ["semantic"]}))
        fields = {"name": "Heliotrope", "summary": "project owned by Ada Ruiz"}
        return tools(("insert_semantic", {"fields": fields}))

    fake.handler(answer)


def assert_parked_intact(svc, inbox: Inbox, uids: list[str]) -> None:
    rows = svc.store.ledger.query("SELECT uid, status, text, error FROM captures ORDER BY seq")
    assert [r[0] for r in rows] == uids
    assert all(r[1] == "parked" and r[3] for r in rows), rows
    assert [unpack_text(r[2]) for r in rows] == TEXTS  # nothing lost, nothing rewritten
    assert sum(svc.store.counts().values()) == 0  # the failed batch left no memory behind
    assert inbox.pending() == {"queued": 0, "processing": 0, "parked": 2}


def script_fault(fake: FakeLLM, fault: str) -> str:
    """Queue a misbehaviour; returns the text the parked error must contain."""
    if fault == "slow":
        fake.delay(2.0, "late", times=2)
        return "did not answer within"
    if fault == "rate-limited":
        fake.error(429, times=2, retry_after=0)
        return "429"
    if fault == "garbage-json":
        fake.malformed(times=2)
        return "LLMError"
    if fault == "garbage-shape":
        fake.raw({"id": "x", "object": "chat.completion", "choices": "not a list"})
        fake.raw({"unexpected": True})
        return "LLMError"
    if fault == "unknown-tools":
        for _ in range(4):
            fake.tool_calls(
                ("delete_all_memories", {"confirm": True}), ("exec_shell", {"cmd": "rm -rf /"})
            )
        return "AgentError"
    raise AssertionError(fault)


@pytest.mark.parametrize(
    "fault", ["slow", "rate-limited", "garbage-json", "garbage-shape", "unknown-tools"]
)
def test_llm_fault_parks_the_batch_then_it_goes_through(svc, fake_llm, fault):
    inbox, uids = queue_captures(svc)
    expect = script_fault(fake_llm, fault)
    agent = LLMAgent(svc.store, client(fake_llm.base_url, timeout=0.5))
    worker = MemoryWorker(inbox, agent, batch_size=20)
    out = worker.run_once(force=True)
    assert out is not None and out.error and expect in out.error, out
    assert worker.last_error == out.error
    assert_parked_intact(svc, inbox, uids)
    if fault == "unknown-tools":  # the model was told which tool is wrong, every time
        fed_back = [
            m["content"]
            for r in fake_llm.chat_requests()
            for m in r.body["messages"]
            if m["role"] == "tool"
        ]
        assert fed_back and all("unknown tool" in c for c in fed_back)

    while fake_llm.pending():  # let any unused scripted fault answers drain
        fake_llm._queue.popleft()
    good_script(fake_llm)
    outs = worker.drain(include_parked=True)
    assert outs and outs[-1].error is None
    assert inbox.pending() == {"queued": 0, "processing": 0, "parked": 0}
    assert svc.store.counts()["semantic"] == 1
    [m] = svc.list_memories("semantic")
    assert {s.ref for s in m.sources} <= set(uids) and m.sources


def test_llm_down_then_up_resumes_by_itself(svc):
    port = free_port()
    inbox, uids = queue_captures(svc)
    agent = LLMAgent(svc.store, client(f"http://127.0.0.1:{port}/v1", timeout=1.0))
    outcomes = []
    worker = MemoryWorker(
        inbox, agent, batch_size=20, batch_seconds=1, retry_seconds=0.5, on_outcome=outcomes.append
    )
    worker.start(poll=0.1)
    try:
        assert wait_for(lambda: inbox.pending()["parked"] == 2, timeout=30)
        assert outcomes and "connect" in outcomes[0].error.lower(), outcomes[0].error
        assert_parked_intact(svc, inbox, uids)
        server = FakeLLMAt().start_at(port)
        try:
            good_script(server)
            assert wait_for(lambda: svc.store.counts()["semantic"] == 1, timeout=30)
            assert wait_for(lambda: inbox.pending()["parked"] == 0, timeout=10)
        finally:
            server.stop()
    finally:
        worker.stop()
    assert worker.last_error is None
    assert inbox.pending() == {"queued": 0, "processing": 0, "parked": 0}


# ------------------------------------------------------------------------------ disk full


@pytest.fixture
def small_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """ENGRAM_HOME on a real 48 MB tmpfs (needs root/CAP_SYS_ADMIN; skipped otherwise)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=48m,mode=0700", "tmpfs", str(mnt)],
            check=True,
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here ({exc}); run as root for the disk-full tests")
    monkeypatch.setenv("ENGRAM_HOME", str(mnt / "engram"))
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=20)


def fill(mnt: Path, leave: int) -> Path:
    """Write a filler file until only about `leave` bytes are free (0: until ENOSPC)."""
    import shutil

    filler = mnt / "filler.bin"
    chunk = b"\0" * (1 << 20)
    with open(filler, "ab") as fh:
        try:
            while True:
                free = shutil.disk_usage(mnt).free
                if free <= leave:
                    break
                fh.write(chunk[: max(4096, min(len(chunk), free - leave))])
                fh.flush()
        except OSError as exc:
            assert exc.errno == 28, exc  # ENOSPC
    return filler


@pytest.mark.xvfb
def test_disk_full_pauses_capture_and_resumes(small_disk, embedder, xvfb_display):
    from engram.core.service import EngramService

    svc = EngramService(embedder=embedder)
    try:
        svc.settings = Settings(capture_interval=0.5, idle_seconds=86400, min_free_gb=16 / 1024)
        svc._perceiver = None
        filler = fill(small_disk, leave=4 << 20)
        with open_window(
            "plans.txt - gedit", "gedit", text="Okapi expedition plans", width=1280, height=800
        ):
            svc.start(capture=True)
            try:
                assert wait_for(lambda: svc.capture_state() == "disk-full", timeout=15)
                time.sleep(1.5)
                assert svc.counters()["captures_seen"] == 0  # nothing grabbed, nothing written
                assert svc.capture_state() == "disk-full"  # the loop keeps checking
                doc = json.loads(run_cli("doctor", "--json").stdout)
                disk = next(c for c in doc["checks"] if c["name"] == "disk")
                assert not disk["ok"] and "disk-full" in disk["detail"] and disk["fix"]
                filler.unlink()
                assert wait_for(lambda: svc.counters()["captures_kept"] >= 1, timeout=30)
                assert svc.capture_state() == "capturing"
            finally:
                svc.stop()
        text = unpack_text(svc.store.ledger.scalar("SELECT text FROM captures"))
        assert "okapi" in text.lower()
    finally:
        svc.close()


def test_enospc_at_the_write_layer_is_clean(small_disk, embedder, tmp_path):
    """No free byte at all: the write fails with a clear error and leaves nothing half-done."""
    from engram.core.capture.ingest import ingest
    from engram.core.service import EngramService
    from tests.frames import write_frame

    frames = tmp_path / "frames"  # on the big disk: the input is not what is full
    write_frame(frames, "a", ["Capybara census notes"], app="gedit", title="a.txt", at=T0)
    write_frame(
        frames, "b", ["Axolotl feeding log"], app="gedit", title="b.txt", at=T0 + timedelta(1)
    )
    svc = EngramService(embedder=embedder)
    try:
        svc.settings = Settings(min_free_gb=0, thumbnails=True)
        svc._perceiver = None
        before = svc.store.ledger.scalar("SELECT count(*) FROM captures")
        filler = fill(small_disk, leave=0)
        big = NewCapture(
            at=T0, monitor=0, app="x", title="t", url=None, text=os.urandom(3 << 20).hex()
        )
        with pytest.raises(Exception, match="(?i)full") as exc:
            svc.inbox.add_capture(big)
        assert "sqlite" in type(exc.value).__module__ or "Error" in type(exc.value).__name__
        report = ingest(svc.perceiver, [frames])
        assert report.kept == 0 and len(report.errors) == 2, report
        assert all("full" in e["error"].lower() for e in report.errors), report.errors
        assert svc.store.ledger.scalar("PRAGMA quick_check") == "ok"
        assert svc.store.ledger.scalar("SELECT count(*) FROM captures") == before
        filler.unlink()  # the fault clears: the same store takes writes again
        assert ingest(svc.perceiver, [frames]).kept == 2
        assert svc.inbox.add_capture(big)[1] is True
        assert svc.store.ledger.scalar("PRAGMA quick_check") == "ok"
    finally:
        svc.close()


# ------------------------------------------------------------------------------ keyring


def test_keyring_locked_or_missing_is_a_clear_error_with_a_fix(isolated_env):
    made = run_cli("memories", "add", "semantic", "--data", '{"name": "Tapir", "summary": "x"}')
    assert made.returncode == 0, made.stderr
    locked = {"PYTHON_KEYRING_BACKEND": "tests.reliability.locked_keyring.LockedKeyring"}
    st = run_cli("status", "--json", env=locked)
    assert st.returncode == 1
    assert "keyring is locked or unavailable" in json.loads(st.stderr.splitlines()[0])["error"]
    assert "Traceback" not in st.stderr
    doc = json.loads(run_cli("doctor", "--json", env=locked).stdout)
    store = next(c for c in doc["checks"] if c["name"] == "store")
    assert not store["ok"] and "locked" in store["detail"] and "keyring" in store["fix"]

    gone = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    doc = json.loads(run_cli("doctor", "--json", env=gone).stdout)
    ring = next(c for c in doc["checks"] if c["name"] == "keyring")
    assert not ring["ok"] and "ENGRAM_PASSPHRASE" in ring["fix"]

    back = run_cli("status", "--json")  # unlocked again: everything is still there
    assert back.returncode == 0 and json.loads(back.stdout)["memories"]["semantic"] == 1


def test_keyring_locked_in_process_raises_key_unavailable(svc, embedder):
    import keyring.core

    from engram.core.keys import KeyUnavailable
    from engram.core.service import EngramService
    from tests.reliability.locked_keyring import LockedKeyring

    svc.add_memory("semantic", {"name": "Tapir", "summary": "lives in forests"})
    svc.close()
    keyring.core.set_keyring(LockedKeyring())
    with pytest.raises(KeyUnavailable, match="locked"):
        EngramService(embedder=embedder)
    assert not (svc.paths.ledger.with_name("ledger.db-journal")).exists()


# ------------------------------------------------------------------------------ display


@pytest.mark.xvfb
def test_display_gone_then_back_resumes_by_itself(svc, xvfb_factory, monkeypatch):
    # a high display number: other Xvfbs (-displayfd takes the lowest free one) will not
    # claim it while ours is down
    import random

    server = None
    for number in random.Random().sample(range(600, 990), 5):
        try:
            server = xvfb_factory.start(number)
            break
        except RuntimeError:
            continue
    assert server is not None
    monkeypatch.setenv("DISPLAY", server.display)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    svc.settings = Settings(capture_interval=0.5, idle_seconds=86400, min_free_gb=0)
    svc._perceiver = None
    win = open_window("a.txt - gedit", "gedit", text="Wombat burrow survey", width=1280, height=800)
    svc.start(capture=True)
    try:
        assert wait_for(lambda: svc.counters()["captures_kept"] >= 1, timeout=40)
        server.kill()  # the monitor is unplugged / the X server crashed
        win.close()
        assert wait_for(lambda: svc.capture_state() == "no-display", timeout=20)
        ticks = svc._loop.ticks
        assert wait_for(lambda: svc._loop.ticks > ticks + 2, timeout=10)  # still running
        assert svc.capture_state() == "no-display" and svc._loop.last_error
        assert "X server" in svc._loop.last_error or "DISPLAY" in svc._loop.last_error
        doc = json.loads(run_cli("doctor", "--json").stdout)
        disp = next(c for c in doc["checks"] if c["name"] == "display")
        assert not disp["ok"] and disp["fix"]

        again = xvfb_factory.start(server.number)  # the X server comes back
        assert again.display == server.display
        with open_window(
            "b.txt - gedit", "gedit", text="Quokka nesting report", width=1280, height=800
        ):
            assert wait_for(
                lambda: any(
                    "quokka" in (unpack_text(r[0]) or "").lower()
                    for r in svc.store.ledger.query("SELECT text FROM captures")
                ),
                timeout=40,
            )
            assert svc.capture_state() == "capturing" and svc._loop.last_error is None
    finally:
        svc.stop()
        win.close()
