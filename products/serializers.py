"""API input and the documented shape of the product record (products/providers/base.py)."""

from typing import Any

from rest_framework import serializers

from products.models import LookupLog


class ProductLookupInputSerializer(serializers.Serializer[Any]):
    asin = serializers.CharField(
        max_length=64, help_text="10 letters and digits; spaces are trimmed and lower case accepted."
    )
    marketplace = serializers.CharField(
        max_length=8, required=False, default="US", help_text="US, CA, MX, BR, UK, DE, FR, IT, ES, JP, ..."
    )


class MoneySerializer(serializers.Serializer[Any]):
    amount = serializers.CharField(help_text="Decimal string in the currency's major unit, e.g. 21.99")
    currency = serializers.CharField()


class MeasurementSerializer(serializers.Serializer[Any]):
    value = serializers.CharField()
    unit = serializers.CharField()


class DimensionsSerializer(serializers.Serializer[Any]):
    length = MeasurementSerializer(allow_null=True)
    width = MeasurementSerializer(allow_null=True)
    height = MeasurementSerializer(allow_null=True)
    weight = MeasurementSerializer(allow_null=True)


class CategorySerializer(serializers.Serializer[Any]):
    id = serializers.CharField()
    name = serializers.CharField()


class SalesRankSerializer(serializers.Serializer[Any]):
    rank = serializers.IntegerField()
    category_id = serializers.CharField(allow_null=True)
    category = serializers.CharField(allow_null=True)


class BuyBoxSerializer(serializers.Serializer[Any]):
    price = MoneySerializer(help_text="The buy box offer's item price, without shipping.")
    shipping = MoneySerializer(
        allow_null=True, help_text="Its shipping; null when the provider does not say."
    )
    landed_price = MoneySerializer(help_text="What a shopper pays: price + shipping.")
    seller_id = serializers.CharField(allow_null=True)
    is_fba = serializers.BooleanField(allow_null=True)


class PricePartsSerializer(serializers.Serializer[Any]):
    basis = serializers.ChoiceField(
        choices=["landed", "listing"],
        help_text="landed: the price includes shipping; listing: the item's price alone, the provider "
        "does not say what shipping costs.",
    )
    listing = MoneySerializer(
        allow_null=True, help_text="The item's price; null when only the total is known."
    )
    shipping = MoneySerializer(
        allow_null=True, help_text="The shipping; null when unknown (not the same as free: 0.00)."
    )


class SalesVelocitySerializer(serializers.Serializer[Any]):
    source = serializers.CharField(  # type: ignore[assignment]
        help_text="The provider that reports these figures (keepa, spapi, sandbox). Sandbox figures are "
        "made up: the record's sample_data is true."
    )
    monthly_sold = serializers.IntegerField(
        allow_null=True,
        help_text='Units bought in the past month as Amazon shows it ("1K+ bought in past month"): a lower '
        "bound, 1000 means at least 1,000. Keepa's monthlySold; null when there is none (most products). "
        "Reported, never estimated.",
    )
    monthly_sold_as_of = serializers.DateTimeField(
        allow_null=True, help_text="When the provider last updated monthly_sold (Keepa's lastSoldUpdate)."
    )
    rank_drops_30 = serializers.IntegerField(
        allow_null=True,
        help_text="How often the sales rank dropped (improved) in the last 30 days, which Keepa counts as "
        "a sale (stats.salesRankDrops30); null when not counted.",
    )
    rank_drops_90 = serializers.IntegerField(allow_null=True, help_text="The same over 90 days.")
    rank_drops_180 = serializers.IntegerField(allow_null=True, help_text="The same over 180 days.")
    rank_drops_365 = serializers.IntegerField(allow_null=True, help_text="The same over 365 days.")
    rank_drops_as_of = serializers.DateTimeField(
        allow_null=True, help_text="The time of the data the drops were counted on (Keepa's lastUpdate)."
    )
    unavailable = serializers.CharField(
        allow_null=True,
        help_text='Why the provider has no sales figures at all: "not available from SP-API". '
        "Null otherwise.",
    )


class OfferCountsSerializer(serializers.Serializer[Any]):
    new = serializers.IntegerField(allow_null=True)
    used = serializers.IntegerField(allow_null=True)
    total = serializers.IntegerField(allow_null=True)


class HistorySerializer(serializers.Serializer[Any]):
    metric = serializers.CharField()
    kind = serializers.ChoiceField(choices=["price", "rank", "count", "rating"])
    currency = serializers.CharField(allow_null=True)
    basis = serializers.ChoiceField(
        choices=["landed", "listing"],
        allow_null=True,
        required=False,
        help_text="Offer prices: landed, the points include shipping, or listing, they do not. "
        "Absent on records stored before record_version 2.",
    )
    landed_since = serializers.DateTimeField(
        allow_null=True,
        required=False,
        help_text="For a landed series: points before this time do not include shipping "
        "(Keepa's new price, landed since 2026-02-16).",
    )
    points = serializers.ListField(
        child=serializers.ListField(), help_text='[["2026-11-25T10:00:00Z", value], ...], oldest first'
    )


