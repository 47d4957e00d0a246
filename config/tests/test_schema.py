"""The OpenAPI contract: complete, valid and served without internet access."""

import pytest
from django.urls import get_resolver
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_schema_is_valid_openapi_3(schema):
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")


def test_every_api_view_is_in_the_schema(schema):
    documented = set(schema["paths"])
    routes = [
        "/" + str(p.pattern).replace("<int:", "{").replace(">", "}")
        for p in get_resolver().url_patterns
        if str(p.pattern) == "api/v1/"
    ]
    assert routes, "the API is mounted under /api/v1/"
    assert "/api/v1/keys" in documented
    assert "/api/v1/keys/{key_id}" in documented
    assert "/api/v1/me" in documented


def test_every_operation_documents_its_bodies_and_errors(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            success = [code for code in responses if code.startswith("2")]
            assert success, f"{method} {path} has no success response"
            if operation.get("security"):
                assert "401" in responses, f"{method} {path} does not document 401"
            else:
                # Open to anyone (Stripe's webhook: its signature is its authentication).
                assert "400" in responses, f"{method} {path} is open but documents no 400"
            for code in ("400", "401", "403", "404"):
                if code in responses:
                    ref = responses[code]["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/Error"), f"{method} {path} {code} is not the error shape"
            if method in {"post", "put", "patch"}:
                assert "requestBody" in operation, f"{method} {path} has no request body"
            if "{" in path:
                assert "404" in responses, f"{method} {path} does not document 404"


def test_the_only_open_operation_is_stripes_webhook_and_it_documents_its_400(schema):
    open_operations = [
        (method, path)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if not operation.get("security")
    ]
    assert open_operations == [("post", "/api/v1/payments/webhook")]
    webhook = schema["paths"]["/api/v1/payments/webhook"]["post"]
    assert sorted(webhook["responses"]) == ["200", "400", "413", "414", "500", "503"]
    assert webhook["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    [signature] = webhook["parameters"]
    assert (signature["in"], signature["name"], signature["required"]) == ("header", "Stripe-Signature", True)


def test_api_key_security_schemes(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["BearerApiKey"]["scheme"] == "bearer"
    assert schemes["HeaderApiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}


def test_schema_and_docs_are_served(client):
    schema_response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema_response.status_code == 200

    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    # Swagger UI's assets come from drf-spectacular-sidecar, served locally.
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200


def test_schema_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(out))

    assert out.read_text().startswith("openapi: 3")


def test_every_operation_documents_the_limits_it_can_hit(schema):
    """429 (with Retry-After) wherever a caller is rate limited, 413 wherever a body is read,
    414 everywhere: each in the error shape."""
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            expected = ["414"]
            if operation.get("security"):
                expected.append("429")
            if "requestBody" in operation:
                expected.append("413")
            for code in expected:
                assert code in responses, f"{method} {path} does not document {code}"
                ref = responses[code]["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/Error"), f"{method} {path} {code} is not the error shape"
            if "429" in responses:
                headers = responses["429"]["headers"]
                assert "Retry-After" in headers, f"{method} {path} 429 without Retry-After"


def test_a_credit_pack_documents_its_price_per_credit(schema):
    pack = schema["components"]["schemas"]["Pack"]
    properties = pack["properties"]
    assert properties["price_per_credit"]["type"] == "string"
    assert properties["price_per_credit"]["format"] == "decimal"
    assert properties["price_per_credit"]["readOnly"] is True
    assert properties["price_per_credit_display"]["type"] == "string"
    assert properties["best_value"]["type"] == "boolean"
    assert {"price_per_credit", "price_per_credit_display", "best_value"} <= set(pack["required"])
