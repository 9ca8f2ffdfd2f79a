"""What the memory stage consumes and returns: batches of captures and chat messages.

A batch is claimed from the ledger queue, handed to a ``MemoryAgent`` (the LLM managers
or the offline rules), and every memory write is tagged with the batch id, so a batch that
died half-way can be rolled back and redone without duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class CaptureItem:
    uid: str
    at: datetime
    monitor: int
    app: str | None
    title: str | None
    url: str | None
    text: str  # redacted OCR text
    thumb: bytes | None = None  # redacted, downscaled JPEG when thumbnails are on


@dataclass(frozen=True)
class MessageItem:
    conversation: str
    ref: str  # message id, kept as the memory's source (LoCoMo: dia_id)
    speaker: str
    text: str  # redacted
    at: datetime
    session: str | None = None


@dataclass
class Batch:
    id: str
    captures: list[CaptureItem] = field(default_factory=list)
    messages: list[MessageItem] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.captures) + len(self.messages)


@dataclass
class BatchResult:
    created: dict[str, int] = field(default_factory=dict)  # per memory type
    updated: int = 0
    deleted: int = 0
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, mtype: str, n: int = 1) -> None:
        self.created[mtype] = self.created.get(mtype, 0) + n


class MemoryAgent(Protocol):
    """Turns one batch into memories through the store; raises to park the batch."""

    def process(self, batch: Batch) -> BatchResult: ...
