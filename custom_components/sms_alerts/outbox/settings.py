"""An entry's outbox settings, read once from its options and recipients (pure)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..const import (
    CONF_ACK_REFERENCE,
    CONF_DAILY_BUDGET,
    CONF_DEDUP_MINUTES,
    CONF_FALLBACK_ENTRY,
    CONF_GSM_ONLY,
    CONF_HANDOVER_MINUTES,
    CONF_LONG_MESSAGES,
    CONF_MAX_AGE_HOURS,
    CONF_QUIET_END,
    CONF_QUIET_START,
    CONF_RATE_LIMIT,
    CONF_TARGET,
    DEFAULT_DAILY_BUDGET,
    DEFAULT_DEDUP_MINUTES,
    DEFAULT_HANDOVER_MINUTES,
    DEFAULT_MAX_AGE_HOURS,
    DEFAULT_RATE_LIMIT,
    LONG_SINGLE,
)
from ..storm import QuietHours, StormSettings


@dataclass(frozen=True, kw_only=True)
class OutboxSettings:
    """What an entry's options and recipients say about sending (a change of either reloads the entry)."""

    # Seconds a message may wait before it is given up
    max_age: float = DEFAULT_MAX_AGE_HOURS * 3600
    # Seconds a message waits here before the fallback entry takes it
    handover_delay: float = DEFAULT_HANDOVER_MINUTES * 60
    fallback_entry_id: str | None = None
    ack_reference: bool = False
    gsm_only: bool = False
    # "Cut to one SMS"
    single_sms: bool = False
    storm: StormSettings = field(default_factory=StormSettings)
    # Quiet hours by recipient target
    quiet_hours: Mapping[str, QuietHours] = field(default_factory=dict)
    # Targets of all the entry's recipients, in their order
    recipients: tuple[str, ...] = ()

    @classmethod
    def read(cls, options: Mapping[str, Any], recipients: Iterable[Mapping[str, Any]]) -> OutboxSettings:
        """Read the entry's options and the data of its recipient subentries."""
        recipients = list(recipients)
        return cls(
            max_age=float(options.get(CONF_MAX_AGE_HOURS, DEFAULT_MAX_AGE_HOURS)) * 3600,
            handover_delay=float(options.get(CONF_HANDOVER_MINUTES, DEFAULT_HANDOVER_MINUTES)) * 60,
            fallback_entry_id=options.get(CONF_FALLBACK_ENTRY) or None,
            ack_reference=bool(options.get(CONF_ACK_REFERENCE)),
            gsm_only=bool(options.get(CONF_GSM_ONLY)),
            single_sms=options.get(CONF_LONG_MESSAGES) == LONG_SINGLE,
            storm=StormSettings(
                dedup_window=float(options.get(CONF_DEDUP_MINUTES, DEFAULT_DEDUP_MINUTES)) * 60,
                rate_limit=int(options.get(CONF_RATE_LIMIT, DEFAULT_RATE_LIMIT)),
                daily_budget=int(options.get(CONF_DAILY_BUDGET, DEFAULT_DAILY_BUDGET)),
            ),
            quiet_hours=_quiet_hours(recipients),
            recipients=tuple(data[CONF_TARGET] for data in recipients),
        )


def _quiet_hours(recipients: list[Mapping[str, Any]]) -> dict[str, QuietHours]:
    """Quiet hours by recipient target (the first recipient of a target wins)."""
    quiet: dict[str, QuietHours] = {}
    for data in recipients:
        if not data.get(CONF_QUIET_START):
            continue
        start, end = _time(data[CONF_QUIET_START]), _time(data.get(CONF_QUIET_END, ""))
        if start is not None and end is not None:
            quiet.setdefault(data[CONF_TARGET], QuietHours(start=start, end=end))
    return quiet


def _time(value: Any) -> dt.time | None:
    """Read a time of day ("22:00" or "22:00:00"), None if it is not one."""
    try:
        return dt.time.fromisoformat(str(value))
    except ValueError:
        return None
