"""Settings come from DUBAN_ variables; unset means the embedded stack."""

from __future__ import annotations

import pytest

from cli.main import load_settings
from runtime.errors import ConfigurationError
from runtime.settings import Settings, get_settings


def test_unset_means_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no Temporal address or database URL, processes target the embedded servers."""
    for name in ("DUBAN_TEMPORAL_ADDRESS", "DUBAN_DATABASE_URL", "DUBAN_EMBEDDED_POSTGRES_PORT"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.uses_embedded_temporal
    assert settings.uses_embedded_postgres
    assert settings.effective_temporal_address == "127.0.0.1:7233"
    assert settings.effective_database_url == "postgresql://postgres@127.0.0.1:5433/duban"


def test_environment_configures_production(monkeypatch: pytest.MonkeyPatch) -> None:
    """Variables name the cluster and database; the API key stays secret in reprs."""
    monkeypatch.setenv("DUBAN_TEMPORAL_ADDRESS", "temporal.internal:7233")
    monkeypatch.setenv("DUBAN_TEMPORAL_NAMESPACE", "duban-prod")
    monkeypatch.setenv("DUBAN_TEMPORAL_API_KEY", "very-secret")
    monkeypatch.setenv("DUBAN_DATABASE_URL", "postgresql://duban:pw@db:5432/duban")
    monkeypatch.setenv("DUBAN_API_PORT", "9000")
    settings = Settings()
    assert not settings.uses_embedded_temporal
    assert settings.effective_temporal_address == "temporal.internal:7233"
    assert settings.temporal_namespace == "duban-prod"
    assert settings.effective_database_url == "postgresql://duban:pw@db:5432/duban"
    assert settings.api_port == 9000
    assert "very-secret" not in repr(settings)


def test_bad_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """A malformed value becomes one ConfigurationError naming the variable."""
    monkeypatch.setenv("DUBAN_API_PORT", "eighty")
    get_settings.cache_clear()
    try:
        with pytest.raises(ConfigurationError, match="DUBAN_API_PORT"):
            load_settings()
    finally:
        get_settings.cache_clear()
