# The bulk job models moved to the jobs app (jobs/models.py). State only: the tables
# (products_bulkjob, products_bulkitem) and their rows stay as they are; jobs' models
# keep these names with db_table (jobs/migrations/0001_initial.py).

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('products', '0004_bulkjob_results_deleted_at'),
        ('jobs', '0001_initial'),
        ('schedules', '0003_collections_moved_to_jobs'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='BulkItem'),
                migrations.DeleteModel(name='BulkJob'),
            ],
            database_operations=[],
        ),
    ]
