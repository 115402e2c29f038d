"""Every environment variable the settings read is documented in README's Operations table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from models.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def variables_read() -> set[str]:
    """Names in models/settings.py passed to env.get(...) or to a typed reader like _int_env(env, ...)."""
    source = (ROOT / "models" / "settings.py").read_text()
    names = set(re.findall(r'env\.get\(\s*"([A-Z][A-Z0-9_]*)"', source))
    names |= set(re.findall(r'_\w+_env\(\s*env,\s*"([A-Z][A-Z0-9_]*)"', source))
    return names


def documented() -> set[str]:
    """Variable names in the first column of the table in README's `## Operations` section."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Operations\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names |= set(re.findall(r"`([A-Z][A-Z0-9_]*)`", line.split("|")[1]))
    return names


def test_every_variable_the_settings_read_is_in_the_operations_table() -> None:
    read = variables_read()
    assert {"DATABASE_URL", "SHENGUAN_METRICS_TOKEN", "SHENGUAN_EVENT_RETENTION_DAYS"} <= read  # the scan works
    assert read - documented() == set()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SHENGUAN_METRICS_NETWORKS", "10.0.0.0/8,not-a-net", "SHENGUAN_METRICS_NETWORKS entry 'not-a-net'"),
        ("SHENGUAN_METRICS_TOKEN", "short", "SHENGUAN_METRICS_TOKEN must be at least 16 characters"),
        ("SHENGUAN_LOG_FORMAT", "xml", "SHENGUAN_LOG_FORMAT='xml' is not one of text, json"),
        ("SHENGUAN_EVENT_RETENTION_DAYS", "0", "SHENGUAN_EVENT_RETENTION_DAYS=0 is outside"),
        ("SHENGUAN_WORKER_METRICS_PORT", "x", "SHENGUAN_WORKER_METRICS_PORT='x' is not a whole number"),
    ],
)
def test_the_operations_settings_are_checked(tmp_path: Path, name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings({"SHENGUAN_VAR_DIR": str(tmp_path), name: value})


def test_the_operations_settings_have_their_documented_defaults(tmp_path: Path) -> None:
    settings = load_settings({"SHENGUAN_VAR_DIR": str(tmp_path)})
    assert [str(n) for n in settings.metrics_networks] == ["127.0.0.1/32", "::1/128"]
    assert (settings.metrics_token, settings.log_format, settings.event_retention_days) == (None, "text", 90)
    assert settings.worker_metrics_port == 0
    assert load_settings({"SHENGUAN_VAR_DIR": str(tmp_path), "SHENGUAN_METRICS_NETWORKS": ""}).metrics_networks == ()
