"""The migration history of the former ``schedules`` app (app label ``schedules``).

The collections' tables were created by these migrations; the models now live in
jobs/models.py (``db_table`` keeps the tables' names). The app stays installed, with
no models, so its applied migrations keep resolving and a new database still gets
the tables: 0003 hands the models' state over to ``jobs`` without touching the
database.
"""
