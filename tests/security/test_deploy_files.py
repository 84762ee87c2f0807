"""What can be checked of deploy/ without a container engine: it parses, its doors are shut.

Each Kubernetes workload has a NetworkPolicy of its own behind a default deny, and every
allowed path names its port; Temporal is reached with mTLS settings; no password is
written in the compose file or the init scripts; the runtime processes never get the
schema owner's URL; the example DSN verifies the server; the webhook URL is a secret.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).parents[2] / "deploy"
K8S = DEPLOY / "k8s"


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def manifests() -> list[dict[str, Any]]:
    kustomization = documents(K8S / "kustomization.yaml")[0]
    return [doc for name in kustomization["resources"] for doc in documents(K8S / name)]


def of_kind(kind: str, found: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    return [doc for doc in (found if found is not None else manifests()) if doc["kind"] == kind]


@pytest.mark.parametrize(
    "path", sorted(DEPLOY.rglob("*.yaml")), ids=lambda path: str(path.relative_to(DEPLOY))
)
def test_every_yaml_file_parses(path: Path) -> None:
    assert documents(path)


def test_kustomization_lists_only_files_that_exist() -> None:
    kustomization = documents(K8S / "kustomization.yaml")[0]
    for name in kustomization["resources"]:
        assert (K8S / name).is_file(), name
    assert "networkpolicy.yaml" in kustomization["resources"]
    assert "secret.example.yaml" not in kustomization["resources"]


def _selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    wanted = policy["spec"]["podSelector"].get("matchLabels", {})
    return bool(wanted) and all(labels.get(key) == value for key, value in wanted.items())


def _workloads() -> list[dict[str, Any]]:
    return of_kind("Deployment") + of_kind("Job")


def test_the_namespace_denies_by_default() -> None:
    denies = [
        policy
        for policy in of_kind("NetworkPolicy")
        if policy["spec"]["podSelector"] == {}
        and set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not policy["spec"].get("ingress")
        and not policy["spec"].get("egress")
    ]
    assert len(denies) == 1


@pytest.mark.parametrize("workload", ["duban-api", "duban-worker", "duban-migrate"])
def test_each_workload_has_its_network_policy(workload: str) -> None:
    [found] = [doc for doc in _workloads() if doc["metadata"]["name"] == workload]
    labels = found["spec"]["template"]["metadata"]["labels"]
    policies = [policy for policy in of_kind("NetworkPolicy") if _selects(policy, labels)]
    assert len(policies) == 1, f"{workload}: {[p['metadata']['name'] for p in policies]}"
    assert set(policies[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}


def _ports(policy: dict[str, Any], direction: str) -> set[int]:
    ports: set[int] = set()
    for rule in policy["spec"].get(direction) or []:
        assert rule.get("ports"), f"{policy['metadata']['name']}: a {direction} rule with no port"
        ports.update(port["port"] for port in rule["ports"])
    return ports


def test_each_pod_gets_only_the_ports_it_needs() -> None:
    policies = {policy["metadata"]["name"]: policy for policy in of_kind("NetworkPolicy")}
    assert _ports(policies["duban-api"], "ingress") == {8000}
    assert _ports(policies["duban-api"], "egress") == {53, 5432, 7233}
    assert _ports(policies["duban-worker"], "ingress") == set()
    assert _ports(policies["duban-worker"], "egress") == {53, 443, 5432, 7233}
    assert _ports(policies["duban-migrate"], "ingress") == set()
    assert _ports(policies["duban-migrate"], "egress") == {53, 5432}


def test_the_temporal_frontend_policy_admits_duban_only() -> None:
    [policy] = documents(K8S / "temporal" / "networkpolicy-frontend.yaml")
    assert policy["metadata"]["namespace"] == "temporal"
    assert _ports(policy, "ingress") == {7233}


def _config() -> dict[str, str]:
    [configmap] = of_kind("ConfigMap")
    data: dict[str, str] = configmap["data"]
    return data


def test_temporal_is_reached_with_mutual_tls() -> None:
    config = _config()
    for name in ("CLIENT_CERT", "CLIENT_KEY", "CA_CERT"):
        assert config[f"DUBAN_TEMPORAL_TLS_{name}"].startswith("/etc/duban/temporal-tls/")
    assert config.get("DUBAN_TEMPORAL_TLS") != "false"
    for deployment in of_kind("Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        mounts = {mount["mountPath"] for mount in pod["containers"][0]["volumeMounts"]}
        assert "/etc/duban/temporal-tls" in mounts


def _example_secrets() -> dict[str, dict[str, str]]:
    return {
        secret["metadata"]["name"]: secret["stringData"]
        for secret in documents(K8S / "secret.example.yaml")
    }


def test_secrets_hold_what_is_secret_and_the_dsn_verifies_the_server() -> None:
    secrets = _example_secrets()
    runtime, migration = secrets["duban-secrets"], secrets["duban-migration"]
    assert "sslmode=verify-full" in runtime["DUBAN_DATABASE_URL"]
    assert "sslmode=verify-full" in migration["DUBAN_MIGRATION_DATABASE_URL"]
    assert runtime["DUBAN_DATABASE_URL"].startswith("postgresql://duban_app:")
    assert migration["DUBAN_MIGRATION_DATABASE_URL"].startswith("postgresql://duban_owner:")
    assert "DUBAN_NOTIFY_WEBHOOK_URL" in runtime
    assert "DUBAN_PAYLOAD_KEYS" in runtime
    secret_names = {"DUBAN_NOTIFY_WEBHOOK_URL", "DUBAN_DATABASE_URL", "DUBAN_PAYLOAD_KEYS"}
    assert not secret_names & set(_config())


def _secret_refs(workload: dict[str, Any]) -> set[str]:
    container = workload["spec"]["template"]["spec"]["containers"][0]
    return {ref["secretRef"]["name"] for ref in container["envFrom"] if "secretRef" in ref}


def test_only_the_migrate_job_gets_the_owner_role() -> None:
    for workload in _workloads():
        refs = _secret_refs(workload)
        is_job = workload["kind"] == "Job"
        assert ("duban-migration" in refs) == is_job, workload["metadata"]["name"]
        assert "duban-secrets" in refs


# ---------------------------------------------------------------- compose

_LITERAL_DSN_PASSWORD = re.compile(r"://[^:/@\s]+:(?!\$\{)[^@\s]+@")
_REQUIRED = re.compile(r"^\$\{[A-Z_]+:\?[^}]*\}$")


def _compose() -> dict[str, Any]:
    [compose] = documents(DEPLOY / "compose.yaml")
    return compose


def _environments(compose: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {name: service.get("environment", {}) for name, service in compose["services"].items()}


def test_compose_writes_no_password() -> None:
    for service, environment in _environments(_compose()).items():
        for name, value in environment.items():
            if re.search(r"PASSWORD|PWD", name) and not name.endswith("_FILE"):
                assert _REQUIRED.match(str(value)), f"{service}: {name} is written in the file"
            assert not _LITERAL_DSN_PASSWORD.search(str(value)), f"{service}: {name}"
    for path in (DEPLOY / "postgres").rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"PASSWORD\s+'", text, re.IGNORECASE), path


def test_compose_passwords_are_required_from_the_environment() -> None:
    compose = _compose()
    environments = _environments(compose)
    for variable in ("DUBAN_APP_DB_PASSWORD", "TEMPORAL_DB_PASSWORD", "DUBAN_PAYLOAD_KEYS"):
        assert f"${{{variable}:?" in (DEPLOY / "compose.yaml").read_text(), variable
    secrets = compose["secrets"]
    assert {secret["environment"] for secret in secrets.values()} == {
        "POSTGRES_SUPERUSER_PASSWORD",
        "TEMPORAL_DB_PASSWORD",
        "DUBAN_OWNER_DB_PASSWORD",
        "DUBAN_APP_DB_PASSWORD",
    }
    postgres = environments["postgresql"]
    secret_file = "/run/secrets/postgres_superuser_password"  # noqa: S105 - a path
    assert postgres["POSTGRES_PASSWORD_FILE"] == secret_file


def test_temporal_and_duban_do_not_log_in_as_the_superuser() -> None:
    environments = _environments(_compose())
    superuser = environments["postgresql"]["POSTGRES_USER"]
    assert environments["temporal"]["POSTGRES_USER"] == "temporal" != superuser
    assert environments["temporal-schema"]["POSTGRES_USER"] == "temporal"
    runtime = environments["duban-api"]["DUBAN_DATABASE_URL"]
    owner = environments["duban-migrate"]["DUBAN_MIGRATION_DATABASE_URL"]
    assert runtime.startswith("postgresql://duban_app:")
    assert owner.startswith("postgresql://duban_owner:")
    assert "DUBAN_MIGRATION_DATABASE_URL" not in environments["duban-worker"]
    assert "DUBAN_MIGRATION_DATABASE_URL" not in environments["duban-api"]
