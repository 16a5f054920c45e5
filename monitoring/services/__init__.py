"""Monitoring use cases: evaluation and alerts, incidents, polling, push ingest, health."""
