"""Settings and paths.

Settings live in ``config.toml`` in the config dir; any field can be overridden by an
``ENGRAM_<FIELD>`` environment variable (e.g. ``ENGRAM_CAPTURE_INTERVAL=5``). With
``ENGRAM_HOME`` set, data and config both live there (tests, portable installs, several
stores side by side); otherwise platformdirs decides.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import tomli_w
from platformdirs import user_config_path, user_data_path
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

APP = "engram"


class ConfigError(ValueError):
    """A settings file or environment value is invalid; the message names the field."""


class Paths:
    """Where Engram keeps its files. Directories are created 0700 on first use."""

    def __init__(self, home: Path | None = None) -> None:
        env_home = os.environ.get("ENGRAM_HOME")
        if home is None and env_home:
            home = Path(env_home).expanduser()
        if home is not None:
            self.data = home
            self.config = home
        else:
            self.data = user_data_path(APP, appauthor=False)
            self.config = user_config_path(APP, appauthor=False)

    @property
    def config_file(self) -> Path:
        return self.config / "config.toml"

    @property
    def ledger(self) -> Path:
        return self.data / "ledger.db"

    @property
    def vectors(self) -> Path:
        return self.data / "vectors"

    @property
    def keyfile(self) -> Path:
        """Non-secret key metadata (store id, key source, wrapped key); never the key."""
        return self.data / "key.json"

    def ensure(self) -> None:
        os.umask(0o077)  # everything Engram writes is private to the user
        for d in {self.data, self.config}:
            d.mkdir(parents=True, exist_ok=True)
            os.chmod(d, 0o700)


class Settings(BaseModel):
    """Every user-visible setting, validated. Unknown keys in the file are an error."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # capture
    capture_interval: float = Field(2.0, ge=0.2, le=3600, description="seconds between grabs")
    capture_monitors: list[int] = Field(default_factory=list, description="empty = all")
    idle_seconds: float = Field(120.0, ge=5, le=86400)
    excluded_apps: list[str] | None = None  # None = the built-in defaults
    excluded_title_patterns: list[str] = Field(default_factory=list)
    exclude_private_windows: bool = True
    change_threshold: float = Field(0.001, ge=0, le=1)
    thumbnails: bool = False
    ocr_lang: str = "eng"
    # queue
    batch_size: int = Field(20, ge=1, le=1000)
    batch_seconds: float = Field(60.0, ge=1, le=86400)
    # retention
    retention_days: int = Field(30, ge=0, le=36500, description="0 = keep forever")
    retention_gb: float = Field(5.0, ge=0, description="0 = no budget")
    min_free_gb: float = Field(1.0, ge=0)
    # llm
    llm_preset: str = "custom"
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = Field(None, description="prefer the keyring; env only")
    llm_vision: Literal["on", "off", "auto"] = "auto"
    llm_timeout: float = Field(60.0, gt=0, le=600)
    # embeddings / vectors
    embedder: Literal["local", "openai"] = "local"
    embedding_model: str | None = None
    chroma_url: str | None = None
    # api
    api_port: int = Field(8765, ge=0, le=65535)

    @field_validator("excluded_title_patterns")
    @classmethod
    def _valid_regexes(cls, v: list[str]) -> list[str]:
        import re

        for pat in v:
            try:
                re.compile(pat)
            except re.error as exc:
                raise ValueError(f"invalid regex {pat!r}: {exc}") from exc
        return v

    @property
    def llm_configured(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)


_ENV_PREFIX = "ENGRAM_"
_NOT_SETTINGS = {"ENGRAM_HOME", "ENGRAM_PASSPHRASE", "ENGRAM_ASSETS", "ENGRAM_KEY_SOURCE"}


def _env_overrides() -> dict[str, Any]:
    out: dict[str, Any] = {}
    fields = Settings.model_fields
    for key, raw in os.environ.items():
        if not key.startswith(_ENV_PREFIX) or key in _NOT_SETTINGS:
            continue
        name = key[len(_ENV_PREFIX) :].lower()
        if name not in fields:
            continue
        ann = fields[name].annotation
        if ann is not None and "list" in str(ann):
            out[name] = [p.strip() for p in raw.split(",") if p.strip()]
        else:
            out[name] = raw
    if "llm_api_key" not in out and os.environ.get("OPENAI_API_KEY"):
        out["llm_api_key"] = os.environ["OPENAI_API_KEY"]
    return out


def _fmt_error(exc: ValidationError, origin: str) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['msg']}")
    return f"invalid settings in {origin}: " + "; ".join(parts)


def load_settings(paths: Paths | None = None) -> Settings:
    """Read config.toml, then apply ENGRAM_* overrides; raise ConfigError naming bad fields."""
    paths = paths or Paths()
    data: dict[str, Any] = {}
    if paths.config_file.exists():
        try:
            data = tomllib.loads(paths.config_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot parse {paths.config_file}: {exc}") from exc
    try:
        Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_fmt_error(exc, str(paths.config_file))) from exc
    data.update(_env_overrides())
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_fmt_error(exc, "ENGRAM_* environment")) from exc


def save_settings(settings: Settings, paths: Paths | None = None) -> Path:
    """Write the settings file atomically (API keys never go to the file)."""
    paths = paths or Paths()
    paths.ensure()
    data = settings.model_dump(exclude_none=True, exclude={"llm_api_key"})
    tmp = paths.config_file.with_suffix(".tmp")
    tmp.write_text(tomli_w.dumps(data), encoding="utf-8")
    os.chmod(tmp, 0o600)
    os.replace(tmp, paths.config_file)
    return paths.config_file


def asset_path(name: str) -> Path:
    """A bundled asset: under ENGRAM_ASSETS when set (an explicit override is taken as
    is, found or not), else a frozen bundle's assets/ or the source tree's."""
    import sys

    if os.environ.get("ENGRAM_ASSETS"):
        return Path(os.environ["ENGRAM_ASSETS"]) / name
    candidates = []
    if getattr(sys, "_MEIPASS", None):
        candidates.append(Path(sys._MEIPASS) / "assets")  # type: ignore[attr-defined]
    candidates.append(Path(__file__).resolve().parents[3] / "assets")
    for c in candidates:
        if (c / name).exists():
            return c / name
    raise FileNotFoundError(f"asset {name!r} not found in {', '.join(map(str, candidates))}")
