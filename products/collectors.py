"""Products' scrape-time gauges for /metrics, registered with monitoring from ProductsConfig.ready().

- ``circuits``: each configured provider's circuit breaker (read from Redis on every scrape).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from monitoring.registry import register_collector, register_readiness_report


def circuit_states() -> dict[str, str]:
    from products.providers import provider_status

    return {name: str(status["circuit"]) for name, status in provider_status().items()}


def circuit_families(circuits: dict[str, str]) -> Iterator[Metric]:
    family = GaugeMetricFamily(
        "apip_provider_circuit_state",
        "Circuit breaker of each configured provider: 1 for its state (closed, open, half_open).",
        labels=["provider", "state"],
    )
    for provider, current in sorted(circuits.items()):
        for state in ("closed", "open", "half_open"):
            family.add_metric([provider, state], 1 if current == state else 0)
    yield family


def provider_circuits() -> dict[str, dict[str, object]]:
    """/health/ready's ``providers``: each configured provider's circuit (closed, open, half_open).

    Informational only: with a provider's circuit open the platform still serves
    cached and stored products and falls back to the next provider.
    """
    from products import conf
    from products.providers import provider_status

    try:
        return {
            name: {"circuit": status["circuit"], "configured": status["configured"]}
            for name, status in provider_status().items()
        }
    except Exception as exc:  # Redis down: the cache check already fails readiness
        error = f"{type(exc).__name__}: {exc}"
        return {name: {"circuit": "unknown", "error": error} for name in conf.product_providers()}


def register() -> None:
    register_collector(
        "circuits", circuit_states, circuit_families, metric_names=["apip_provider_circuit_state"]
    )
    register_readiness_report("providers", provider_circuits)
