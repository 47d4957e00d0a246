import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from products.tests.conftest import KEEPA_PRODUCT_URL, load_fixture

REPO = Path(__file__).resolve().parents[2]


def lookup(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("lookup", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_lookup(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "lookup", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_json_output_is_the_normalised_record():
    out, err = lookup(" b08n5wrwnw ", "--marketplace", "de", "--json")

    record = json.loads(out)
    assert record["asin"] == "B08N5WRWNW"
    assert record["marketplace"] == "DE"
    assert record["provider"] == "sandbox"
    assert record["sample_data"] is True
    assert record["price"]["currency"] == "EUR"
    assert "SAMPLE DATA" in err


def test_keepa_provider_json(keepa_settings, rsps):
    rsps.get(KEEPA_PRODUCT_URL, json=load_fixture("keepa/product-response.json"))

    out, err = lookup("B0TESTKEEP", "--provider", "keepa", "--json")

    record = json.loads(out)
    assert record["provider"] == "keepa"
    assert record["sample_data"] is False
    assert record["buy_box"]["price"] == {"amount": "21.99", "currency": "USD"}
    assert record["sales_rank"] == {"rank": 1432, "category_id": "1055398", "category": "Home & Kitchen"}
    assert err == ""


def test_provider_chain_from_the_command_line(keepa_settings, rsps):
    rsps.get(KEEPA_PRODUCT_URL, status=402, json={"tokensLeft": 0, "refillIn": 0})

    out, _ = lookup("B0TESTKEEP", "-p", "keepa,sandbox", "--json")

    assert json.loads(out)["provider"] == "sandbox"


def test_human_readable_summary():
    out, _ = lookup("B08N5WRWNW")

    assert "B08N5WRWNW in US, from sandbox" in out
    assert "[SAMPLE DATA]" in out
    for label in ("Title:", "Buy box:", "Sales rank:", "Offers:", "Rating:"):
        assert label in out


def test_human_readable_summary_shows_the_sales_velocity_with_its_source():
    out, _ = lookup("B08N5WRWNW")

    line = next(line for line in out.splitlines() if line.startswith("Sold last month:"))
    assert "(sandbox)" in line
    assert "Rank drops 30 d / 90 d:" in line


@pytest.mark.parametrize(
    ("args", "returncode", "message"),
    [
        (["B08N5-RWNW"], 2, "contains '-'"),
        (["B08N5WRWNW", "--marketplace", "XX"], 2, "Unknown marketplace"),
        (["B08N5WRWNW", "--provider", "amazon"], 2, "Unknown product data provider"),
        (["B000000404"], 3, "No product with ASIN B000000404"),
        (["B000000503"], 4, "No product data provider could answer"),
    ],
)
def test_failures_are_command_errors_with_distinct_exit_codes(args, returncode, message):
    with pytest.raises(CommandError) as caught:
        lookup(*args)
    assert caught.value.returncode == returncode
    assert message in str(caught.value)


def test_exit_status_and_message_of_the_real_command():
    found = run_lookup("B08N5WRWNW", "--json")
    bad = run_lookup("not-an-asin")
    missing = run_lookup("B000000404")

    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["asin"] == "B08N5WRWNW"
    assert bad.returncode == 2
    assert "An ASIN has exactly 10 characters" in bad.stderr
    assert bad.stdout == ""
    assert missing.returncode == 3
    assert "No product with ASIN B000000404 in the US marketplace" in missing.stderr
