"""What an outbox remembers of alerts that left: references, sends for delivery reports, storm counts (pure)."""

from __future__ import annotations

import contextlib
import re
from typing import Any

from ..api.base import Target
from ..journal import STORM_LOG
from ..storm import StormGuard
from .models import QueuedItem

_REFERENCE = re.compile(r"#(\d+)\b")
# An alert's text with its acknowledgement reference at the end
_REFERENCED = re.compile(r"(.*) #(\d+)", re.DOTALL)
# How many alert references are kept for acknowledgements
REFERENCE_MEMORY = 500
# How many provider message ids are kept for delivery reports
SENT_MEMORY = 1000


class Memory:
    """Recent acknowledgement references and provider message ids of one entry, oldest dropped first."""

    def __init__(self) -> None:
        """Start empty."""
        # Acknowledgement references of recent alerts: number -> (message text, targets)
        self.references: dict[int, tuple[str, tuple[str, ...]]] = {}
        self.next_reference = 1
        # Provider message id -> the item sent
        self.sent: dict[str, QueuedItem] = {}
        # Provider message ids whose FAILED delivery report was acted on already
        self._failed_reports: dict[str, None] = {}
        # Storm control's memory (the policy's guard), kept with the rest so that a reload or restart keeps it
        self.storm: StormGuard | None = None

    def new_reference(self, text: str, targets: tuple[str, ...]) -> int:
        """Give an alert the next reference number, and remember what it stands for."""
        reference = self.next_reference
        self.next_reference += 1
        self.references[reference] = (text, targets)
        while len(self.references) > REFERENCE_MEMORY:
            del self.references[next(iter(self.references))]
        return reference

    def acknowledged(self, text: str) -> tuple[int, str, tuple[str, ...]] | None:
        """Find the alert a reply acknowledges by its reference (#42): (reference, message, targets), or None."""
        for match in _REFERENCE.finditer(text):
            reference = int(match.group(1))
            known = self.references.get(reference)
            if known is not None:
                return reference, *known
        return None

    def alert_text(self, item: QueuedItem, referenced: bool) -> str:
        """Return the alert's own text, which the duplicate window compares: without its acknowledgement reference."""
        if item.merged or not referenced:
            return item.text
        if (match := _REFERENCED.fullmatch(item.text)) is None:
            return item.text
        known = self.references.get(int(match.group(2)))
        return known[0] if known is not None else match.group(1)

    def remember_sent(self, message_id: str, item: QueuedItem) -> None:
        """Keep the latest provider message ids, to match delivery reports to their sends."""
        self.sent[message_id] = item
        if len(self.sent) > SENT_MEMORY:
            del self.sent[next(iter(self.sent))]

    def failed_report(self, message_id: str) -> QueuedItem | None:
        """Take a send whose delivery failed out of memory, once: the same report posted again finds nothing."""
        item = self.sent.pop(message_id, None)
        if item is not None:
            self._failed_reports[message_id] = None
            while len(self._failed_reports) > SENT_MEMORY:
                del self._failed_reports[next(iter(self._failed_reports))]
        return item

    def failure_known(self, message_id: str) -> bool:
        """Tell whether a FAILED report of this message was acted on already."""
        return message_id in self._failed_reports

    def stored(self, with_sent: bool) -> dict[str, Any]:
        """Return the stored form (the sends only where the provider reports deliveries)."""
        data: dict[str, Any] = {
            "next_reference": self.next_reference,
            "references": [[number, text, list(targets)] for number, (text, targets) in self.references.items()],
        }
        if with_sent:
            data["sent"] = [[message_id, item.to_stored()] for message_id, item in self.sent.items()]
        if self.storm is not None:
            data["storm"] = self.storm.stored()
        return data

    def load(self, stored: Any) -> None:
        """Read references and sends back; anything malformed is dropped."""
        if not isinstance(stored, dict):
            return
        with contextlib.suppress(TypeError, ValueError):
            self.next_reference = max(1, int(stored.get("next_reference", 1)))
        references = stored.get("references")
        for entry in references if isinstance(references, list) else []:
            with contextlib.suppress(TypeError, ValueError):
                number, text, targets = entry
                self.references[int(number)] = (str(text), tuple(str(target) for target in targets))
        sent = stored.get("sent")
        targets_seen: dict[tuple[Any, Any], Target] = {}
        for entry in sent if isinstance(sent, list) else []:
            with contextlib.suppress(KeyError, TypeError, ValueError):
                message_id, data = entry
                self.sent[str(message_id)] = QueuedItem.from_stored(data, targets_seen)
        while len(self.sent) > SENT_MEMORY:
            del self.sent[next(iter(self.sent))]
        if self.storm is not None:
            # As of the snapshot, then what the journal's newer lines recorded
            self.storm.restore(stored.get("storm"))
            self.storm.apply(stored.get(STORM_LOG))
