"""Provider presets: where common OpenAI-compatible servers listen and what they serve.

Data only, so the settings dialog, `engram doctor` and the config loader agree on defaults.
An empty model means "whatever the server lists first" (local servers usually serve one);
"custom" has no base URL either: the user supplies it.
"""

from __future__ import annotations

from dataclasses import dataclass

VISION_MODES = ("on", "off", "auto")


@dataclass(frozen=True)
class Preset:
    """Defaults for one provider; `vision` is "on", "off" or "auto" (guess from model name)."""

    name: str
    label: str
    base_url: str
    model: str
    needs_key: bool
    vision: str = "auto"


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("openai", "OpenAI", "https://api.openai.com/v1", "gpt-4o-mini", True, "on"),
        Preset("ollama", "Ollama", "http://127.0.0.1:11434/v1", "llama3.1", False, "auto"),
        Preset("lmstudio", "LM Studio", "http://127.0.0.1:1234/v1", "", False, "auto"),
        Preset("vllm", "vLLM", "http://127.0.0.1:8000/v1", "", False, "auto"),
        Preset("llamacpp", "llama.cpp server", "http://127.0.0.1:8080/v1", "", False),
        Preset(
            "openrouter", "OpenRouter", "https://openrouter.ai/api/v1", "openai/gpt-4o-mini", True
        ),
        Preset("custom", "Custom (OpenAI-compatible)", "", "", False),
    )
}


def get_preset(name: str) -> Preset:
    """The preset called `name` (case-insensitive); ValueError names the valid ones."""
    key = name.strip().lower()
    try:
        return PRESETS[key]
    except KeyError:
        valid = ", ".join(PRESETS)
        raise ValueError(f"unknown LLM provider preset {name!r}; valid presets: {valid}") from None
