"""A synthetic working day through the live capture pipeline: frames, CPU, RSS, bytes on disk.

    .venv/bin/python bench/soak.py [--quick] [--minutes 60] [--size 1920x1080]

Frames are rendered with PIL at the default 2 s interval, but sped up (no sleeping; the
frame times are synthetic). Each frame goes through what ``CaptureLoop.tick`` and the
perceive thread do with it (``Perceiver.screen``, then ``Perceiver.perceive``: change
detection, OCR of the changed regions, redaction, thumbnail, the inbox), and the memory
worker runs the offline agent on batches of 20 captures or after 60 s, as live.

An 8-hour day is 14,400 ticks; OCR of the kept frames dominates and takes ~1-3 s per
full 1080p frame on this machine, so the day is run as a representative sample: every
activity of the day's schedule (``DAY``) scaled by ``--minutes`` / 480 (default 60: one
hour holding 1/8 of each activity, in the same order), then multiplied by 480 / minutes.
Idle ("away") ticks grab nothing, as live (idle detection runs before the grab).

CPU is process CPU time (all threads) plus tesseract's (``RUSAGE_CHILDREN``), counted only
around the pipeline calls: rendering the synthetic frames and PNG-encoding them for the
comparison are not counted. The static-screen cost (a reading user: clock and cursor move)
also includes an ``mss`` grab from a real 1920x1080 Xvfb when Xvfb is installed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "desktop"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("OMP_THREAD_LIMIT", "1")

RESULTS = ROOT / "bench" / "results"
INTERVAL = 2.0
MONO = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
SANS = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
# (activity, minutes of an 8-hour day)
DAY = [
    ("typing", 150),
    ("switching", 90),
    ("scrolling", 90),
    ("reading", 60),
    ("away", 90),
]
APPS = [
    ("code", "Visual Studio Code", "store.py - engram - Visual Studio Code"),
    ("firefox", "Firefox", "Connection pooling in Postgres - Mozilla Firefox"),
    ("gnome-terminal", "Terminal", "sam@laptop: ~/engram"),
    ("slack", "Slack", "Slack | #billing-service | Acme"),
    ("thunderbird", "Thunderbird", "Re: Q3 budget review - Inbox - Mozilla Thunderbird"),
    ("libreoffice-writer", "LibreOffice Writer", "offsite-agenda.odt - LibreOffice Writer"),
]
WORDS = [
    "the",
    "pool",
    "of",
    "connections",
    "is",
    "shared",
    "between",
    "workers",
    "so",
    "a",
    "slow",
    "query",
    "holds",
    "a",
    "slot",
    "while",
    "others",
    "wait",
    "retry",
    "with",
    "backoff",
    "and",
    "a",
    "budget",
    "of",
    "three",
    "attempts",
    "keeps",
    "the",
    "queue",
    "short",
    "invoices",
    "are",
    "exported",
    "nightly",
    "to",
    "the",
    "warehouse",
    "the",
    "schema",
    "migration",
    "adds",
    "a",
    "column",
    "please",
    "review",
    "the",
    "draft",
    "agenda",
    "for",
    "the",
    "offsite",
    "in",
    "Lisbon",
    "before",
    "Friday",
    "thanks",
]


def _font(path: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(path, size)
    except OSError:
        return ImageFont.load_default(size)


def _para(r: random.Random, n: int) -> str:
    return " ".join(r.choice(WORDS) for _ in range(n))


@dataclass
class Desk:
    """The state of the synthetic desktop; ``render`` draws it at a moment."""

    size: tuple[int, int]
    seed: int = 3
    app: int = 0
    typed: list[str] = field(default_factory=list)
    line: str = ""
    scroll: int = 0
    chat: list[str] = field(default_factory=list)
    cursor: tuple[int, int] = (600, 400)

    def __post_init__(self) -> None:
        r = random.Random(self.seed)
        self.r = random.Random(self.seed + 1)
        self.code = [
            f"    {r.choice(['result', 'rows', 'batch', 'item'])} = {r.choice(WORDS)}_"
            f"{r.choice(WORDS)}({r.choice(WORDS)}, limit={r.randint(1, 500)})"
            for _ in range(400)
        ]
        self.article = [_para(r, r.randint(9, 14)) for _ in range(1500)]
        self.term = [
            f"[{i // 60:02d}:{i % 60:02d}] tests/unit/test_{r.choice(WORDS)}.py::test_"
            f"{r.choice(WORDS)} {'PASSED' if r.random() < 0.9 else 'FAILED'}"
            for i in range(600)
        ]
        self.chat = [f"{r.choice(['Lena', 'Omar', 'Priya'])}: {_para(r, 10)}" for _ in range(30)]
        self.mail = [_para(r, 12) for _ in range(60)]
        self.doc = [_para(r, 12) for _ in range(60)]
        self.f_ui = _font(SANS, 15)
        self.f_mono = _font(MONO, 15)
        self.f_text = _font(SANS, 17)

    def render(self, at: datetime) -> Image.Image:
        w, h = self.size
        img = Image.new("RGB", self.size, (250, 250, 250))
        d = ImageDraw.Draw(img)
        app, name, title = APPS[self.app]
        d.rectangle((0, 0, w, 27), fill=(36, 36, 40))  # top bar with the clock
        d.text((12, 5), f"Activities    {name}", fill="white", font=self.f_ui)
        d.text((w - 150, 5), at.strftime("%a %d  %H:%M"), fill="white", font=self.f_ui)
        d.rectangle((0, 28, w, 56), fill=(225, 225, 230))  # window title bar
        d.text((16, 33), title, fill=(20, 20, 20), font=self.f_ui)
        rows = (h - 80) // 24
        if app == "code":
            lines = (self.code[: max(0, rows - len(self.typed) - 1)] + self.typed + [self.line])[
                -rows:
            ]
            d.rectangle((0, 57, 220, h), fill=(228, 230, 236))
            for i, f in enumerate(["store.py", "search.py", "ledger.py", "vectors.py"]):
                d.text((14, 70 + i * 24), f, fill=(30, 30, 30), font=self.f_ui)
            for i, line in enumerate(lines):
                d.text((240, 66 + i * 24), line, fill=(20, 20, 20), font=self.f_mono)
        elif app == "firefox":
            for i, line in enumerate(self.article[self.scroll : self.scroll + rows]):
                d.text((200, 66 + i * 24), line, fill=(30, 30, 30), font=self.f_text)
        elif app == "gnome-terminal":
            d.rectangle((0, 57, w, h), fill=(30, 32, 38))
            for i, line in enumerate(self.term[self.scroll % 500 : self.scroll % 500 + rows]):
                d.text((14, 66 + i * 24), line, fill=(210, 215, 205), font=self.f_mono)
        else:
            src = {"slack": self.chat, "thunderbird": self.mail}.get(app, self.doc)
            for i, line in enumerate(src[-rows:]):
                d.text((40, 66 + i * 24), line, fill=(30, 30, 30), font=self.f_text)
        x, y = self.cursor  # the arrow cursor
        d.polygon([(x, y), (x, y + 20), (x + 5, y + 15), (x + 12, y + 15)], fill="black")
        return img

    def move_cursor(self) -> None:
        w, h = self.size
        x, y = self.cursor
        self.cursor = (
            min(w - 20, max(0, x + self.r.randint(-60, 60))),
            min(h - 30, max(60, y + self.r.randint(-40, 40))),
        )

    def step(self, activity: str) -> None:
        """What the user did during the last 2 s."""
        r = self.r
        self.move_cursor()
        if activity == "typing":
            self.app = 0
            self.line += " ".join(r.choice(WORDS) for _ in range(r.randint(0, 2)))
            if len(self.line) > 70 or r.random() < 0.15:
                self.typed.append("    " + self.line)
                self.line = ""
        elif activity == "scrolling":
            self.app = 1
            if r.random() < 0.3:
                self.scroll += r.choice([3, 5, 10, 20])
        elif activity == "switching":
            if r.random() < 0.08:
                self.app = r.randrange(len(APPS))
            if APPS[self.app][0] == "slack" and r.random() < 0.05:
                self.chat.append(f"{r.choice(['Lena', 'Omar'])}: {_para(r, 9)}")
            if APPS[self.app][0] == "gnome-terminal" and r.random() < 0.3:
                self.scroll += 2


def cpu() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def settle(svc: object) -> None:
    """Make the store an established one before the day: one memory of each type, compacted.

    Chroma allocates ~170 KB of HNSW file per collection on its first vector, a one-time
    cost that a 12-minute sample multiplied by 40 would book as 6.8 MB a day. It is
    reported on its own (``store_overhead_bytes``); the per-hour figures are what a day
    adds to a store in use.
    """
    from scale import items, new_memory

    seen: dict[str, object] = {}
    for it in items(200, seed=3):
        seen.setdefault(it.type, it)
    svc.add_memories([new_memory(it) for it in seen.values()])  # type: ignore[attr-defined]
    svc.store.compact()  # type: ignore[attr-defined]


def schedule(minutes: float) -> list[str]:
    """One activity per tick: the day's activities in order, each scaled to ``minutes``."""
    ticks: list[str] = []
    for act, mins in DAY:
        ticks += [act] * round(mins * minutes / 480 * 60 / INTERVAL)
    return ticks


