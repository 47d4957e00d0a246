from products.checks import check_providers


def ids(messages):
    return [m.id for m in messages]


def test_default_settings_pass():
    assert check_providers() == []


def test_unknown_provider_and_bad_rate_limits_are_errors(settings):
    settings.PRODUCT_PROVIDERS = ["sandbox", "amazon"]
    settings.PROVIDER_RATE_LIMITS = "keepa=fast"

    assert ids(check_providers()) == ["products.E002", "products.E003"]


def test_empty_chain_is_an_error(settings):
    settings.PRODUCT_PROVIDERS = []
    assert ids(check_providers()) == ["products.E001"]


def test_listed_but_unconfigured_providers_are_warnings(settings):
    settings.PRODUCT_PROVIDERS = ["keepa", "spapi"]
    settings.KEEPA_API_KEY = ""
    settings.SPAPI_CLIENT_ID = ""

    assert ids(check_providers()) == ["products.W001", "products.W002"]
