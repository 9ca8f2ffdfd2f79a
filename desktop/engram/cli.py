"""The ``engram`` command line: a thin front end over ``EngramService``.

Every command honours ``ENGRAM_HOME`` and prints JSON with ``--json``. Exit codes: 0 ok,
1 failure (message on stderr), 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from engram import __version__

Handler = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, Handler] = {}


class UsageError(Exception):
    """Bad arguments that argparse could not catch (dates, JSON)."""


def command(name: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        COMMANDS[name] = fn
        return fn

    return deco


def emit(args: argparse.Namespace, data: Any, human: Callable[[Any], str] | None = None) -> None:
    if getattr(args, "json", False) or human is None:
        print(json.dumps(data, ensure_ascii=False, indent=None if args.json else 2, default=str))
    else:
        print(human(data))


def parse_when(value: str | None, *, end: bool = False) -> datetime | None:
    """ISO 8601 or a phrase like "yesterday" / "3 days ago" (start of its range, or end)."""
    if value is None:
        return None
    try:
        d = datetime.fromisoformat(value)
        return d if d.tzinfo else d.astimezone()
    except ValueError:
        pass
    try:
        from engram.core.memory.timeparse import parse_time_query
    except ImportError:  # pragma: no cover - timeparse ships with the package
        parse_time_query = None
    if parse_time_query is not None:
        rng = parse_time_query(value).range
        if rng is not None:
            got = rng.end if end else rng.start
            if got is not None:
                return got
    raise UsageError(
        f"cannot read the date {value!r}: use ISO 8601 (2026-11-27T09:00) or "
        "a phrase like 'yesterday'"
    )


def load_json_arg(raw: str) -> dict:
    if raw == "-":
        raw = sys.stdin.read()
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--data is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError("--data must be a JSON object")
    return data


def service() -> Any:
    from engram.core.service import EngramService

    return EngramService()


# -- commands ---------------------------------------------------------------------------
def _memory_line(m: dict) -> str:
    when = m.get("occurred_at", "")[:16].replace("T", " ")
    text = (m.get("text") or "").replace("\n", " ")
    return f"{m['id']}  {m['type']:<15} {when}  {text[:90]}"


@command("memories")
def cmd_memories(args: argparse.Namespace) -> int:
    with service() as svc:
        if args.action == "add":
            m = svc.add_memory(args.type, load_json_arg(args.data))
            emit(args, m.public(), lambda d: f"added {d['id']}")
        elif args.action == "list":
            mems = svc.list_memories(
                args.type,
                limit=args.limit,
                offset=args.offset,
                since=parse_when(args.since),
                until=parse_when(args.until, end=True),
            )
            data = [m.public() for m in mems]
            emit(args, data, lambda d: "\n".join(map(_memory_line, d)) or "no memories")
        elif args.action == "show":
            m = svc.get_memory(args.id)
            data = m.public()
            if args.history:
                data["history"] = [h.public() for h in svc.history(args.id)]
            emit(args, data, lambda d: json.dumps(d, indent=2, ensure_ascii=False))
        elif args.action == "edit":
            m = svc.edit_memory(args.id, load_json_arg(args.data))
            emit(args, m.public(), lambda d: f"{args.id} -> {d['id']} (new version)")
        elif args.action == "delete":
            n = svc.delete_memory(args.id)
            emit(args, {"deleted": args.id, "versions": n}, lambda d: f"deleted {d['deleted']}")
    return 0


@command("search")
def cmd_search(args: argparse.Namespace) -> int:
    with service() as svc:
        hits = svc.search(
            args.query,
            k=args.k,
            types=args.type or None,
            since=parse_when(args.since),
            until=parse_when(args.until, end=True),
        )
        data = [h.public() for h in hits]
        emit(
            args,
            data,
            lambda d: "\n".join(f"{h['score']:.4f}  " + _memory_line(h) for h in d) or "no results",
        )
    return 0


@command("ask")
def cmd_ask(args: argparse.Namespace) -> int:
    with service() as svc:
        if args.json:
            emit(args, svc.ask(args.question, k=args.k).public())
            return 0
        answer = None
        for kind, value in svc.ask_stream(args.question, k=args.k):
            if kind == "delta":
                print(value, end="", flush=True)
            else:
                answer = value
        print()
        for h in answer.memories if answer is not None else []:
            print("  " + _memory_line(h.public()))
    return 0


@command("import-chat")
def cmd_import_chat(args: argparse.Namespace) -> int:
    from engram.core.agents.chat_import import ChatImportError

    with service() as svc:
        try:
            out = svc.import_chat(args.file, args.format)
        except ChatImportError as exc:
            raise UsageError(str(exc)) from None
    emit(
        args,
        out,
        lambda d: (
            f"{d['messages']} messages ({d['added']} new, {d['already_known']} known) from "
            f"{len(d['conversations'])} conversation(s); memories "
            + (", ".join(f"{k} +{v}" for k, v in d["memories"].items()) or "none")
            + "".join(f"\n  skipped: {p['ref'] or p['line']}: {p['reason']}" for p in d["problems"])
        ),
    )
    return 0


@command("status")
def cmd_status(args: argparse.Namespace) -> int:
    with service() as svc:
        emit(args, svc.status(), lambda d: "\n".join(f"{k}: {v}" for k, v in d.items()))
    return 0


@command("export")
def cmd_export(args: argparse.Namespace) -> int:
    with service() as svc:
        data = svc.export(include_history=args.history)
    text = json.dumps(data, ensure_ascii=False, indent=2, default=str)
    if args.output:
        import os

        fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        counts = {t: len(v) for t, v in data.items() if isinstance(v, list)}
        emit(
            args,
            {"output": args.output, "memories": counts},
            lambda d: f"exported to {d['output']}",
        )
    else:
        print(text)
    return 0


@command("forget")
def cmd_forget(args: argparse.Namespace) -> int:
    with service() as svc:
        out = svc.forget(
            since=parse_when(args.since), until=parse_when(args.until, end=True), app=args.app
        )
        emit(args, out, lambda d: ", ".join(f"{v} {k}" for k, v in d.items()) + " forgotten")
    return 0


@command("doctor")
def cmd_doctor(args: argparse.Namespace) -> int:
    from engram.core.doctor import run_checks

    checks = run_checks()
    ok = all(c["ok"] or not c["required"] for c in checks)
    emit(
        args,
        {"ok": ok, "checks": checks},
        lambda d: "\n".join(
            f"[{'ok' if c['ok'] else ('FAIL' if c['required'] else 'warn')}] {c['name']}: "
            f"{c['detail']}" + ("" if c["ok"] else f"\n      fix: {c['fix']}")
            for c in d["checks"]
        ),
    )
    return 0 if ok else 1


@command("ingest")
def cmd_ingest(args: argparse.Namespace) -> int:
    with service() as svc:
        out = svc.ingest(args.paths)
    emit(
        args,
        out,
        lambda d: (
            f"{d['frames']} frames: {d['kept']} kept, {d['skipped_duplicate']} duplicate, "
            f"{d['skipped_excluded']} excluded, {len(d['errors'])} errors; memories "
            + (", ".join(f"{k} +{v}" for k, v in d["memories"].items()) or "none")
            + "".join(f"\n  error: {e['path']}: {e['error']}" for e in d["errors"])
        ),
    )
    # 1 only when errors and nothing went through (sidecar errors are not counted in frames)
    through = out["kept"] + out["skipped_duplicate"] + out["skipped_excluded"]
    return 0 if through + out.get("already_known", 0) or not out["errors"] else 1


@command("pending")
def cmd_pending(args: argparse.Namespace) -> int:
    with service() as svc:
        if args.action == "list":
            data = svc.list_pending()
            emit(
                args,
                data,
                lambda d: (
                    "\n".join(
                        f"{p['id']}  {p['type']:<10} {p['op']:<7} {p['reason'][:60]} "
                        f"{json.dumps(p['fields'], ensure_ascii=False)[:80]}"
                        for p in d
                    )
                    or "nothing waiting for confirmation"
                ),
            )
        elif args.action == "confirm":
            ids = svc.confirm_pending(args.id)
            emit(
                args,
                {"confirmed": args.id, "memories": ids},
                lambda d: f"confirmed {d['confirmed']}: {', '.join(d['memories'])}",
            )
        else:
            svc.reject_pending(args.id)
            emit(args, {"rejected": args.id}, lambda d: f"rejected {d['rejected']}")
    return 0


@command("rollback")
def cmd_rollback(args: argparse.Namespace) -> int:
    with service() as svc:
        out = svc.store.rollback_batch(args.batch)
    emit(
        args,
        out,
        lambda d: (
            f"batch {args.batch}: {d['removed']} writes undone, {d['restored']} memories restored"
        ),
    )
    return 0


@command("run")
def cmd_run(args: argparse.Namespace) -> int:
    if args.headless:
        from engram.core.headless import run_headless

        return run_headless(capture=not args.no_capture, seconds=args.seconds)
    from engram.ui.app import run_app

    return run_app(capture=not args.no_capture, quick_ask=args.quick_ask)


# -- parser -----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from engram.core.memory.models import MEMORY_TYPES

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON")
    p = argparse.ArgumentParser(
        prog="engram", description="Engram: memory of what you saw and said.", parents=[common]
    )
    p.add_argument("--version", action="version", version=f"engram {__version__}")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", parents=[common], help="the desktop app (tray, window, capture)")
    run.add_argument("--headless", action="store_true", help="capture + memory, no window")
    run.add_argument("--no-capture", action="store_true", help="start with capture paused")
    run.add_argument("--seconds", type=float, default=None, help=argparse.SUPPRESS)
    run.add_argument(
        "--quick-ask",
        action="store_true",
        help="open the quick-ask popup (of the running instance, if any)",
    )

    mem = sub.add_parser("memories", parents=[common], help="add, list, show, edit, delete")
    msub = mem.add_subparsers(dest="action", required=True)
    a = msub.add_parser("add", parents=[common])
    a.add_argument("type", choices=MEMORY_TYPES)
    a.add_argument("--data", required=True, help="fields as JSON ('-' reads stdin)")
    ls = msub.add_parser("list", parents=[common])
    ls.add_argument("--type", choices=MEMORY_TYPES)
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--offset", type=int, default=0)
    ls.add_argument("--since")
    ls.add_argument("--until")
    sh = msub.add_parser("show", parents=[common])
    sh.add_argument("id")
    sh.add_argument("--history", action="store_true")
    ed = msub.add_parser("edit", parents=[common])
    ed.add_argument("id")
    ed.add_argument("--data", required=True)
    de = msub.add_parser("delete", parents=[common])
    de.add_argument("id")

    s = sub.add_parser("search", parents=[common], help="hybrid search over memories")
    s.add_argument("query")
    s.add_argument("-k", type=int, default=10)
    s.add_argument("--type", action="append", choices=MEMORY_TYPES)
    s.add_argument("--since")
    s.add_argument("--until")

    ak = sub.add_parser("ask", parents=[common], help="answer a question from memories")
    ak.add_argument("question")
    ak.add_argument("-k", type=int, default=8, help="memories to retrieve")
    ic = sub.add_parser("import-chat", parents=[common], help="chat messages as memory input")
    ic.add_argument("file")
    ic.add_argument("--format", choices=["auto", "jsonl", "locomo"], default="auto")

    ing = sub.add_parser(
        "ingest",
        parents=[common],
        help="images/folders through the capture pipeline (sidecar <stem>.json)",
    )
    ing.add_argument("paths", nargs="+")
    pe = sub.add_parser(
        "pending",
        parents=[common],
        help="core/procedural memories proposed from screen text, to confirm",
    )
    psub = pe.add_subparsers(dest="action", required=True)
    psub.add_parser("list", parents=[common])
    for name in ("confirm", "reject"):
        pp = psub.add_parser(name, parents=[common])
        pp.add_argument("id")
    rb = sub.add_parser("rollback", parents=[common], help="undo every memory write of a batch")
    rb.add_argument("batch")

    sub.add_parser("status", parents=[common], help="counts, queue, disk, tokens")
    ex = sub.add_parser("export", parents=[common], help="all memories as JSON")
    ex.add_argument("--output", "-o")
    ex.add_argument("--history", action="store_true", help="include old versions")
    fo = sub.add_parser("forget", parents=[common], help="delete by time range and/or app")
    fo.add_argument("--since")
    fo.add_argument("--until")
    fo.add_argument("--app")
    sub.add_parser("doctor", parents=[common], help="check display, OCR, keyring, store, LLM")
    from engram.core.api import register_cli as register_api
    from engram.core.install import register_cli as register_install

    register_api(sub, common)
    register_install(sub, common)
    return p


def main(argv: list[str] | None = None) -> int:
    from engram.core import heap

    heap.limit_arenas()  # before any thread starts: see engram.core.heap
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from engram.core.config import ConfigError
    from engram.core.keys import KeyUnavailable
    from engram.core.memory.ledger import LedgerError
    from engram.core.memory.models import MemoryValidationError
    from engram.core.memory.store import NotFound

    try:
        handler = getattr(args, "func", None) or COMMANDS[args.command]
        return handler(args)
    except UsageError as exc:
        return _fail(args, str(exc), 2)
    except (ConfigError, KeyUnavailable, LedgerError, MemoryValidationError, ValueError) as exc:
        return _fail(args, str(exc), 1)
    except NotFound as exc:
        return _fail(args, f"not found: {exc.args[0] if exc.args else exc}", 1)
    except KeyboardInterrupt:
        return 130


def _fail(args: argparse.Namespace, message: str, code: int) -> int:
    if getattr(args, "json", False):
        print(json.dumps({"error": message}), file=sys.stderr)
    print(f"engram: error: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
