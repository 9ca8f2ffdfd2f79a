"""Which memory agent the service runs: the LLM managers when an LLM is configured, the
offline rules otherwise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engram.core.agents.batch import MemoryAgent
from engram.core.agents.llm_agent import LLMAgent
from engram.core.agents.offline import OfflineAgent
from engram.core.config import Settings
from engram.core.llm.client import LLMClient, LLMConfig, Usage
from engram.core.memory.store import MemoryStore


def client_from_settings(
    settings: Settings,
    *,
    api_key: str | None = None,
    on_usage: Callable[[Usage], None] | None = None,
) -> LLMClient:
    if not settings.llm_configured:
        raise ValueError("no LLM configured: set llm_base_url and llm_model")
    config = LLMConfig(
        base_url=str(settings.llm_base_url),
        model=str(settings.llm_model),
        api_key=api_key or settings.llm_api_key,
        timeout=settings.llm_timeout,
        vision=settings.llm_vision,
    )
    return LLMClient(config, on_usage=on_usage)


def make_agent(
    store: MemoryStore,
    settings: Settings,
    client: LLMClient | None = None,
    **kw: Any,
) -> MemoryAgent:
    """LLMAgent when an LLM is configured (or a client is given), else OfflineAgent.

    Images go to the model only when thumbnails are kept and the model takes images.
    """
    if client is None and not settings.llm_configured:
        return OfflineAgent(store)
    client = client or client_from_settings(settings)
    vision = bool(settings.thumbnails and client.supports_vision())
    return LLMAgent(store, client, vision=vision, **kw)