class ProductRecordSerializer(serializers.Serializer[Any]):
    record_version = serializers.IntegerField(
        help_text="3: with sales_velocity; 2: prices are landed, with price_parts; 1: stored before, "
        "prices as the provider gave them (the price from the buy box without its shipping)."
    )
    asin = serializers.CharField()
    marketplace = serializers.CharField()
    provider = serializers.CharField(help_text="sandbox, keepa or spapi")
    sample_data = serializers.BooleanField(help_text="True for the sandbox's made-up sample records.")
    fetched_at = serializers.DateTimeField()
    title = serializers.CharField(allow_null=True)
    brand = serializers.CharField(allow_null=True)
    manufacturer = serializers.CharField(allow_null=True)
    images = serializers.ListField(child=serializers.CharField())
    categories = CategorySerializer(many=True)
    sales_rank = SalesRankSerializer(allow_null=True)
    sales_ranks = SalesRankSerializer(many=True)
    price = MoneySerializer(
        allow_null=True,
        help_text="What a shopper pays now, landed (item + shipping): the buy box's landed price, else "
        "Amazon's own offer, else the lowest new offer. price_parts.price says how it is made up.",
    )
    list_price = MoneySerializer(
        allow_null=True, help_text="The manufacturer's list price; null when none (Amazon's 0 included)."
    )
    amazon_price = MoneySerializer(
        allow_null=True, help_text="Amazon's own offer (Keepa: without shipping, see price_parts)."
    )
    lowest_new_price = MoneySerializer(
        allow_null=True, help_text="The lowest new offer, landed (item + shipping) where the provider says."
    )
    lowest_used_price = MoneySerializer(
        allow_null=True, help_text="The lowest used offer, landed (item + shipping) where the provider says."
    )
    price_basis = serializers.ChoiceField(
        choices=["landed", "mixed"],
        allow_null=True,
        required=False,
        help_text="landed: price, lowest_new_price and lowest_used_price all include shipping; mixed: one "
        "does not (see price_parts). Null or absent on records stored before record_version 2.",
    )
    price_parts = serializers.DictField(
        child=PricePartsSerializer(),
        required=False,
        help_text="Per price field (price, amazon_price, lowest_new_price, lowest_used_price): its basis "
        "and its listing and shipping parts. Absent on records stored before record_version 2.",
    )
    buy_box = BuyBoxSerializer(allow_null=True)
    offers = OfferCountsSerializer(allow_null=True)
    rating = serializers.FloatField(allow_null=True)
    review_count = serializers.IntegerField(allow_null=True)
    item_dimensions = DimensionsSerializer(allow_null=True)
    package_dimensions = DimensionsSerializer(allow_null=True)
    eans = serializers.ListField(child=serializers.CharField())
    upcs = serializers.ListField(child=serializers.CharField())
    parent_asin = serializers.CharField(allow_null=True)
    history = HistorySerializer(many=True)
    sales_velocity = SalesVelocitySerializer(
        allow_null=True,
        required=False,
        help_text="How fast it sells, as the provider reports it (Keepa: monthly sold and sales rank drops; "
        "SP-API: none, see unavailable). Null or absent on records stored before record_version 3.",
    )


class ProductLookupOutputSerializer(serializers.Serializer[Any]):
    product = ProductRecordSerializer()
    source = serializers.ChoiceField(choices=["cache", "database", "upstream"])  # type: ignore[assignment]
    cache = serializers.ChoiceField(choices=["hit", "miss"])
    credits_charged = serializers.IntegerField()
    credits_remaining = serializers.IntegerField()


class LookupLogSerializer(serializers.ModelSerializer[LookupLog]):
    class Meta:
        model = LookupLog
        fields = (
            "id",
            "asin",
            "marketplace",
            "channel",
            "source",
            "outcome",
            "credits",
            "latency_ms",
            "created_at",
        )
        read_only_fields = fields


class CacheStatsSerializer(serializers.Serializer[Any]):
    marketplaces = serializers.DictField(
        child=serializers.DictField(),
        help_text="Per marketplace: cache, database, upstream, hits, misses, hit_ratio",
    )


class CodeLookupInputSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(
        max_length=64,
        trim_whitespace=False,  # the service trims spaces and hyphens, and says what is wrong
        help_text="EAN-13, EAN-8, UPC-A (12 digits), ISBN-10 or ISBN-13; spaces and hyphens are "
        "ignored and the check digit must be right.",
    )
    marketplace = serializers.CharField(
        max_length=8, required=False, default="US", help_text="US, CA, MX, BR, UK, DE, FR, IT, ES, JP, ..."
    )


class CodeMatchSerializer(serializers.Serializer[Any]):
    asin = serializers.CharField()
    title = serializers.CharField(allow_null=True)
    brand = serializers.CharField(allow_null=True)
    image = serializers.CharField(allow_null=True, help_text="The main image's URL.")
    product = ProductRecordSerializer(
        allow_null=True,
        help_text="The whole product record, when the provider gives one (Keepa, sandbox); it is "
        "also cached for ASIN lookups. Null for partial catalogue answers (SP-API): look the ASIN up.",
    )


class CodeLookupOutputSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="The code as looked up: digits only (an ISBN-10 may end in X).")
    code_type = serializers.ChoiceField(choices=["ean13", "ean8", "upc", "isbn10", "isbn13"])
    marketplace = serializers.CharField()
    provider = serializers.CharField(help_text="sandbox, keepa or spapi")
    asins = serializers.ListField(child=serializers.CharField(), help_text="The matches' ASINs, in order.")
    matches = CodeMatchSerializer(many=True)
    source = serializers.CharField(  # type: ignore[assignment]
        help_text="cache (this code was looked up moments ago) or upstream"
    )
    cache = serializers.ChoiceField(choices=["hit", "miss"])
    credits_charged = serializers.IntegerField()
    credits_remaining = serializers.IntegerField()
