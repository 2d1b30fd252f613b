"""The outbox: every alert of an entry from the action call to its end (sent, handed over or given up).

One alert's path through the modules: `compose` (text, targets, reference) → `screen` (storm control by `policy`) →
`intake` (first request) → `queue` (kept, in one state of `lifecycle`, written by `outbox_store`) →
`drain` (tried again) → `dispatch` (one provider call, what its answer means) → `settle` (sent,
retried, handed over by `router`, or given up); `gate` says whether the entry may send at all.
"""

from __future__ import annotations

from ..outbox_store import storage_key
from .core import Outbox, async_remove_store
from .gate import ENTRY_ISSUES
from .lifecycle import ItemState
from .models import (
    IN_FLIGHT,
    OPTION_NAMES,
    Accepted,
    Block,
    OutboxClosedError,
    QueuedItem,
    ReportStatus,
    SendOptions,
    SendReport,
    SendStatus,
    TargetResult,
    backoff,
    parse_items,
)

__all__ = [
    "ENTRY_ISSUES",
    "IN_FLIGHT",
    "OPTION_NAMES",
    "Accepted",
    "Block",
    "ItemState",
    "Outbox",
    "OutboxClosedError",
    "QueuedItem",
    "ReportStatus",
    "SendOptions",
    "SendReport",
    "SendStatus",
    "TargetResult",
    "async_remove_store",
    "backoff",
    "parse_items",
    "storage_key",
]
