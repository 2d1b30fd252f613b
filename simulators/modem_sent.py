"""What the simulated modem sent: each SMS-SUBMIT it took, joined into messages once all their parts are in."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from custom_components.sms_alerts.api.pdu import Submit

from .base import ReceivedMessage


@dataclass(kw_only=True)
class SentPart:
    """One SMS-SUBMIT the modem took, with the TP-MR it answered and when the SMS centre took it."""

    reference: int
    submit: Submit
    pdu: str
    received: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0))


class PartCollector:
    """Joins the parts of concatenated messages; a message is whole once each of its parts came."""

    def __init__(self, provider: str) -> None:
        """Collect for one simulator (named in each message)."""
        self._provider = provider
        self._pending: dict[tuple[str, int], dict[int, SentPart]] = {}

    def add(self, part: SentPart) -> ReceivedMessage | None:
        """Take a part; return the message it completes, if it does."""
        submit = part.submit
        concat = submit.concat
        if concat is None:
            parts = [part]
        else:
            key = (submit.number, concat.reference)
            pending = self._pending.setdefault(key, {})
            pending[concat.sequence] = part
            if len(pending) < concat.total:
                return None
            del self._pending[key]
            parts = [pending[index] for index in sorted(pending)]
        return ReceivedMessage(
            provider=self._provider,
            to=submit.number,
            text="".join(item.submit.text for item in parts),
            options={
                "encoding": str(submit.alphabet),
                "parts": len(parts),
                "references": [item.reference for item in parts],
                "status_report": submit.status_report,
            },
        )
