from django.db import migrations

# The price of products.services.CODE_LOOKUP_OPERATION, frozen at the time of this migration.
OPERATION = "code_lookup"
CREDITS = 1
DESCRIPTION = "Products for one barcode (EAN, UPC, ISBN)"


def create_price(apps, schema_editor):
    Price = apps.get_model("credits", "Price")
    Price.objects.get_or_create(
        operation=OPERATION, defaults={"credits": CREDITS, "description": DESCRIPTION}
    )


class Migration(migrations.Migration):
    dependencies = [
        ("credits", "0003_ledger_append_only"),
        ("products", "0002_bulk_jobs"),
    ]

    operations = [
        migrations.RunPython(create_price, migrations.RunPython.noop),
    ]
