"""When Duban talks TLS to Temporal: whenever an API key or a certificate is set.

The decision is a pure function of the settings, tested here as one; a connection that
sends a Temporal Cloud API key over plaintext gRPC would hand the key to anyone on the path.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import TLSConfig

from runtime.errors import ConfigurationError
from runtime.settings import Settings
from runtime.temporal import temporal_tls_config

PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.fixture
def pem_files(tmp_path: Path) -> dict[str, Path]:
    files = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key")}
    for path in files.values():
        path.write_bytes(PEM)
    return files


def test_plaintext_only_without_key_or_certificate() -> None:
    assert temporal_tls_config(Settings()) is False


def test_an_api_key_turns_tls_on() -> None:
    tls = temporal_tls_config(Settings(temporal_api_key="cloud-key"))
    assert tls is True or isinstance(tls, TLSConfig)


def test_an_api_key_is_never_sent_in_plaintext() -> None:
    """DUBAN_TEMPORAL_TLS=false next to an API key (the old example manifests) still
    gives TLS: the key decides, not the flag."""
    for flag in (False, True):
        settings = Settings(temporal_api_key="cloud-key", temporal_tls=flag)
        assert temporal_tls_config(settings) is not False


def test_client_certificate_gives_mutual_tls(pem_files: dict[str, Path]) -> None:
    settings = Settings(
        temporal_tls_client_cert=pem_files["cert"],
        temporal_tls_client_key=pem_files["key"],
        temporal_tls_ca_cert=pem_files["ca"],
        temporal_tls_server_name="temporal-frontend.temporal.svc",
    )
    tls = temporal_tls_config(settings)
    assert isinstance(tls, TLSConfig)
    assert tls.client_cert == PEM
    assert tls.client_private_key == PEM
    assert tls.server_root_ca_cert == PEM
    assert tls.domain == "temporal-frontend.temporal.svc"


def test_server_name_alone_turns_tls_on() -> None:
    tls = temporal_tls_config(Settings(temporal_tls_server_name="temporal.internal"))
    assert isinstance(tls, TLSConfig)
    assert tls.domain == "temporal.internal"


def test_certificate_without_key_is_one_clear_error(pem_files: dict[str, Path]) -> None:
    with pytest.raises(ConfigurationError, match="go together"):
        temporal_tls_config(Settings(temporal_tls_client_cert=pem_files["cert"]))


def test_unreadable_certificate_names_the_setting(tmp_path: Path) -> None:
    settings = Settings(temporal_tls_ca_cert=tmp_path / "missing.pem")
    with pytest.raises(ConfigurationError, match=r"DUBAN_TEMPORAL_TLS_CA_CERT.*missing\.pem"):
        temporal_tls_config(settings)
