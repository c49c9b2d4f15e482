"""The journey worker: keeps journey state and the transitions log current from what ClickHouse
holds (new touchpoints and identity links since its watermark, definition edits, time passing).

Flask-free: ``tracker worker`` runs it alone, ``tracker serve`` beside the web app. Any number may
run; a lease in ClickHouse lets one work at a time, so nothing is written twice.
"""
from .loop import JourneyWorker, read_status

__all__ = ["JourneyWorker", "read_status"]
