"""Settings: TOML file, ENGRAM_* overrides, validation with clear errors."""

from __future__ import annotations

import pytest

from engram.core.config import ConfigError, Paths, Settings, load_settings, save_settings


def test_defaults_and_engram_home(isolated_env):
    p = Paths()
    assert p.data == isolated_env and p.config_file == isolated_env / "config.toml"
    s = load_settings(p)
    assert s.capture_interval == 2.0 and s.batch_size == 20 and not s.llm_configured


def test_platformdirs_without_engram_home(monkeypatch, tmp_path):
    monkeypatch.delenv("ENGRAM_HOME")
    p = Paths()
    assert str(p.data).startswith(str(tmp_path)) and p.data.name == "engram"


def test_file_then_env_override(isolated_env, monkeypatch):
    p = Paths()
    save_settings(Settings(capture_interval=5, excluded_title_patterns=["(?i)bank"]), p)
    assert load_settings(p).capture_interval == 5
    monkeypatch.setenv("ENGRAM_CAPTURE_INTERVAL", "7.5")
    monkeypatch.setenv("ENGRAM_EXCLUDED_APPS", "Signal, Slack")
    s = load_settings(p)
    assert s.capture_interval == 7.5 and s.excluded_apps == ["Signal", "Slack"]
    assert s.excluded_title_patterns == ["(?i)bank"]
    assert oct(p.config_file.stat().st_mode & 0o777) == "0o600"


def test_api_key_never_written_to_file(isolated_env):
    p = Paths()
    save_settings(Settings(llm_base_url="http://x/v1", llm_model="m", llm_api_key="sk-secret"), p)
    assert "sk-secret" not in p.config_file.read_text()


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("capture_interval = 0.01\n", "capture_interval"),
        ("nonsense_key = 1\n", "nonsense_key"),
        ("excluded_title_patterns = ['(unclosed']\n", "invalid regex"),
        ("capture_interval = [\n", "cannot parse"),
        ("llm_vision = 'sometimes'\n", "llm_vision"),
    ],
)
def test_bad_values_name_the_field(isolated_env, content, needle):
    p = Paths()
    p.ensure()
    p.config_file.write_text(content)
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(")):
        load_settings(p)


def test_openai_api_key_env_is_honoured(isolated_env, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    assert load_settings().llm_api_key == "sk-from-env"
    monkeypatch.setenv("ENGRAM_LLM_API_KEY", "sk-engram")
    assert load_settings().llm_api_key == "sk-engram"
