"""Settings come from the environment once, with clear errors, and round-trip to a child's environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from haochaping.settings import Settings, SettingsError


def test_defaults_use_embedded_clickhouse_under_data_dir(tmp_path: Path) -> None:
    settings = Settings.from_env({"HCP_DATA_DIR": str(tmp_path), "HCP_PSEUDONYM_KEY": "k"})
    assert settings.clickhouse == f"chdb://{tmp_path.resolve() / 'clickhouse'}"
    assert settings.embedded_clickhouse
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.topics["ratings"] == "hcp.ratings"


def test_server_url_switches_backend(tmp_path: Path) -> None:
    url = "http://analyst:secret@ch.example:8123/hcp"
    settings = Settings.from_env({"HCP_CLICKHOUSE_URL": url, "HCP_DATA_DIR": str(tmp_path), "HCP_PSEUDONYM_KEY": "k"})
    assert settings.clickhouse == url and not settings.embedded_clickhouse


def test_bad_number_names_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="HCP_PARTITIONS='four' is not a valid int"):
        Settings.from_env({"HCP_PARTITIONS": "four", "HCP_DATA_DIR": str(tmp_path)})


def test_generated_pseudonym_key_is_kept(tmp_path: Path) -> None:
    first = Settings.from_env({"HCP_DATA_DIR": str(tmp_path)})
    second = Settings.from_env({"HCP_DATA_DIR": str(tmp_path)})
    assert first.pseudonym_key == second.pseudonym_key and len(first.pseudonym_key) == 64


def test_environment_round_trip(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, topic_prefix="x.", partitions=6, batch_seconds=0.25, pseudonym_key=b"key")
    assert Settings.from_env(settings.to_env()) == settings
