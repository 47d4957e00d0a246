"""``manage.py lookup ASIN [--marketplace DE] [--provider keepa] [--json]``: an operator's tool.

Fetches one product through the provider chain and prints the normalised
record. ``manage.py lookup --code 4006381333931`` instead finds the products
carrying a barcode (EAN-13, EAN-8, UPC-A, ISBN-10, ISBN-13) and prints each.
Nothing is charged and nothing is cached. Exit status: 0 found, 2 invalid
input, 3 not found, 4 no provider could deliver.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import DomainError
from products.marketplaces import DEFAULT_MARKETPLACE, marketplace_get
from products.providers import (
    ProductNotFound,
    ProductRecord,
    ProviderError,
    fetch_one_with_fallback,
    search_by_code_with_fallback,
)
from products.providers.base import product_code_not_found
from products.validation import normalize_asin, normalize_product_code

EXIT_INVALID = 2
EXIT_NOT_FOUND = 3
EXIT_UNAVAILABLE = 4


class Command(BaseCommand):
    help = "Look up a product by ASIN through the product data providers and print it (not charged)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("asin", nargs="?", help="the ASIN (10 letters and digits; any case)")
        parser.add_argument(
            "--code", "-c", help="a barcode (EAN-13, EAN-8, UPC-A, ISBN-10, ISBN-13) instead of an ASIN"
        )
        parser.add_argument(
            "--marketplace", "-m", default=DEFAULT_MARKETPLACE, help="marketplace code (default US)"
        )
        parser.add_argument(
            "--provider",
            "-p",
            action="append",
            help="provider to use instead of PRODUCT_PROVIDERS; repeat (or separate with commas) "
            "for a fallback chain",
        )
        parser.add_argument("--json", action="store_true", help="print the record as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        providers = [
            name.strip() for value in options["provider"] or () for name in value.split(",") if name.strip()
        ]
        if (options["asin"] is None) == (options["code"] is None):
            raise CommandError("Give either an ASIN or --code BARCODE.", returncode=EXIT_INVALID)
        try:
            marketplace = marketplace_get(options["marketplace"])
            if options["code"] is not None:
                code = normalize_product_code(options["code"])
                found = search_by_code_with_fallback(code, marketplace, providers=providers or None)
                if not found.records:
                    raise product_code_not_found(code, marketplace, provider=found.provider)
                records = found.records
            else:
                asin = normalize_asin(options["asin"])
                records = [fetch_one_with_fallback(asin, marketplace, providers=providers or None)]
        except ProductNotFound as exc:
            raise CommandError(exc.message, returncode=EXIT_NOT_FOUND) from None
        except ProviderError as exc:
            raise CommandError(_failure_message(exc), returncode=EXIT_UNAVAILABLE) from None
        except DomainError as exc:
            raise CommandError(exc.message, returncode=EXIT_INVALID) from None

        if options["json"]:
            data = [record.to_dict() for record in records]
            shown = data if options["code"] is not None else data[0]
            self.stdout.write(json.dumps(shown, indent=2, ensure_ascii=False))
        else:
            self.stdout.write("\n\n".join(_summary(record) for record in records))
        if any(record.sample_data for record in records):
            self.stderr.write("Note: SAMPLE DATA from the sandbox provider, not real Amazon data.")


def _failure_message(exc: ProviderError) -> str:
    lines = [exc.message]
    for failure in exc.extra.get("providers", ()):
        lines.append(f"  {failure['provider']}: {failure['message']} ({failure['code']})")
    if exc.retry_after is not None:
        lines.append(f"Retry after {exc.retry_after:.0f}s.")
    return "\n".join(lines)


def _summary(record: ProductRecord) -> str:
    def show(value: object) -> str:
        return "-" if value is None or value == () else str(value)

    lines = [
        f"{record.asin} in {record.marketplace}, from {record.provider} "
        f"at {record.fetched_at:%Y-%m-%d %H:%M:%S} UTC" + ("  [SAMPLE DATA]" if record.sample_data else ""),
        f"Title:         {show(record.title)}",
        f"Brand:         {show(record.brand)}   Manufacturer: {show(record.manufacturer)}",
        f"Category:      {' > '.join(c.name for c in record.categories) or '-'}",
        f"Price:         {show(record.price)}   List price: {show(record.list_price)}",
    ]
    if record.buy_box:
        box = record.buy_box
        fulfilment = {True: "FBA", False: "merchant", None: "fulfilment unknown"}[box.is_fba]
        lines.append(
            f"Buy box:       {box.price} + {show(box.shipping)} shipping, "
            f"seller {show(box.seller_id)} ({fulfilment})"
        )
    if record.sales_rank:
        lines.append(f"Sales rank:    #{record.sales_rank.rank} in {show(record.sales_rank.category)}")
    if (velocity := record.sales_velocity) is not None:
        if velocity.unavailable:
            lines.append(f"Sold last month: {velocity.unavailable}")
        else:
            sold = f"{velocity.monthly_sold:,}+" if velocity.monthly_sold else "-"
            lines.append(
                f"Sold last month: {sold} ({velocity.source})   "
                f"Rank drops 30 d / 90 d: {show(velocity.drops(30))} / {show(velocity.drops(90))}"
            )
    if record.offers:
        lines.append(
            f"Offers:        {show(record.offers.new)} new, {show(record.offers.used)} used, "
            f"{show(record.offers.total)} in all"
        )
    if record.rating is not None:
        lines.append(f"Rating:        {record.rating} ({show(record.review_count)} reviews)")
    lines.append(f"Images:        {len(record.images)}   History series: {len(record.history)}")
    return "\n".join(lines)
