"""Scheduled collections: saved lists of ASINs or FNSKUs run as bulk jobs on a schedule.

- ``models``: a ``Collection`` (its items, kind, marketplace and schedule) and a
  ``CollectionRun`` per started slot, unique per (collection, slot).
- ``schedule``: the slot arithmetic (pure functions, no clock of their own).
- ``inputs``: a textarea or a CSV upload read into a collection's items.
- ``services``: every write (create, update, delete, claim a slot, start a run,
  expire results); runs go through the bulk engine (jobs/bulk/services.py),
  which holds the credits up front, so a run the balance cannot cover is
  skipped, recorded and charges nothing.
- ``tasks``: the beat entries (due collections, expired results) and the
  per-run start task.
"""
