"""Resale decisions: fees, profit and ROI on a product, and liquidation manifests (a job kind).

Above products (prices, fee wire formats), jobs (the bulk engine) and conversion (FNSKU lines):
it reads them through their services and selectors and writes only its own models.
"""
