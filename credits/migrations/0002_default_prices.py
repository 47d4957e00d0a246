from django.db import migrations

# Frozen copy of credits.models.DEFAULT_PRICES at the time of this migration.
DEFAULT_PRICES = {
    "asin_lookup": (1, "Product data for one ASIN"),
    "fnsku_conversion": (2, "One FNSKU converted to its ASIN"),
    "bulk_item": (1, "One item of a bulk job"),
}


def create_default_prices(apps, schema_editor):
    Price = apps.get_model("credits", "Price")
    for operation, (credits, description) in DEFAULT_PRICES.items():
        Price.objects.get_or_create(
            operation=operation, defaults={"credits": credits, "description": description}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("credits", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_default_prices, migrations.RunPython.noop),
    ]
