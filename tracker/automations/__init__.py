"""Automations: acting on the journey's transitions with signed webhooks.

``definitions`` (the schema and storage of automations and their triggers), ``triggers`` (which
recorded transitions fire one: trigger, filter, re-entry, the moment it acts from), ``outbox``
(deliveries in ClickHouse), ``payload`` (the webhook body), ``delivery`` (one signed POST and
what its answer means), ``sender`` (the bounded pool that sends what is due), ``feed`` (the
transitions recorded since the last look), ``step`` (the journey worker's automations step),
``dryrun`` (who would have fired). Flask-free, as the worker is.
"""
from .step import Automations

__all__ = ["Automations"]
