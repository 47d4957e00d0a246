"""config as an installed app only for its operations commands (envvars, dbbackup, dbrestore).

They document and back up what config/settings.py configures (config/envvars.py,
config/backup.py), so they stay next to it. The app has no models, migrations or
templates; monitoring, which it used to register under the label "monitoring",
is the ``monitoring`` app now.
"""

from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "config"
    label = "config"
    verbose_name = "Operations"
