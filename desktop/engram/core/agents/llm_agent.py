"""The LLM path: the meta manager routes a batch, the chosen managers run in parallel.

Chat messages still become one episodic memory each by rule (exact turns with their ids
are what retrieval cites); the LLM adds what rules cannot: semantic facts, procedures,
core facts, vault entries, resources. Screen-origin writes to core and procedural memory
are held as proposals for the user (safety.py) and saved only when the batch succeeds.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from engram.core.agents import prompts
from engram.core.agents.batch import Batch, BatchResult
from engram.core.agents.managers import Meter, run_manager
from engram.core.agents.meta import route
from engram.core.agents.offline import add_messages
from engram.core.agents.safety import PendingStore, data_block
from engram.core.agents.tools import BatchContext, ToolError
from engram.core.llm.client import LLMClient
from engram.core.memory.models import MEMORY_TYPES
from engram.core.memory.store import MemoryStore

log = logging.getLogger(__name__)
COMPACT_TARGET = 0.6  # a rewritten core block aims at this share of its limit
# Shared by every agent: the ledger keeps one read connection per thread, so fresh threads
# per batch would pile up connections; these few threads live as long as the process.
_POOL = ThreadPoolExecutor(max_workers=3, thread_name_prefix="engram-manager")


class LLMAgent:
    def __init__(
        self,
        store: MemoryStore,
        client: LLMClient,
        *,
        vision: bool = False,
        max_tool_rounds: int = 3,
        max_invalid: int = 2,
    ) -> None:
        if max_tool_rounds < 1 or max_invalid < 0:
            raise ValueError("max_tool_rounds must be >= 1 and max_invalid >= 0")
        self.store = store
        self.client = client
        self.vision = vision
        self.max_tool_rounds = max_tool_rounds
        self.max_invalid = max_invalid
        self.pending = PendingStore(store.ledger)

    def process(self, batch: Batch) -> BatchResult:
        """Memories for one batch; raises (LLMError, AgentError) so the worker parks it."""
        result = BatchResult()
        meter = Meter()
        trust = "screen" if batch.captures else "chat"
        ctx = BatchContext(batch, trust, result, compact=lambda *a: self._compact(meter, *a))
        try:
            if batch.messages:
                add_messages(self.store, batch, result)
            allowed = list(MEMORY_TYPES)
            if not batch.captures:
                allowed.remove("episodic")  # messages are episodic by rule, one per turn
            text = prompts.render_batch(batch)
            images = prompts.images(batch) if self.vision else None
            types = route(
                self.client,
                text,
                meter,
                allowed=allowed,
                image_parts=images,
                max_invalid=self.max_invalid,
            )
            result.notes.append(f"routed to: {', '.join(types) or 'none'}")
            self._run_managers(types, ctx, text, prompts.search_text(batch), meter)
            for p in ctx.proposals:
                self.pending.add(p)
                flags = f"; flagged: {', '.join(p.flags)}" if p.flags else ""
                result.notes.append(f"pending confirmation: {p.id} {p.type} {p.op}{flags}")
        finally:
            result.llm_calls = meter.calls
            result.prompt_tokens = meter.prompt
            result.completion_tokens = meter.completion
        return result

    def _run_managers(
        self, types: list[str], ctx: BatchContext, text: str, query: str, meter: Meter
    ) -> None:
        if not types:
            return

        def one(mtype: str) -> None:
            run_manager(
                self.store,
                self.client,
                mtype,
                ctx,
                text,
                query,
                meter,
                max_rounds=self.max_tool_rounds,
                max_invalid=self.max_invalid,
            )

        futures = [_POOL.submit(one, t) for t in types]
        errors = [f.exception() for f in futures]  # wait for all before raising
        for err in errors:
            if err is not None:
                raise err

    def _compact(self, meter: Meter, label: str, value: str, limit: int) -> str:
        """A dedicated call that rewrites a core block shorter."""
        target = int(limit * COMPACT_TARGET)
        r = self.client.chat(
            [
                {"role": "system", "content": prompts.COMPACT_SYSTEM.format(target=target)},
                {"role": "user", "content": data_block("MEMORY", label, value)},
            ]
        )
        meter.add(r)
        out = r.text.strip()
        if not out:
            raise ToolError(f"core block {label!r} is too long and the rewrite came back empty")
        return out
