"""Logbook lines for SMS Alerts' events: what they say, and that numbers are masked."""

from __future__ import annotations

from typing import Any

from homeassistant.components.logbook.const import LOGBOOK_ENTRY_MESSAGE, LOGBOOK_ENTRY_NAME
from homeassistant.core import Event, HomeAssistant

from custom_components.sms_alerts import logbook
from custom_components.sms_alerts.const import DOMAIN, EVENT_ACKNOWLEDGED, EVENT_ALERT, EVENT_FAILED


def _described(hass: HomeAssistant) -> dict[str, Any]:
    """The describers the platform registers, by event type."""
    found: dict[str, Any] = {}

    def register(domain: str, event_type: str, describe: Any) -> None:
        assert domain == DOMAIN
        found[event_type] = describe

    logbook.async_describe_events(hass, register)
    return found


async def test_every_event_of_note_is_described(hass: HomeAssistant) -> None:
    """Alerts, given-up messages and acknowledgements; received texts stay out of the logbook."""
    assert set(_described(hass)) == {EVENT_ALERT, EVENT_FAILED, EVENT_ACKNOWLEDGED}


async def test_alert_transitions_read_as_sentences(hass: HomeAssistant) -> None:
    """The source names the line; the alert, its reply code and what happened make the message."""
    describe = _described(hass)[EVENT_ALERT]
    data = {"source": "Prometheus", "name": "DiskFull", "reference": "A12", "fingerprint": "f1", "status": "firing"}
    assert describe(Event(EVENT_ALERT, data)) == {
        LOGBOOK_ENTRY_NAME: "Prometheus",
        LOGBOOK_ENTRY_MESSAGE: "DiskFull (A12) fires",
    }
    resolved = describe(Event(EVENT_ALERT, {**data, "status": "resolved", "reference": None}))
    assert resolved[LOGBOOK_ENTRY_MESSAGE] == "DiskFull is resolved"
    held = describe(Event(EVENT_ALERT, {**data, "maintenance": True}))
    assert held[LOGBOOK_ENTRY_MESSAGE] == "DiskFull (A12) fires, held for maintenance"


async def test_numbers_are_masked_and_texts_left_out(hass: HomeAssistant) -> None:
    """A given-up message and an acknowledgement name the number masked, never the message text."""
    described = _described(hass)
    failed = described[EVENT_FAILED](
        Event(EVENT_FAILED, {"target": "+491701234567", "message": "Freezer warm", "error": "HTTP 403"})
    )
    assert failed[LOGBOOK_ENTRY_MESSAGE] == "gave up a message to +49170…567: HTTP 403"
    assert "Freezer" not in str(failed)
    acknowledged = described[EVENT_ACKNOWLEDGED](
        Event(EVENT_ACKNOWLEDGED, {"from": "+491701234567", "reference": "12", "message": "Door open"})
    )
    assert acknowledged[LOGBOOK_ENTRY_MESSAGE] == "+49170…567 acknowledged alert #12"
