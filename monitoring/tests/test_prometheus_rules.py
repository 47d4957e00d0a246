"""deploy/prometheus and deploy/grafana: valid for promtool, tested rules, and only series that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import django_prometheus.cache.metrics
import django_prometheus.db.metrics
import django_prometheus.middleware  # noqa: F401 - registers the request series
import prometheus_client
import pytest
import yaml

from monitoring.metrics import platform_metric_names
from monitoring.tests.promtool import promtool

BASE_DIR = Path(__file__).resolve().parents[2]
PROMETHEUS = BASE_DIR / "deploy" / "prometheus"
DASHBOARD = BASE_DIR / "deploy" / "grafana" / "platform-dashboard.json"

# PromQL words that look like series names.
PROMQL_WORDS = {
    "sum", "max", "min", "avg", "count", "by", "without", "rate", "increase", "delta", "deriv", "irate",
    "histogram_quantile", "and", "or", "unless", "vector", "absent", "on", "ignoring", "group_left",
    "group_right", "offset", "bool", "topk", "bottomk", "le", "time", "clamp_min", "clamp_max",
    "humanizePercentage", "humanizeDuration", "labels",
}  # fmt: skip


def scrape_configs() -> list[dict]:
    return yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())["scrape_configs"]


def known_series() -> set[str]:
    from django_prometheus.middleware import Metrics

    Metrics.get_instance()  # django-prometheus creates its request series on first use
    django_names = set(prometheus_client.REGISTRY._names_to_collectors)
    return django_names | platform_metric_names() | {"up"}


def series_in(expr: str) -> set[str]:
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_labels = re.sub(r"\{[^}]*\}", "", without_strings)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_labels)
    grouping = r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"
    without_ranges = re.sub(grouping, "", without_ranges)
    words = set(re.findall(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b", without_ranges))
    return {word for word in words if word not in PROMQL_WORDS and not re.fullmatch(r"\d.*", word)}


def test_alert_rules_pass_promtool_check():
    result = promtool("check", "rules", str(PROMETHEUS / "alerts.yml"))

    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_unit_tests_pass():
    result = promtool("test", "rules", str(PROMETHEUS / "alerts_test.yml"))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_tested_firing_and_quiet():
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
    firing, quiet = set(), set()
    for test in tests:
        for case in test["alert_rule_test"]:
            (firing if case["exp_alerts"] else quiet).add(case["alertname"])

    assert firing == alerts
    assert quiet == alerts
    required = {
        "ApipHighErrorRate", "ApipHighLatencyP95", "ApipLowCacheHitRatio", "ApipUpstreamErrors",
        "ApipCircuitOpen", "ApipBulkBacklogGrowing", "ApipWorkersDown", "ApipWebhookFailures",
        "ApipCreditsReconciliationDifference",
    }  # fmt: skip
    assert required <= alerts


def test_alert_rules_use_only_series_the_platform_exports():
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    known = known_series()

    for group in rules["groups"]:
        for rule in group["rules"]:
            assert series_in(rule["expr"]) <= known, (rule["alert"], series_in(rule["expr"]) - known)


def test_scrape_config_passes_promtool(tmp_path):
    token = tmp_path / "metrics-token"
    token.write_text("a-scrape-token")
    config = (PROMETHEUS / "prometheus.yml").read_text()
    config = config.replace("/etc/prometheus/secrets/metrics-token", str(token))
    (tmp_path / "prometheus.yml").write_text(config)
    (tmp_path / "alerts.yml").write_text((PROMETHEUS / "alerts.yml").read_text())

    result = promtool("check", "config", str(tmp_path / "prometheus.yml"))

    assert result.returncode == 0, result.stdout + result.stderr
    jobs = {job["job_name"] for job in yaml.safe_load(config)["scrape_configs"]}
    assert {"apip-web", "apip-worker"} <= jobs


@pytest.mark.django_db
def test_the_web_job_sends_the_metrics_token_the_platform_requires(tmp_path, client, settings):
    (web,) = [job for job in scrape_configs() if job["job_name"] == "apip-web"]
    authorization = web["authorization"]
    assert authorization.get("type", "Bearer") == "Bearer"
    assert authorization["credentials_file"].startswith("/etc/prometheus/secrets/")
    # What Prometheus sends: the file's content, surrounding whitespace trimmed.
    token_file = tmp_path / "metrics-token"
    token_file.write_text("a-scrape-token-0123456789\n")
    settings.METRICS_TOKEN = "a-scrape-token-0123456789"
    settings.METRICS_ALLOWED_NETWORKS = []
    sent = f"{authorization.get('type', 'Bearer')} {token_file.read_text().strip()}"

    assert client.get(web["metrics_path"], headers={"Authorization": sent}).status_code == 200
    assert client.get(web["metrics_path"]).status_code == 403


def test_grafana_dashboard_panels_query_series_that_exist():
    dashboard = json.loads(DASHBOARD.read_text())
    known = known_series()
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    queried: set[str] = set()

    assert len(panels) >= 20
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = series_in(target["expr"])
            assert names, (panel["title"], target["expr"])
            assert names <= known, (panel["title"], names - known)
            queried |= names
    # The key series each have a panel.
    for name in (
        "apip_lookups_total",
        "products_upstream_requests_total",
        "apip_provider_circuit_state",
        "apip_credits_total",
        "apip_webhook_events_total",
        "apip_bulk_backlog_items",
        "apip_fnsku_conversions",
        "apip_celery_tasks_total",
        "apip_ratelimit_wait_seconds_bucket",
        "django_db_execute_total",
        "django_cache_get_hits_total",
    ):
        assert name in queried, name
