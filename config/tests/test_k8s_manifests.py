"""deploy/k8s: valid against the Kubernetes JSON schemas (offline, kubernetes-validate) and
consistent with the application it runs: probes answer, selectors match, every setting is set."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import time
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from django.test import override_settings
from django.urls import resolve

from config.envvars import settings_env_vars
from monitoring import health, metrics_view

BASE_DIR = Path(__file__).resolve().parents[2]
K8S_DIR = BASE_DIR / "deploy" / "k8s"
SECRET_EXAMPLE = K8S_DIR / "secret.example.yaml"
# The oldest Kubernetes release the manifests support, and the newest the schemas know.
K8S_VERSIONS = ["1.29", kubernetes_validate.utils.latest_version()]

# What production cannot do without (or would silently do wrong without).
REQUIRED_IN_PRODUCTION = {
    "DEBUG",
    "SECRET_KEY",
    "SECRET_KEY_FALLBACKS",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "EMAIL_URL",
    "DEFAULT_FROM_EMAIL",
    "SITE_URL",
    "METRICS_TOKEN",
    "PRODUCT_PROVIDERS",
    "KEEPA_API_KEY",
    "SPAPI_CLIENT_ID",
    "SPAPI_CLIENT_SECRET",
    "SPAPI_REFRESH_TOKEN",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "CONVERSION_TOKEN_KEYS",
    "LOG_FORMAT",
    "WEB_CONCURRENCY",
}
# Never in a ConfigMap: credentials, or URLs that carry them.
SECRET_VARIABLES = {
    "SECRET_KEY",
    "SECRET_KEY_FALLBACKS",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "EMAIL_URL",
    "METRICS_TOKEN",
    "KEEPA_API_KEY",
    "SPAPI_CLIENT_ID",
    "SPAPI_CLIENT_SECRET",
    "SPAPI_REFRESH_TOKEN",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "CONVERSION_TOKEN_KEYS",
}


def load_all(path: Path) -> list[dict[str, Any]]:
    # Through JSON: YAML aliases (&labels) load as one shared object, which a change would alter everywhere.
    return [json.loads(json.dumps(doc)) for doc in yaml.safe_load_all(path.read_text()) if doc]


@cache
def kustomization() -> dict[str, Any]:
    return yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())


@cache
def _rendered() -> list[dict[str, Any]]:
    """What `kubectl apply -k` sends, by the transforms kustomization.yaml uses (namespace, labels, images).

    test_kubectl_kustomize_renders_the_same checks this against kustomize itself where kubectl exists.
    """
    config = kustomization()
    images = {image["name"]: f"{image['newName']}:{image['newTag']}" for image in config["images"]}
    labels: dict[str, str] = {}
    for entry in config.get("labels", []):
        labels.update(entry["pairs"])
        assert not entry.get("includeSelectors"), "selectors are immutable: keep added labels out of them"
    resources = []
    for name in config["resources"]:
        for doc in load_all(K8S_DIR / name):
            if doc["kind"] != "Namespace":
                doc["metadata"]["namespace"] = config["namespace"]
            doc["metadata"].setdefault("labels", {}).update(labels)
            template = doc.get("spec", {}).get("template")
            if template:
                template["metadata"].setdefault("labels", {}).update(labels)
                for container in pod_containers(template["spec"]):
                    container["image"] = images.get(container["image"], container["image"])
            resources.append(doc)
    return resources


def rendered() -> list[dict[str, Any]]:
    return copy.deepcopy(_rendered())


def pod_containers(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    return pod_spec.get("initContainers", []) + pod_spec["containers"]


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in rendered() if doc["kind"] == kind}


def deployments() -> dict[str, dict[str, Any]]:
    return of_kind("Deployment")


def workloads() -> list[dict[str, Any]]:
    """Everything that runs the platform's image: the Deployments and the migration Job."""
    return list(deployments().values()) + list(of_kind("Job").values())


def container(deployment: str, name: str) -> dict[str, Any]:
    spec = deployments()[deployment]["spec"]["template"]["spec"]
    return next(c for c in pod_containers(spec) if c["name"] == name)


def configmap_data() -> dict[str, str]:
    return of_kind("ConfigMap")["apip-config"]["data"]


