"""The one lifecycle of an alert to one target: its states and the only moves between them (pure)."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol


class ItemState(StrEnum):
    """Where one message to one target is: in exactly one of these at any moment."""

    # Made from an action call (or taken over from another entry), not yet looked at by storm control
    NEW = "new"
    # Its first request is under way here, or waits for the entry's lock to start
    IN_FLIGHT = "in_flight"
    # Waits in the outbox for its turn or its next try (in the order of its target's queue)
    WAITING = "waiting"
    # Held by the recipient's quiet hours until they end
    HELD_QUIET = "quiet"
    # Held by the rate limit until its minute ends, then sent alone or in a summary
    HELD_RATE = "throttled"
    # Held for a fallback entry that is being set up or reloaded
    HELD_FALLBACK = "fallback"
    # Left the outbox: delivered to the provider
    SENT = "sent"
    # Left the outbox: the same alert to the same target went out (or is held) already
    DEDUPLICATED = "deduplicated"
    # Left the outbox: a storm summary stands for it
    MERGED = "merged"
    # Left the outbox: the fallback entry owns it now
    HANDED_OVER = "handed_over"
    # Left the outbox for good: sms_alerts_failed was fired for it
    GIVEN_UP = "given_up"
    # Left this outbox without an answer: the entry was unloaded, its next outbox (or the fallback) sends it
    RELEASED = "released"
    # Left the outbox for good on purpose: the user dropped it while it waited (sms_alerts_failed was fired for it)
    DROPPED = "dropped"


HELD = frozenset({ItemState.HELD_QUIET, ItemState.HELD_RATE, ItemState.HELD_FALLBACK})
# In the outbox's queue (the journal and the snapshot hold these)
QUEUED = frozenset({ItemState.WAITING, *HELD})
# Written as under way: a crash sends these again
UNDER_WAY = frozenset({ItemState.NEW, ItemState.IN_FLIGHT})
# Gone from this outbox: no move leads out of these
DONE = frozenset(
    {
        ItemState.SENT,
        ItemState.DEDUPLICATED,
        ItemState.MERGED,
        ItemState.HANDED_OVER,
        ItemState.GIVEN_UP,
        ItemState.RELEASED,
        ItemState.DROPPED,
    }
)
# Any state that has not left may end here
_LEAVING = frozenset({ItemState.HANDED_OVER, ItemState.GIVEN_UP, ItemState.HELD_FALLBACK, ItemState.RELEASED})

ALLOWED: dict[ItemState, frozenset[ItemState]] = {
    ItemState.NEW: frozenset(
        {
            ItemState.IN_FLIGHT,
            ItemState.WAITING,  # a storm summary, made from held alerts, waits at once
            ItemState.HELD_QUIET,
            ItemState.HELD_RATE,
            ItemState.DEDUPLICATED,
            *_LEAVING,  # over the daily budget: handed over or given up at once
        }
    ),
    ItemState.IN_FLIGHT: frozenset({ItemState.SENT, ItemState.WAITING, *_LEAVING}),
    # Tried from the queue: it stays there during the request, and leaves only with the answer
    # Only what waits in the queue can be dropped, never a new alert whose first request is under way
    ItemState.WAITING: frozenset({ItemState.WAITING, ItemState.SENT, ItemState.DROPPED, *_LEAVING}),
    ItemState.HELD_QUIET: frozenset({ItemState.WAITING, ItemState.MERGED, ItemState.DROPPED, *_LEAVING}),
    ItemState.HELD_RATE: frozenset({ItemState.WAITING, ItemState.MERGED, ItemState.DROPPED, *_LEAVING}),
    ItemState.HELD_FALLBACK: frozenset({ItemState.DROPPED, *_LEAVING}),
    **{state: frozenset() for state in DONE},
}


class InvalidTransitionError(RuntimeError):
    """A move the lifecycle does not allow: a bug, never bad input."""


class HasState(Protocol):
    """Anything that is in one state of the lifecycle."""

    state: ItemState


def check(current: ItemState, new: ItemState) -> None:
    """Refuse a move the table does not allow."""
    if new not in ALLOWED[current]:
        raise InvalidTransitionError(f"{current} -> {new}")


def advance(item: HasState, new: ItemState) -> ItemState:
    """Move an item to a new state, if the table allows it; return the state it left."""
    old = item.state
    check(old, new)
    item.state = new
    return old
