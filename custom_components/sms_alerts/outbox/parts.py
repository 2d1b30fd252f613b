"""The parts one entry's outbox is made of, handed to each piece that needs them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.core import HomeAssistant

from ..api.base import Provider
from .compose import Composer
from .entry import OutboxEntry
from .gate import Gate
from .memory import Memory
from .policy import Policy
from .queue import Queue
from .router import Router
from .settings import OutboxSettings


@dataclass(frozen=True, kw_only=True)
class Parts:
    """One entry's settings, state and rules: made once by the Outbox, shared by intake, drain and settle."""

    hass: HomeAssistant
    entry: OutboxEntry
    provider: Provider
    settings: OutboxSettings
    queue: Queue
    gate: Gate
    router: Router
    memory: Memory
    composer: Composer
    policy: Policy
    # The current time as a timestamp, and today's date in Home Assistant's time zone
    clock: Callable[[], float]
    today: Callable[[], str]
    # Whether the entry's health finds the provider unreachable
    known_down: Callable[[], bool]