def secret_example() -> dict[str, Any]:
    (secret,) = load_all(SECRET_EXAMPLE)
    return secret


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def container_env(c: dict[str, Any], pod_ip: str = "10.1.2.3") -> dict[str, str]:
    """The environment kubelet gives the container: envFrom first, then env in order with $(VAR) expanded."""
    env: dict[str, str] = {}
    for source in c.get("envFrom", []):
        if "configMapRef" in source:
            env.update(of_kind("ConfigMap")[source["configMapRef"]["name"]]["data"])
        if "secretRef" in source:
            assert source["secretRef"]["name"] == secret_example()["metadata"]["name"]
            env.update(secret_example()["stringData"])
    for entry in c.get("env", []):
        if "value" in entry:
            env[entry["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env.get(m[1], m[0]), entry["value"])
        elif entry["valueFrom"].get("fieldRef", {}).get("fieldPath") == "status.podIP":
            env[entry["name"]] = pod_ip
        else:
            env[entry["name"]] = "<from the cluster>"
    return env


def gunicorn_env_vars() -> set[str]:
    source = (BASE_DIR / "deploy" / "gunicorn.conf.py").read_text()
    return set(re.findall(r'os\.environ\.get\("(\w+)"', source))


# --- Schemas -------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_manifest_validates_against_the_kubernetes_schemas(version):
    documents = [*rendered(), secret_example()]
    kinds = {doc["kind"] for doc in documents}
    assert {
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "Secret",
        "Deployment",
        "Job",
        "Service",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    } <= kinds

    for doc in documents:
        # strict: an unknown or misspelt field fails instead of being ignored by the API server.
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_rejects_a_broken_manifest():
    web = deployments()["apip-web"]
    web["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["prot"] = 8000
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(web, K8S_VERSIONS[-1], strict=True)
    web = deployments()["apip-web"]
    web["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(web, K8S_VERSIONS[-1], strict=True)


def test_kustomization_lists_every_manifest_but_the_secret_example():
    listed = set(kustomization()["resources"])
    on_disk = {path.name for path in K8S_DIR.glob("*.yaml")} - {"kustomization.yaml"}

    assert listed == on_disk - {SECRET_EXAMPLE.name}
    assert kustomization()["kind"] == "Kustomization"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with kustomize) is not installed")
def test_kubectl_kustomize_renders_the_same():
    output = subprocess.run(
        ["kubectl", "kustomize", str(K8S_DIR)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    built = [doc for doc in yaml.safe_load_all(output) if doc]

    def key(doc: dict[str, Any]) -> tuple[str, str]:
        return doc["kind"], doc["metadata"]["name"]

    assert sorted(map(key, built)) == sorted(map(key, rendered()))
    ours = {key(doc): doc for doc in rendered()}
    for doc in built:
        assert doc == ours[key(doc)], f"{key(doc)} differs from kustomize's rendering"


# --- Workloads -----------------------------------------------------------------------------------


def test_web_worker_and_beat_run_the_right_processes_from_one_image():
    web, worker, beat = (container(f"apip-{n}", n) for n in ("web", "worker", "beat"))

    assert web["command"][:2] == ["gunicorn", "config.wsgi:application"]
    assert worker["command"][:4] == ["celery", "-A", "config", "worker"]
    assert beat["command"][:4] == ["celery", "-A", "config", "beat"]
    (job,) = of_kind("Job").values()
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == [
        "python",
        "manage.py",
        "migrate",
        "--noinput",
    ]
    images = {c["image"] for w in workloads() for c in pod_containers(w["spec"]["template"]["spec"])}
    (image,) = kustomization()["images"]
    assert images == {f"{image['newName']}:{image['newTag']}"}


def test_beat_is_a_singleton_and_is_never_scaled_or_rolled_side_by_side():
    beat = deployments()["apip-beat"]

    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    targets = {hpa["spec"]["scaleTargetRef"]["name"] for hpa in of_kind("HorizontalPodAutoscaler").values()}
    assert "apip-beat" not in targets
    for name in ("apip-web", "apip-worker"):
        assert deployments()[name]["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_deployment_selectors_match_their_own_pods_and_no_other():
    for name, deployment in deployments().items():
        selector = deployment["spec"]["selector"]["matchLabels"]
        for other_name, other in deployments().items():
            labels = other["spec"]["template"]["metadata"]["labels"]
            assert selects(selector, labels) == (other_name == name), (name, other_name)


def test_new_pods_wait_for_the_migration_job():
    for name, deployment in deployments().items():
        (init,) = deployment["spec"]["template"]["spec"]["initContainers"]
        assert "manage.py migrate --check" in " ".join(init["command"]), name
    (job,) = of_kind("Job").values()
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] >= 1


def test_every_container_is_non_root_read_only_without_capabilities_and_sized():
    # The namespace enforces the "restricted" Pod Security Standard: these are its demands.
    (namespace,) = of_kind("Namespace").values()
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for workload in workloads():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] != 0
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        writable = {volume["name"] for volume in pod["volumes"] if "emptyDir" in volume}
        for c in pod_containers(pod):
            where = f"{workload['metadata']['name']}/{c['name']}"
            security = c["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][kind]), where
            # The only places the platform writes: temporary files and VAR_DIR (beat's schedule).
            mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
            assert mounts.keys() >= {"/tmp", container_env(c)["VAR_DIR"]}, where
            assert set(mounts.values()) <= writable, where


# --- Probes ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_web_probes_reach_the_health_views_and_answer_200_as_kubelet_calls_them(client):
    web = container("apip-web", "web")
    ports = {port["name"]: port["containerPort"] for port in web["ports"]}
    env = container_env(web, pod_ip="10.1.2.3")
    probes = {
        "startupProbe": health.liveness,
        "livenessProbe": health.liveness,
        "readinessProbe": health.readiness,
    }
    assert web["livenessProbe"]["httpGet"]["path"] == "/health"
    assert web["readinessProbe"]["httpGet"]["path"] == "/health/ready"

    for probe, view in probes.items():
        get = web[probe]["httpGet"]
        assert resolve(get["path"]).func is view, probe
        port = ports[get["port"]] if isinstance(get["port"], str) else get["port"]
        # kubelet sends Host: <pod IP>:<port> over plain HTTP, to a pod with production's settings.
        with override_settings(
            ALLOWED_HOSTS=env["ALLOWED_HOSTS"].split(","), SECURE_SSL_REDIRECT=True, DEBUG=False
        ):
            response = client.get(get["path"], HTTP_HOST=f"10.1.2.3:{port}")
        assert response.status_code == 200, (probe, response.status_code, response.content[:300])


def test_pods_answer_to_their_ip_and_the_public_hosts():
    env = container_env(container("apip-web", "web"), pod_ip="10.1.2.3")
    hosts = env["ALLOWED_HOSTS"].split(",")

    assert "10.1.2.3" in hosts
    assert set(configmap_data()["ALLOWED_HOSTS"].split(",")) <= set(hosts)


def test_worker_liveness_pings_its_own_node_over_the_broker():
    command = " ".join(container("apip-worker", "worker")["livenessProbe"]["exec"]["command"])

    assert "celery -A config inspect ping" in command
    assert "celery@$HOSTNAME" in command


def test_beat_liveness_passes_on_a_fresh_schedule_and_fails_on_a_stale_one(tmp_path):
    beat = container("apip-beat", "beat")
    schedule = beat["command"][beat["command"].index("--schedule") + 1]
    probe = beat["livenessProbe"]["exec"]["command"]
    assert probe[:2] == ["python", "-c"]
    assert schedule in probe[2]
    code = probe[2].replace(schedule, str(tmp_path / "celerybeat-schedule"))

    def probe_exit() -> int:
        return subprocess.run([sys.executable, "-c", code], timeout=30).returncode

    assert probe_exit() != 0  # no schedule yet: beat never started
    (tmp_path / "celerybeat-schedule").write_bytes(b"x")
    assert probe_exit() == 0
    stale = time.time() - 3600
    os.utime(tmp_path / "celerybeat-schedule", (stale, stale))
    assert probe_exit() != 0


def test_prometheus_annotations_point_at_served_metrics():
    for name in ("apip-web", "apip-worker"):
        template = deployments()[name]["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        main = template["spec"]["containers"][0]
        assert annotations["prometheus.io/scrape"] == "true"
        assert int(annotations["prometheus.io/port"]) in {p["containerPort"] for p in main["ports"]}
        assert annotations["prometheus.io/path"] == "/metrics"
    assert resolve("/metrics").func is metrics_view.metrics
    worker = container("apip-worker", "worker")
    assert container_env(worker)["CELERY_METRICS_PORT"] == "9808"


# --- Service, Ingress, autoscaling, disruption budgets ---------------------------------------------


def test_service_selects_the_web_pods_only_and_targets_their_port():
    (service,) = of_kind("Service").values()
    selector = service["spec"]["selector"]

    selected = [
        name
        for name, d in deployments().items()
        if selects(selector, d["spec"]["template"]["metadata"]["labels"])
    ]
    assert selected == ["apip-web"]
    web_ports = {p["name"] for p in container("apip-web", "web")["ports"]}
    for port in service["spec"]["ports"]:
        assert port["targetPort"] in web_ports


def test_ingress_serves_the_configured_host_over_tls_through_the_service():
    (ingress,) = of_kind("Ingress").values()
    (service,) = of_kind("Service").values()
    config = configmap_data()

    tls_hosts = {host for tls in ingress["spec"]["tls"] for host in tls["hosts"]}
    for rule in ingress["spec"]["rules"]:
        assert rule["host"] in tls_hosts
        assert rule["host"] in config["ALLOWED_HOSTS"].split(",")
        assert f"https://{rule['host']}" in config["CSRF_TRUSTED_ORIGINS"].split(",")
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == service["metadata"]["name"]
            assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}


def test_autoscalers_target_existing_deployments_with_cpu_requests():
    hpas = of_kind("HorizontalPodAutoscaler")

    assert {hpa["spec"]["scaleTargetRef"]["name"] for hpa in hpas.values()} == {"apip-web", "apip-worker"}
    for hpa in hpas.values():
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
        deployment = deployments()[target["name"]]
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        assert hpa["spec"]["minReplicas"] <= deployment["spec"]["replicas"] <= hpa["spec"]["maxReplicas"]
        # Utilization is a share of the request: without one the HPA cannot compute it.
        for c in deployment["spec"]["template"]["spec"]["containers"]:
            assert "cpu" in c["resources"]["requests"]


def test_disruption_budgets_select_existing_pods_and_leave_room_to_drain():
    budgets = of_kind("PodDisruptionBudget")
    hpa_min = {
        h["spec"]["scaleTargetRef"]["name"]: h["spec"]["minReplicas"]
        for h in of_kind("HorizontalPodAutoscaler").values()
    }

    covered = set()
    for budget in budgets.values():
        selector = budget["spec"]["selector"]["matchLabels"]
        matched = [
            name
            for name, d in deployments().items()
            if selects(selector, d["spec"]["template"]["metadata"]["labels"])
        ]
        assert len(matched) == 1, (budget["metadata"]["name"], matched)
        (name,) = matched
        covered.add(name)
        # At least one pod may always be evicted, or a node drain would hang.
        assert budget["spec"]["minAvailable"] < min(deployments()[name]["spec"]["replicas"], hpa_min[name])
    assert covered == {"apip-web", "apip-worker"}


# --- Configuration ---------------------------------------------------------------------------------


def test_every_process_gets_every_setting_production_needs():
    for workload in workloads():
        for c in pod_containers(workload["spec"]["template"]["spec"]):
            env = container_env(c)
            missing = REQUIRED_IN_PRODUCTION - set(env)
            assert not missing, f"{workload['metadata']['name']}/{c['name']} lacks {sorted(missing)}"
            assert env["DEBUG"] == "0"


def test_secrets_are_only_in_the_secret_and_the_secret_is_only_an_example():
    assert not SECRET_VARIABLES & set(configmap_data())
    secret = secret_example()
    assert set(secret["stringData"]) == SECRET_VARIABLES
    for key, value in secret["stringData"].items():
        assert value == "" or "CHANGE-ME" in value, f"{key} has a real-looking value"
    assert SECRET_EXAMPLE.name not in kustomization()["resources"]
    for workload in workloads():
        for c in pod_containers(workload["spec"]["template"]["spec"]):
            refs = [s["secretRef"]["name"] for s in c["envFrom"] if "secretRef" in s]
            assert refs == [secret["metadata"]["name"]]


def test_every_process_restricts_metrics_and_sends_real_email():
    # Production refuses to start otherwise; these would be the opt-outs, never taken here.
    for workload in workloads():
        for c in pod_containers(workload["spec"]["template"]["spec"]):
            where = f"{workload['metadata']['name']}/{c['name']}"
            env = container_env(c)
            assert env["METRICS_TOKEN"], where
            assert env.get("METRICS_PUBLIC", "0") == "0", where
            assert env.get("EMAIL_ALLOW_INSECURE_BACKEND", "0") == "0", where
            assert env["EMAIL_URL"].partition("://")[0] in {"smtp", "smtps", "smtp+tls", "smtp+ssl"}, where
    # The token and the mail password come from the Secret, never the ConfigMap.
    assert {"METRICS_TOKEN", "EMAIL_URL"} <= set(secret_example()["stringData"])


def test_manifests_set_only_variables_the_platform_reads():
    known = {var.name for var in settings_env_vars()} | gunicorn_env_vars()
    assert {"SECRET_KEY", "DATABASE_URL", "WEB_CONCURRENCY"} <= known

    set_somewhere = set(configmap_data()) | set(secret_example()["stringData"])
    for workload in workloads():
        for c in pod_containers(workload["spec"]["template"]["spec"]):
            set_somewhere |= {entry["name"] for entry in c.get("env", [])}
    unknown = set_somewhere - known - {"POD_IP"}
    assert not unknown, f"set but never read: {sorted(unknown)}"


def test_the_platform_starts_with_the_manifests_configuration(tmp_path):
    """Django's security deployment checks pass on the ConfigMap plus a filled-in Secret (DEBUG=0)."""
    env = container_env(container("apip-web", "web"))
    env.update(
        SECRET_KEY="k8s-test-" + "x7Q" * 20,
        VAR_DIR=str(tmp_path),
        PATH=os.environ["PATH"],
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--tag", "security", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
