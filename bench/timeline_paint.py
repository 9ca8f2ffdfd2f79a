"""Timeline time-to-first-paint: a day of 5,000 events in a store holding a month of 100k.

    .venv/bin/python bench/timeline_paint.py [--quick] [--store DIR] [--background 100000]

Offscreen Qt (``QT_QPA_PLATFORM=offscreen``), the real ``TimelineView`` over a real
``EngramService``: ``set_day(day)`` loads the day on the runner's worker thread
(``load_day``: ``svc.timeline`` + the app of each event), the model is reset, the strip and
the filter are updated, and the list paints. Measured from ``set_day`` to the end of the
first paint of the list that shows the day's rows (the first row drawn by the delegate),
with the parts timed apart: ``load_day`` alone, ``_loaded`` alone (model, strip, proxy) and a
repaint of the visible rows. Medians of ``--runs`` (the day is switched away and back).

The store: the scale corpus (``bench/scale.py``, a month of ``--background`` memories,
vectors recycled from the cache) plus 5,000 app-activity events on one day before that month.
``--store DIR`` reuses a store that ``scale.py --keep`` left (``bench/results/stores/n100000``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale

DAY_EVENTS = 5000


def day_items(day: date, n: int) -> list[scale.Item]:
    """``n`` app-activity events spread over the local day ``day``."""
    import random

    start = datetime.combine(day, datetime.min.time()).astimezone()
    r = random.Random(5)
    out = []
    for i in range(n):
        at = (start + timedelta(seconds=(i + 0.5) * 86400 / n)).astimezone(UTC)
        app = r.choice(list(scale.APPS))
        name = scale.PRETTY[app]
        topic, project = r.choice(scale.TOPICS), r.choice(scale.PROJECTS)
        fields = {
            "occurred_at": at.isoformat(),
            "event_type": "app_activity",
            "actor": "user",
            "summary": f"Worked on {project} in {name}: {topic}",
            "details": f"{project} - {topic}\n{scale._sentence(r, 10)}",
            "tree_path": [name],
        }
        out.append(scale.Item("episodic", fields, at, app, f"tl:{i}"))
    return out


def build(base: Path, background: int) -> tuple[Path, date]:
    from engram.core.config import Paths
    from engram.core.memory.embed import LocalEmbedder
    from engram.core.service import EngramService

    scale._env(base)
    paths = Paths(home=base / "engram")
    cache = scale.VectorCache(LocalEmbedder.name)
    emb = scale.CachedEmbedder(LocalEmbedder(), cache, recycle=True)
    day = (datetime.now(UTC) - timedelta(days=scale.SPAN_DAYS + 2)).date()
    svc = EngramService(paths, embedder=emb)
    todo = scale.items(background) + day_items(day, DAY_EVENTS)
    for i in range(0, len(todo), 1000):
        svc.add_memories([scale.new_memory(it) for it in todo[i : i + 1000]])
    svc.close()
    return paths.data, day


def measure(home: Path, day: date, runs: int) -> dict:
    from PySide6.QtWidgets import QApplication

    from engram.core.config import Paths
    from engram.core.memory.embed import LocalEmbedder
    from engram.core.service import EngramService
    from engram.ui.ops import Runner
    from engram.ui.timeline import EventDelegate, TimelineView, load_day

    app = QApplication.instance() or QApplication([])
    svc = EngramService(Paths(home=home), embedder=LocalEmbedder())
    runner = Runner()
    view = TimelineView(svc, runner)
    painted: list[float] = []

    class TimedDelegate(EventDelegate):
        def paint(self, p, option, index):  # type: ignore[no-untyped-def]
            if not painted and index.model().rowCount() >= DAY_EVENTS:
                painted.append(time.perf_counter())
            super().paint(p, option, index)

    view.list.setItemDelegate(TimedDelegate(view.model, view.list))
    view.resize(1200, 800)
    view.show()
    other = day - timedelta(days=3)

    def settle(cond, timeout: float = 120.0) -> None:  # type: ignore[no-untyped-def]
        end = time.perf_counter() + timeout
        while not cond():
            app.processEvents()
            if time.perf_counter() > end:
                raise TimeoutError("the timeline did not paint in time")
            time.sleep(0.001)

    total, load, loaded, repaint = [], [], [], []
    for _ in range(runs):
        view.set_day(other)
        settle(lambda: not runner.busy and not view.loading)
        app.processEvents()
        painted.clear()
        t0 = time.perf_counter()
        view.set_day(day)
        settle(lambda: bool(painted))
        app.processEvents()  # the rest of that paint pass
        total.append(time.perf_counter() - t0)
        events, s = scale.timed(load_day, svc, day)
        load.append(s)
        view._loading += 1
        _, s = scale.timed(view._loaded, day, events)
        loaded.append(s)
        _, s = scale.timed(view.list.viewport().repaint)
        repaint.append(s)
    rows = view.model.rowCount()
    runner.shutdown()
    view.close()
    svc.close()
    ms = lambda xs: round(statistics.median(xs) * 1000, 1)  # noqa: E731
    return {
        "rows": rows,
        "first_paint_ms": ms(total),
        "first_paint_all_ms": [round(x * 1000, 1) for x in total],
        "load_day_ms": ms(load),
        "loaded_ms": ms(loaded),
        "repaint_ms": ms(repaint),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--background", type=int, default=100_000, help="memories of the month")
    ap.add_argument("--store", type=Path, help="a store left by scale.py --keep (its n<N> dir)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="10k background, 3 runs")
    args = ap.parse_args()
    if args.quick:
        args.background, args.runs = 10_000, 3
    tmp = None
    if args.store:
        scale._env(args.store)
        from engram.core.config import Paths
        from engram.core.memory.embed import LocalEmbedder
        from engram.core.service import EngramService

        day = (datetime.now(UTC) - timedelta(days=scale.SPAN_DAYS + 2)).date()
        paths = Paths(home=args.store / "engram")
        with EngramService(paths, embedder=LocalEmbedder()) as svc:
            have = len(svc.timeline(*_bounds(day)))
        if have < DAY_EVENTS:
            cache = scale.VectorCache(LocalEmbedder.name)
            emb = scale.CachedEmbedder(LocalEmbedder(), cache, recycle=True)
            with EngramService(paths, embedder=emb) as svc:
                its = day_items(day, DAY_EVENTS)
                for i in range(0, len(its), 1000):
                    svc.add_memories([scale.new_memory(it) for it in its[i : i + 1000]])
        home = paths.data
    else:
        tmp = Path(tempfile.mkdtemp(prefix="engram-tl-"))
        t0 = time.perf_counter()
        home, day = build(tmp, args.background)
        print(f"  built the store in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    try:
        res = measure(home, day, args.runs)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    res["background"] = args.background
    scale.RESULTS.mkdir(parents=True, exist_ok=True)
    (scale.RESULTS / "timeline.json").write_text(json.dumps(res, indent=2))
    print(
        "| store | day | first paint (median) | load_day | model + strip + proxy | repaint |\n"
        "|---|---:|---:|---:|---:|---:|\n"
        f"| {args.background:,} memories + the day | {res['rows']:,} events "
        f"| {res['first_paint_ms']:.0f} ms | {res['load_day_ms']:.0f} ms "
        f"| {res['loaded_ms']:.0f} ms | {res['repaint_ms']:.0f} ms |"
    )


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, datetime.min.time()).astimezone()
    return start, start + timedelta(days=1)


if __name__ == "__main__":
    main()
