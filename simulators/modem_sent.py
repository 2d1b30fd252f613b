"""What passes through the simulated modem's SMS centre.

The SMS-SUBMITs it took, joined into messages once all their parts are in; the status reports it makes of them;
the SMS-DELIVERs of an SMS that arrives.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from custom_components.sms_alerts.api.pdu import (
    Concat,
    EncodedPdu,
    Submit,
    encode_deliver,
    encode_status_report,
    split_text,
)

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


def status_report(part: SentPart, *, status: int, smsc: str) -> EncodedPdu:
    """Make the SMS-STATUS-REPORT of a part now.

    TP-SCTS is when the SMS centre took the SMS-SUBMIT, TP-DT when it delivered or gave up (TS 23.040 9.2.2.3).
    """
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return encode_status_report(
        part.reference, part.submit.number, status=status, timestamp=part.received, discharged=now, smsc=smsc
    )


def deliver_pdus(sender: str, text: str, *, when: dt.datetime, reference: int, smsc: str) -> list[EncodedPdu]:
    """Make the SMS-DELIVERs of an SMS from `sender` (one per part, joined by `reference` if there are several)."""
    alphabet, parts = split_text(text)
    return [
        encode_deliver(
            sender,
            part,
            timestamp=when.replace(microsecond=0),
            concat=Concat(reference=reference, total=len(parts), sequence=index) if len(parts) > 1 else None,
            alphabet=alphabet,
            smsc=smsc,
        )
        for index, part in enumerate(parts, start=1)
    ]
