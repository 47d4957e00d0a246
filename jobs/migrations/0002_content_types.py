# The moved models' content types follow them (products.bulkjob -> jobs.bulkjob, ...), so
# the permissions and admin log entries that point at them keep working: a user or group
# given "Can view bulk job" before the move still has it. Only django_content_type rows
# change; the moved tables are not touched. On a new database there are none yet (they are
# created after the migrations), and nothing happens.

from django.db import migrations

MOVED = [
    ("products", "bulkjob"),
    ("products", "bulkitem"),
    ("schedules", "collection"),
    ("schedules", "collectionrun"),
]


def _rename(apps, schema_editor, *, forward: bool) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for old_app, model in MOVED:
        source, target = (old_app, "jobs") if forward else ("jobs", old_app)
        if ContentType.objects.using(db).filter(app_label=target, model=model).exists():
            continue  # already there (created by an earlier run): leave both as they are
        ContentType.objects.using(db).filter(app_label=source, model=model).update(app_label=target)


def forwards(apps, schema_editor):
    _rename(apps, schema_editor, forward=True)


def backwards(apps, schema_editor):
    _rename(apps, schema_editor, forward=False)


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('jobs', '0001_initial'),
        ('products', '0005_bulk_jobs_moved_to_jobs'),
        ('schedules', '0003_collections_moved_to_jobs'),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
