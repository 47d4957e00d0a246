"""Factories of the conversion app's rows: FNSKU → ASIN mappings and the conversions' log.

A ``Conversion`` made here charged nothing (``credits_charged`` 0, no ledger entry): a charged
conversion is made by the conversion service, which books the charge."""

import factory
from django.utils import timezone

from accounts.tests.factories import UserFactory
from conversion.models import Conversion, FnskuMapping


class FnskuMappingFactory(factory.django.DjangoModelFactory[FnskuMapping]):
    """A shared mapping users confirmed once (no owner), first and last seen now."""

    class Meta:
        model = FnskuMapping

    fnsku = factory.Sequence(lambda n: f"X00F{n:06d}")
    marketplace = "US"
    asin = factory.Sequence(lambda n: f"B0MAP{n:05d}")
    source = FnskuMapping.Source.CONFIRMED
    user = None
    first_seen = factory.LazyFunction(timezone.now)
    last_seen = factory.LazyAttribute(lambda m: m.first_seen)
    times_seen = 1
    times_confirmed = 1


class ConversionFactory(factory.django.DjangoModelFactory[Conversion]):
    """A pending API conversion of the user's, which charged nothing."""

    class Meta:
        model = Conversion

    user = factory.SubFactory(UserFactory)
    fnsku = factory.Sequence(lambda n: f"X00C{n:06d}")
    marketplace = "US"
    channel = Conversion.Channel.API
    status = Conversion.Status.PENDING
    credits_charged = 0
