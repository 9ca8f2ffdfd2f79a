"""Nothing readable lands on disk: byte-scan ENGRAM_HOME for distinctive words."""

from __future__ import annotations

import os
from pathlib import Path

WORDS = [
    "Quetzalcoatlus",
    "Brobdingnagian",
    "zyxwvut-7731",
    "Marmaduke Ollivander",
    "hunter2-ocelot-secret",
]


def scan(root: Path, needles: list[str]) -> list[tuple[str, str]]:
    hits = []
    encoded = [
        (n, v) for n in needles for v in {n.encode(), n.lower().encode(), n.encode("utf-16-le")}
    ]
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            data = (Path(dirpath) / f).read_bytes()
            for needle, v in encoded:
                if v in data:
                    hits.append((str(Path(dirpath) / f), needle))
    return hits


def test_no_plaintext_under_engram_home(svc):
    svc.add_memory(
        "episodic",
        {
            "summary": f"Saw a {WORDS[0]} skeleton at the museum",
            "details": f"It was {WORDS[1]} in scale",
        },
    )
    svc.add_memory("semantic", {"name": WORDS[3], "summary": f"Account code {WORDS[2]}"})
    svc.add_memory(
        "knowledge_vault",
        {"caption": "museum locker", "secret_value": WORDS[4], "sensitivity": "high"},
    )
    svc.add_memory("core", {"label": "human", "value": f"Friend of {WORDS[3]}"})
    m = svc.list_memories("semantic")[0]
    svc.edit_memory(m.id, {"details": f"also {WORDS[0]}"})
    svc.close()
    svc.store = svc.store  # closed above; the fixture's close is idempotent
    hits = scan(svc.paths.data, WORDS)
    assert hits == [], hits


def test_forget_leaves_no_trace(svc):
    svc.add_memory("resource", {"title": "Quarterly plan", "content": f"{WORDS[0]} roadmap"})
    keep = svc.add_memory("resource", {"title": "Other", "content": "unrelated"})
    m = svc.list_memories("resource")[-1]
    svc.delete_memory(m.id)
    svc.store.compact()
    assert svc.search(WORDS[0]) == [] or all(h.memory.id == keep.id for h in svc.search(WORDS[0]))
    assert svc.store.ledger.scalar("SELECT count(*) FROM memories") == 1
    assert svc.store.vectors.ids("resource") == {keep.id}
    svc.close()
    assert scan(svc.paths.data, WORDS) == []
