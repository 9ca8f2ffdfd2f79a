"""Redaction benchmark: recall per kind and false positives on the corpus, and throughput.

Run: .venv/bin/python bench/redaction.py [--mb 5]
Prints a markdown table for the README.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter
from pathlib import Path

from engram.core.perceive.redact import redact

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "redaction_corpus.jsonl"
FILLER = (
    "2024-03-15 10:31:02 INFO worker started pid=4242 queue=default",
    "The quick brown fox jumps over the lazy dog; nothing secret here at all.",
    "File  Edit  View  Selection  Go  Run  Terminal  Help",
    "def main() -> None:  # entry point, see https://example.com/docs?page=2",
    "Total 1,234.56 EUR  | Qty 3 | SKU 88-1234-77 | Order #100234",
    "Alice: are we still on for Thursday? Bob: yes, 3pm in room 4.12",
)


def load() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]


def caught(entry: dict) -> bool:
    """The secret is gone and a finding of the expected kind covers it."""
    text, secret = entry["text"], entry["secret"]
    result = redact(text)
    start = text.index(secret)
    return secret not in result.text and any(
        f.kind == entry["kind"] and f.start <= start and f.end >= start + len(secret)
        for f in result.findings
    )


def throughput(entries: list[dict], megabytes: float, secret_share: float) -> float:
    """MB/s on OCR-like text where ``secret_share`` of the lines come from the corpus."""
    rng = random.Random(1)
    lines = [e["text"] for e in entries]
    parts, size = [], 0
    while size < megabytes * 1_000_000:
        line = rng.choice(lines) if rng.random() < secret_share else rng.choice(FILLER)
        parts.append(line)
        size += len(line) + 1
    text = "\n".join(parts)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        redact(text)
        best = min(best, time.perf_counter() - start)
    return len(text.encode()) / 1_000_000 / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=5.0, help="size of the throughput text")
    args = parser.parse_args()
    entries = load()
    positives = [e for e in entries if e["kind"]]
    negatives = [e for e in entries if not e["kind"]]
    total, hits = Counter(), Counter()
    for e in positives:
        total[e["kind"]] += 1
        hits[e["kind"]] += caught(e)
    false_pos = sum(redact(e["text"]).text != e["text"] for e in negatives)

    print("| kind | positives | redacted | recall |")
    print("|---|---:|---:|---:|")
    for kind in sorted(total):
        print(f"| {kind} | {total[kind]} | {hits[kind]} | {hits[kind] / total[kind]:.1%} |")
    n, h = sum(total.values()), sum(hits.values())
    print(f"| **all** | {n} | {h} | **{h / n:.1%}** |")
    print()
    print("| measure | value |")
    print("|---|---:|")
    print(
        f"| false positives on {len(negatives)} look-alikes | {false_pos} ({false_pos / len(negatives):.1%}) |"
    )
    print(
        f"| throughput, {args.mb:g} MB, 1% secret lines | {throughput(entries, args.mb, 0.01):.1f} MB/s |"
    )
    print(
        f"| throughput, {args.mb:g} MB, 20% secret lines | {throughput(entries, args.mb, 0.20):.1f} MB/s |"
    )


if __name__ == "__main__":
    main()
