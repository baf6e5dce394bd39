"""Deliver: claim due outbox rows in batches, compose each message, send it through its
channel, record what happened. One bad message never stops a batch."""

from notifier.delivery.deliverer import Deliverer
from notifier.delivery.record import DeliverReport

__all__ = ["DeliverReport", "Deliverer"]
