"""One memory manager's conversation with the LLM: tools over its own type, bounded retries.

The model is asked to make all its changes in one response, so a batch usually costs one
call per manager; another round happens only to hand back the errors of failed calls. An
invalid call (bad JSON, fields the models reject, unknown ids) is answered with the error;
past ``max_invalid`` of them the manager raises, so the worker parks the batch and rolls
back what it wrote.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engram.core.agents import prompts
from engram.core.agents.tools import BatchContext, ToolBox, ToolError, tool_schemas
from engram.core.llm.client import ChatResult, LLMClient, ToolCall
from engram.core.memory.search import hybrid_search
from engram.core.memory.store import MemoryStore

RELATED_K = 8


class AgentError(RuntimeError):
    """The model kept making invalid calls; the batch is parked and retried later."""


@dataclass
class Meter:
    """LLM calls and tokens of one batch, summed over threads."""

    calls: int = 0
    prompt: int = 0
    completion: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def add(self, r: ChatResult) -> None:
        with self._lock:
            self.calls += 1
            self.prompt += r.usage.prompt_tokens
            self.completion += r.usage.completion_tokens


def _echo_arguments(call: ToolCall) -> str:
    """The call's arguments as sent back in the history, with any secret value masked."""
    args = call.arguments
    if args is None:
        return call.raw_arguments[:2000]
    fields = args.get("fields")
    if isinstance(fields, dict) and fields.get("secret_value"):
        args = {**args, "fields": {**fields, "secret_value": "[stored, hidden]"}}
    return json.dumps(args, ensure_ascii=False)


def assistant_message(r: ChatResult) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": r.text or None,
        "tool_calls": [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": _echo_arguments(c)},
            }
            for c in r.tool_calls
        ],
    }


Handler = Callable[[ToolCall], str]  # raises ToolError for the model to fix


def converse(
    client: LLMClient,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]],
    handle: Handler,
    meter: Meter,
    *,
    max_rounds: int,
    max_invalid: int,
    name: str,
    on_text: Callable[[str], str | None] | None = None,
) -> None:
    """Run tool rounds until a round has no errors; raise AgentError past max_invalid.

    ``on_text`` handles a reply without tool calls: it returns None when the reply is fine
    (the conversation ends) or an error to hand back.
    """
    for invalid in range(1, max_rounds + 1):  # every round after the first fixes errors
        r = client.chat(messages, tools=tools)
        meter.add(r)
        errors: list[str] = []
        if not r.tool_calls:
            problem = on_text(r.text) if on_text else None
            if problem is None:
                return
            messages += [
                {"role": "assistant", "content": r.text},
                {"role": "user", "content": problem},
            ]
            errors.append(problem)
        else:
            messages.append(assistant_message(r))
            for call in r.tool_calls:
                try:
                    if call.error:
                        raise ToolError(
                            f"could not read the arguments of {call.name}: {call.error}"
                        )
                    result = handle(call)
                except ToolError as exc:
                    result = f"error: {exc}. Fix the call and try again."
                    errors.append(str(exc))
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
        if not errors:
            return
        if invalid > max_invalid:
            raise AgentError(f"{name}: still invalid after {max_invalid} retries: {errors[0]}")
    raise AgentError(f"{name}: no valid answer within {max_rounds} rounds")


def related_memories(store: MemoryStore, mtype: str, query: str) -> str:
    if mtype == "core":
        blocks = [b for b in (store.core_block("human"), store.core_block("persona")) if b]
        return prompts.render_memories(blocks)
    hits = hybrid_search(store, query, k=RELATED_K, types=[mtype]) if query.strip() else []
    return prompts.render_memories([h.memory for h in hits])


def run_manager(
    store: MemoryStore,
    client: LLMClient,
    mtype: str,
    ctx: BatchContext,
    batch_text: str,
    query: str,
    meter: Meter,
    *,
    max_rounds: int,
    max_invalid: int,
) -> None:
    """One manager: show the batch and related memories, apply its tool calls."""
    box = ToolBox(store, mtype, ctx)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": prompts.manager_system(mtype)},
        {
            "role": "user",
            "content": prompts.manager_user(
                mtype, batch_text, related_memories(store, mtype, query)
            ),
        },
    ]
    converse(
        client,
        messages,
        tool_schemas(mtype),
        lambda call: box.run(call.name, call.arguments or {}),
        meter,
        max_rounds=max_rounds,
        max_invalid=max_invalid,
        name=f"{mtype} manager",
    )