def run_day(args: argparse.Namespace, work: Path) -> dict:
    from engram.core.capture.pipeline import Frame
    from engram.core.capture.window import WindowInfo
    from engram.core.config import Paths, Settings
    from engram.core.service import EngramService

    os.environ["HOME"] = str(work / "home")
    (work / "home").mkdir(parents=True, exist_ok=True)
    os.environ["PYTHON_KEYRING_BACKEND"] = "tests.fakes.keyrings.FileKeyring"
    paths = Paths(home=work / "engram")
    svc = EngramService(paths, settings=Settings(thumbnails=True))
    perceiver, worker = svc.perceiver, svc.worker
    size = tuple(int(v) for v in args.size.split("x"))
    desk = Desk(size)  # type: ignore[arg-type]
    ticks = schedule(args.minutes)
    start = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    per_act: dict[str, dict[str, float]] = {
        a: {"ticks": 0, "grabbed": 0, "kept": 0, "cpu_s": 0.0} for a, _ in DAY
    }
    cpu_worker = png_bytes = png_kept = 0.0
    png_every = max(1, args.png_every)
    pending_since: datetime | None = None
    queued = 0
    empty_disk = dir_bytes(paths.data)
    settle(svc)
    base_disk = dir_bytes(paths.data)
    t_wall = time.perf_counter()
    for i, act in enumerate(ticks):
        at = start + timedelta(seconds=i * INTERVAL)
        desk.step(act)
        per_act[act]["ticks"] += 1
        if act == "away":
            continue  # idle: the tick returns before the grab
        img = desk.render(at)
        app, _name, title = APPS[desk.app]
        frame = Frame(image=img, at=at, monitor=0, window=WindowInfo(app=app, title=title))
        c0 = cpu()
        kept = perceiver.screen(frame) is None and perceiver.perceive(frame).outcome == "kept"
        per_act[act]["cpu_s"] += cpu() - c0
        per_act[act]["grabbed"] += 1
        if i % png_every == 0 or kept:
            buf = io.BytesIO()
            img.save(buf, "PNG")
            if i % png_every == 0:
                png_bytes += len(buf.getvalue()) * png_every
            if kept:
                png_kept += len(buf.getvalue())
        if kept:
            per_act[act]["kept"] += 1
            queued += 1
            pending_since = pending_since or at
        if queued and (queued >= 20 or (at - pending_since).total_seconds() >= 60):
            c0 = cpu()
            worker.run_once(force=True)
            cpu_worker += cpu() - c0
            queued, pending_since = 0, None
        if i % 100 == 0:
            print(
                f"  tick {i}/{len(ticks)} {act}: kept {sum(a['kept'] for a in per_act.values())}"
                f" ({time.perf_counter() - t_wall:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    c0 = cpu()
    worker.drain()
    cpu_worker += cpu() - c0
    status = svc.status()
    svc.store.compact()
    svc.close()
    disk = dir_bytes(paths.data) - base_disk
    # the same store without thumbnails: drop them and compact, then measure again
    svc2 = EngramService(paths, settings=Settings(thumbnails=False))
    q = svc2.store.ledger.scalar
    thumbs = int(q("SELECT coalesce(sum(length(thumb)), 0) FROM captures"))
    breakdown = {
        "ledger": paths.ledger.stat().st_size,
        "vectors_dir": dir_bytes(paths.vectors),
        "capture_text": int(q("SELECT coalesce(sum(length(text)), 0) FROM captures")),
        "capture_words_json": int(q("SELECT coalesce(sum(length(words)), 0) FROM captures")),
        "capture_thumbs": thumbs,
        "memory_fields": int(
            q("SELECT coalesce(sum(length(fields) + length(text)), 0) FROM memories")
        ),
        "memory_rows": int(q("SELECT count(*) FROM memories")),
        "embeddings": int(q("SELECT coalesce(sum(length(vector)), 0) FROM embeddings")),
    }
    svc2.store.ledger.write(lambda db: db.execute("UPDATE captures SET thumb = NULL"))
    svc2.store.compact()
    svc2.close()
    disk_no_thumbs = dir_bytes(paths.data) - base_disk
    hours = len(ticks) * INTERVAL / 3600
    cpu_pipeline = sum(a["cpu_s"] for a in per_act.values()) + cpu_worker
    return {
        "sample_minutes": args.minutes,
        "size": args.size,
        "ticks": len(ticks),
        "hours": hours,
        "per_activity": per_act,
        "frames_grabbed": sum(a["grabbed"] for a in per_act.values()),
        "frames_kept": sum(a["kept"] for a in per_act.values()),
        "memories": status["memories"],
        "cpu_s_pipeline": round(cpu_pipeline, 1),
        "cpu_s_worker": round(cpu_worker, 1),
        "cpu_s_per_hour": round(cpu_pipeline / hours, 1),
        "store_overhead_bytes": base_disk - empty_disk,
        "disk_bytes": disk,
        "disk_bytes_no_thumbs": disk_no_thumbs,
        "thumb_bytes": thumbs,
        "disk_breakdown": breakdown,
        "png_bytes_all_frames": round(png_bytes),
        "png_bytes_kept_frames": round(png_kept),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "wall_s": round(time.perf_counter() - t_wall, 1),
    }


def static_cost(size: tuple[int, int], n: int) -> dict:
    """CPU per tick on a static screen (clock + moving cursor): screen() and, with Xvfb, grab."""
    from engram.core.capture.change import ChangeDetector

    desk = Desk(size)
    det = ChangeDetector()
    at = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    det.accept(0, desk.render(at))
    frames = []
    for i in range(n):
        desk.move_cursor()
        frames.append(desk.render(at + timedelta(seconds=2 * i)))
    c0 = cpu()
    changed = sum(det.check(0, f).changed for f in frames)
    check_ms = (cpu() - c0) / n * 1000
    out = {"check_cpu_ms": round(check_ms, 2), "false_changes": changed, "frames": n}
    grab_ms = xvfb_grab_ms(size, n)
    if grab_ms is not None:
        out["grab_cpu_ms"] = round(grab_ms, 2)
    per_tick = check_ms + (grab_ms or 0.0)
    out["core_share_pct"] = round(per_tick / (INTERVAL * 1000) * 100, 3)
    return out


def xvfb_grab_ms(size: tuple[int, int], n: int) -> float | None:
    """Process CPU ms of one mss grab of a real Xvfb screen (None without Xvfb)."""
    if shutil.which("Xvfb") is None:
        return None
    from tests.xvfb import Xvfb

    from engram.core.capture.grab import Grabber

    server = Xvfb(size=f"{size[0]}x{size[1]}x24")
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = server.display
    try:
        g = Grabber()
        g.grab()
        c0 = cpu()
        for _ in range(n):
            g.grab()
        ms = (cpu() - c0) / n * 1000
        g.close()
        return ms
    finally:
        server.stop()
        if old is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old


def report(day: dict, static: dict) -> str:
    f = 480 / day["sample_minutes"]  # the day from the sample
    mb = 1e6
    per_h = 60 / day["sample_minutes"]
    lines = [
        f"Sample: {day['sample_minutes']} min of synthetic activity at {day['size']}, "
        f"{INTERVAL:.0f} s interval, x{f:g} for an 8-hour day.",
        "",
        "| activity | minutes of the day | ticks | grabbed | kept | CPU s (pipeline) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for act, mins in DAY:
        a = day["per_activity"][act]
        lines.append(
            f"| {act} | {mins} | {a['ticks'] * f:,.0f} | {a['grabbed'] * f:,.0f} "
            f"| {a['kept'] * f:,.0f} | {a['cpu_s'] * f:,.0f} |"
        )
    raw = day["png_bytes_all_frames"]
    lines += [
        "",
        "| per 8-hour day (extrapolated) | value |",
        "|---|---:|",
        f"| frames seen (ticks) / grabbed / kept | {day['ticks'] * f:,.0f} / "
        f"{day['frames_grabbed'] * f:,.0f} / {day['frames_kept'] * f:,.0f} |",
        f"| CPU per hour of capture (OCR + pipeline + memory worker) | "
        f"{day['cpu_s_per_hour']:,.0f} s ({day['cpu_s_per_hour'] / 36:.1f}% of one core) |",
        f"| of it, memory worker (offline agent, embeddings) | "
        f"{day['cpu_s_worker'] * per_h:,.0f} s/h |",
        f"| static screen (clock + cursor): CPU per tick | "
        f"{static['check_cpu_ms'] + static.get('grab_cpu_ms', 0):.1f} ms "
        f"({static['core_share_pct']:.2f}% of one core) |",
        f"| peak RSS (whole bench process) | {day['peak_rss_mb']:.0f} MB |",
        f"| one-time store overhead (6 collections, first vector each) | "
        f"{day['store_overhead_bytes'] / mb:.2f} MB |",
        f"| disk per hour, with thumbnails | {day['disk_bytes'] * per_h / mb:.2f} MB |",
        f"| disk per hour, without thumbnails | {day['disk_bytes_no_thumbs'] * per_h / mb:.2f} MB |",
        f"| raw PNG of every grabbed frame, per hour | {raw * per_h / mb:,.0f} MB |",
        f"| disk without thumbnails / raw PNG | {day['disk_bytes_no_thumbs'] / raw:.2%} |",
        f"| disk with thumbnails / raw PNG | {day['disk_bytes'] / raw:.2%} |",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=60, help="sample length (the day / 8 = 60)")
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--png-every", type=int, default=10, help="PNG-encode every n-th frame")
    ap.add_argument("--quick", action="store_true", help="a 6-minute sample at 1280x800")
    ap.add_argument("--static-frames", type=int, default=200)
    args = ap.parse_args()
    if args.quick:
        args.minutes, args.size, args.static_frames = 6, "1280x800", 60
    work = Path(tempfile.mkdtemp(prefix="engram-soak-"))
    try:
        static = static_cost(tuple(int(v) for v in args.size.split("x")), args.static_frames)  # type: ignore[arg-type]
        print(f"  static: {static}", file=sys.stderr)
        day = run_day(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = {
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "when": datetime.now(UTC).isoformat(),
        "static": static,
        "day": day,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "soak.json").write_text(json.dumps(out, indent=2))
    print(report(day, static))


if __name__ == "__main__":
    main()
