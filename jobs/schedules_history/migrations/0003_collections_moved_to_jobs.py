# The collection models moved to the jobs app (jobs/models.py). State only: the tables
# (schedules_collection, schedules_collectionrun) and their rows stay as they are; jobs'
# models keep these names with db_table (jobs/migrations/0001_initial.py).

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('schedules', '0002_collectionrun_one_pending'),
        ('jobs', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='CollectionRun'),
                migrations.DeleteModel(name='Collection'),
            ],
            database_operations=[],
        ),
    ]
