"""The conversion factories make valid rows that charge nothing."""

import pytest

from conversion.tests.factories import ConversionFactory, FnskuMappingFactory

pytestmark = pytest.mark.django_db


def test_mappings_and_conversions():
    first, second = FnskuMappingFactory(), FnskuMappingFactory()
    conversion = ConversionFactory(fnsku=first.fnsku)

    assert first.fnsku != second.fnsku
    assert len(first.fnsku) == 10
    assert first.user is None
    assert first.last_seen == first.first_seen
    assert (conversion.status, conversion.credits_charged, conversion.charge_entry_id) == ("pending", 0, None)
