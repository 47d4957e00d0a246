from django.db import migrations

# The packs a new installation sells; operators edit them in the admin.
DEFAULT_PACKS = [
    # name, credits, price in cents, order
    ("Starter", 500, 900, 10),
    ("Growth", 2_500, 3_900, 20),
    ("Pro", 10_000, 12_900, 30),
]


def create_default_packs(apps, schema_editor):
    CreditPack = apps.get_model("billing", "CreditPack")
    if CreditPack.objects.exists():
        return
    for name, credits, price, order in DEFAULT_PACKS:
        CreditPack.objects.create(name=name, credits=credits, price=price, currency="usd", order=order)


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(create_default_packs, migrations.RunPython.noop),
    ]
