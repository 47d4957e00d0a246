"""Bulk jobs: many items (ASINs now, FNSKUs later) processed by Celery workers.

- ``kinds``: the per-kind interface (normalise an input, process a chunk of
  claimed items, export columns) and its registry; a new kind registers itself
  with ``bulk_kind_register`` and needs no change here.
- ``uploads``: CSV (and list) input, limits and per-row errors; pure functions.
- ``services``: every write (create, claim, complete, cancel, retry, sweep).
- ``selectors``: reads (jobs, items, progress and time left).
- ``tasks``: thin Celery wrappers; ``exports``: streamed CSV and JSON results.
- ``asin_lookup``: the ``asin_lookup`` kind (products' lookup store, many at a time).
"""
