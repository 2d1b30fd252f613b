"""IPEX / Voipex SMS Chat webhook payloads: inbound SMS and delivery reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# At most this many objects in one callback (SMS Chat posts one at a time); more is refused whole
MAX_ITEMS = 100
# Longer values cannot be what SMS Chat sends: the object is refused (ids, numbers, states)
MAX_FIELD = {"id": 128, "from": 64, "to": 64, "direction": 16, "state": 32, "createdAt": 64}
# An inbound text longer than this is cut, with an ellipsis (about 26 SMS parts of 153 characters)
MAX_TEXT = 4000


class TooManyItemsError(ValueError):
    """A callback holding more objects than MAX_ITEMS."""


@dataclass(frozen=True, kw_only=True)
class InboundSms:
    """An SMS that reached one of the account's numbers (webhook, direction IN)."""

    id: str
    sender: str
    to: str
    text: str
    created_at: str | None


@dataclass(frozen=True, kw_only=True)
class DeliveryReport:
    """The delivery state of a message we sent (webhook with state)."""

    id: str
    to: str
    state: str


_WEBHOOK_FIELDS = ("id", "from", "to", "text", "direction", "state", "createdAt")


def parse_webhook(payload: Any) -> list[InboundSms | DeliveryReport]:
    """Read a webhook body (one object or a list); unknown shapes give nothing, bad fields ValueError."""
    if isinstance(payload, dict):
        items: list[Any] = [payload]
    elif isinstance(payload, list):
        items = payload
    else:
        # ValueError, not TypeError: the webhook view answers every ValueError as a bad payload
        raise ValueError(f"webhook payload is a {type(payload).__name__}, not an object or a list")  # noqa: TRY004
    if len(items) > MAX_ITEMS:
        raise TooManyItemsError(f"webhook payload holds {len(items)} objects, more than {MAX_ITEMS}")
    events: list[InboundSms | DeliveryReport] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        event = _webhook_event(_webhook_fields(item))
        if event is not None:
            events.append(event)
    return events


def _webhook_fields(item: dict[str, Any]) -> dict[str, str]:
    """Take the documented fields as strings; null counts as absent, any other type or an overlong value is refused."""
    fields: dict[str, str] = {}
    for name in _WEBHOOK_FIELDS:
        value = item.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ValueError(f"webhook field {name} is a {type(value).__name__}, not a string")  # noqa: TRY004
        if len(value) > MAX_FIELD.get(name, len(value)):
            raise ValueError(f"webhook field {name} is {len(value)} characters long, more than {MAX_FIELD[name]}")
        fields[name] = value
    return fields


def _cut(text: str) -> str:
    """Return an inbound text cut to MAX_TEXT characters, the cut marked with an ellipsis."""
    return text if len(text) <= MAX_TEXT else f"{text[: MAX_TEXT - 1]}…"


def _webhook_event(fields: dict[str, str]) -> InboundSms | DeliveryReport | None:
    """Turn one object's fields into an inbound SMS, a delivery report, or None for an unknown shape."""
    if fields.get("direction", "").upper() == "IN" and "from" in fields and "text" in fields:
        return InboundSms(
            id=fields.get("id", ""),
            sender=fields["from"],
            to=fields.get("to", ""),
            text=_cut(fields["text"]),
            created_at=fields.get("createdAt"),
        )
    if "state" in fields and "id" in fields:
        return DeliveryReport(id=fields["id"], to=fields.get("to", ""), state=fields["state"])
    return None
