from django.db import migrations

# The price of credits.models.Operation.MANIFEST_LINE, frozen at the time of this migration.
OPERATION = "manifest_line"
CREDITS = 2
DESCRIPTION = "One line of a liquidation manifest: resolved, priced, fees and profit"


def create_price(apps, schema_editor):
    Price = apps.get_model("credits", "Price")
    Price.objects.get_or_create(operation=OPERATION, defaults={"credits": CREDITS, "description": DESCRIPTION})


class Migration(migrations.Migration):
    dependencies = [
        ("credits", "0003_ledger_append_only"),
        ("resale", "0002_manifests"),
    ]

    operations = [
        migrations.RunPython(create_price, migrations.RunPython.noop),
    ]
