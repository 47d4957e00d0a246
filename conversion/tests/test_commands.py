"""``manage.py import_fnsku_mappings``: an inventory report imported from the shell, as from the page."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from conversion.models import FnskuMapping
from credits.tests.factories import funded_user

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("import_fnsku_mappings", *args, stdout=out)
    return out.getvalue()


def test_a_report_is_imported_for_the_user_and_its_bad_lines_are_named(tmp_path: Path):
    user = funded_user(credits=0, user__email="seller@example.com")
    report = tmp_path / "report.txt"
    report.write_bytes(
        b"sku\tfnsku\tasin\n"
        b"SKU-1\tX001REPORT\tB0TESTKEEP\n"
        b"SKU-2\tX001-BAD\tB07N4M94X4\n"
        b"SKU-3\tX001REPORT\tB0TESTKEEP\n"
    )

    printed = run(str(report), "--user", "SELLER@example.com", "--marketplace", "DE")

    assert printed.splitlines()[0] == "3 rows: 1 new, 0 updated, 1 skipped, 1 repeated"
    assert "line 3:" in printed
    assert "exactly 10 characters" in printed
    mapping = FnskuMapping.objects.get(user=user, fnsku="X001REPORT")
    assert (mapping.asin, mapping.marketplace, mapping.seller_sku) == ("B0TESTKEEP", "DE", "SKU-3")


def test_an_unknown_user_a_missing_file_and_an_unusable_report_are_clear_errors(tmp_path: Path):
    funded_user(credits=0, user__email="seller@example.com")
    unusable = tmp_path / "no-fnsku.csv"
    unusable.write_bytes(b"sku,asin\nSKU-1,B0TESTKEEP\n")

    with pytest.raises(CommandError, match=r"No user with email 'nobody@example\.com'"):
        run(str(unusable), "--user", "nobody@example.com")
    with pytest.raises(CommandError, match=r"Cannot read .*missing\.csv"):
        run(str(tmp_path / "missing.csv"), "--user", "seller@example.com")
    with pytest.raises(CommandError, match="fnsku"):
        run(str(unusable), "--user", "seller@example.com")
    assert not FnskuMapping.objects.exists()
