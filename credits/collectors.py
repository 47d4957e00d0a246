"""Credits' scrape-time gauges for /metrics, registered with monitoring from CreditsConfig.ready().

``reconciliation``: accounts whose balance differs from their ledger (shared for
``METRICS_RECONCILIATION_TTL`` seconds).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric

from monitoring.registry import register_collector


def reconciliation() -> dict[str, int]:
    from credits.selectors import accounts_out_of_balance

    out = accounts_out_of_balance()
    return {"accounts": len(out), "difference": sum(abs(a.difference) for a in out)}


def reconciliation_families(recon: dict[str, int]) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "apip_credits_accounts_out_of_balance",
        "Credit accounts whose balance differs from their ledger entries' sum (or is negative).",
        value=recon["accounts"],
    )
    yield GaugeMetricFamily(
        "apip_credits_reconciliation_difference",
        "Sum over those accounts of |balance - sum of ledger entries|, in credits.",
        value=recon["difference"],
    )


def register() -> None:
    register_collector(
        "reconciliation",
        reconciliation,
        reconciliation_families,
        metric_names=["apip_credits_accounts_out_of_balance", "apip_credits_reconciliation_difference"],
        ttl_setting="METRICS_RECONCILIATION_TTL",
    )
