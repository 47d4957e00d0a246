"""The bulk engine and scheduled collections.

- ``bulk/``: bulk jobs (upload, items, kinds and their registry, processing in
  chunks by Celery workers, sweep, exports) and the ``asin_lookup`` kind.
- ``collections/``: saved lists of ASINs or FNSKUs run as bulk jobs on a schedule.
- ``models``: ``BulkJob``, ``BulkItem``, ``Collection``, ``CollectionRun`` (the
  tables keep their names from before the move: see the module's docstring).
- ``schedules_history/``: only the migration history of the former ``schedules``
  app (the collections' tables were created there); it has no models.

Layer: above products (the ``asin_lookup`` kind reads products' store), below
watchlists and conversion (conversion registers its ``fnsku_conversion`` kind
here). products does not import jobs (checked by import-linter).
"""
