"""Per alert source: its event entity of every transition, its Acknowledge button, and templates of its SMS.

End to end as tests/test_alert_sources.py: real HTTP to the source's webhook, SMS at the SMS Gateway simulator.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.template import Template
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.sms_alerts import alert_texts
from custom_components.sms_alerts.alert_source_config import SourceConfig
from custom_components.sms_alerts.alert_texts import AlertTexts
from custom_components.sms_alerts.alerts.book import OpenAlert
from custom_components.sms_alerts.alerts.models import Alert, AlertStatus, Severity, SourceKind
from custom_components.sms_alerts.api.base import mask_target

from .conftest import RECIPIENT, RunningSimulator, advance, shown_state
from .test_alert_escalation import MINUTE, START, escalated, sent
from .test_alert_source_flow import SOURCE, configure, start
from .test_alert_sources import entry_with, load, post, setup, source_subentry, texts

EVENT = "event.prometheus_alert"
BUTTON = "button.prometheus_acknowledge"
SENSOR = "sensor.prometheus_open_alerts"
FINGERPRINT = "1a30ba71cca2921f"
# Variables as the README lists them ("Message templates")
TEMPLATE = (
    "{{ alert.severity | upper }} {{ alert.name }} at {{ alert.labels.instance }} "
    "[{{ alert.reference }}, {{ alert.count }}x, {{ source }}]: {{ alert.annotations.summary }}"
)
RESOLVED_TEMPLATE = "OK {{ alert.name }} ({{ alert.status }}, {{ alert.reference }})"


def event_shown(hass: HomeAssistant) -> dict[str, Any]:
    """The event entity's last event: type and attributes of the transition."""
    state = hass.states.get(EVENT)
    assert state is not None
    keys = ("event_type", "fingerprint", "name", "severity", "reference", "who")
    return {key: state.attributes.get(key) for key in keys}


async def press(hass: HomeAssistant) -> None:
    """Press the source's Acknowledge button."""
    await hass.services.async_call("button", "press", {ATTR_ENTITY_ID: BUTTON}, blocking=True)
    await hass.async_block_till_done()


async def test_the_event_entity_shows_firing_acknowledged_and_resolved(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, gateway: RunningSimulator
) -> None:
    """Each transition of the source's alert is an event of its entity, on the device of its open-alerts sensor."""
    entry = entry_with(gateway, source_subentry())
    await setup(hass, entry)
    registry = er.async_get(hass)
    event_entity, sensor_entity = registry.async_get(EVENT), registry.async_get(SENSOR)
    assert event_entity is not None
    assert sensor_entity is not None
    assert event_entity.device_id == sensor_entity.device_id
    assert event_entity.config_subentry_id == "source1"
    assert event_entity.translation_key == "alert_transition"
    state = hass.states.get(EVENT)
    assert state is not None
    assert state.attributes["event_types"] == ["firing", "acknowledged", "resolved", "paged", "snoozed"]
    device = dr.async_get(hass).async_get(event_entity.device_id or "")
    assert device is not None
    assert device.name == "Prometheus"

    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    firing = {"fingerprint": FINGERPRINT, "name": "ProbeFailure", "severity": "critical", "reference": "A1"}
    assert event_shown(hass) == {"event_type": "firing", **firing, "who": None}
    # Firing again is counted, not a transition: the event stays
    before = hass.states.get(EVENT)
    firing_again = load("alertmanager_firing")
    firing_again["groupKey"] = "a later notification of the same group"
    assert await post(hass, hass_client_no_auth, firing_again) == 200
    assert hass.states.get(EVENT) == before

    await hass.services.async_call(
        "sms_alerts", "acknowledge", {"config_entry_id": entry.entry_id, "reference": "A1"}, blocking=True
    )
    await hass.async_block_till_done()
    assert event_shown(hass) == {"event_type": "acknowledged", **firing, "who": "Home Assistant"}

    assert await post(hass, hass_client_no_auth, load("alertmanager_resolved")) == 200
    assert event_shown(hass) == {"event_type": "resolved", **firing, "who": None}


async def test_the_acknowledge_button_stops_the_escalation_and_is_shown_as_an_event(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The page is an event naming who (masked); pressing acknowledges: no step 2, On call hears of it."""
    freezer.move_to(START)
    await escalated(hass, gateway)
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    shown = event_shown(hass)
    assert (shown["event_type"], shown["reference"]) == ("paged", "A1")
    assert shown["who"] == f"On call ({mask_target(RECIPIENT)})"
    assert RECIPIENT not in str(hass.states.get(EVENT))
    state = hass.states.get(EVENT)
    assert state is not None
    assert (state.attributes["step"], state.attributes["round"]) == (1, 1)

    await press(hass)
    assert event_shown(hass)["event_type"] == "acknowledged"
    assert event_shown(hass)["who"] == "Home Assistant"
    sensor = await shown_state(hass, SENSOR)
    assert sensor is not None
    assert sensor.attributes["alerts"][0]["status"] == "acknowledged"
    assert sent(gateway)[1:] == [("oncall", "ACK A1 ProbeFailure https://server.example.org by Home Assistant", False)]
    await advance(hass, freezer, 60 * MINUTE)
    assert len(sent(gateway)) == 2

    # Nothing left to acknowledge: a translated refusal
    with pytest.raises(ServiceValidationError) as refused:
        await press(hass)
    assert refused.value.translation_key == "no_open_alerts"
    assert refused.value.translation_placeholders == {"source": "Prometheus"}


async def test_the_button_acknowledges_every_open_alert_of_its_source_only(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, gateway: RunningSimulator
) -> None:
    """Two open alerts: both acknowledged by one press; with none open the press is refused."""
    await setup(hass, entry_with(gateway, source_subentry()))
    with pytest.raises(ServiceValidationError, match="No open alert of Prometheus"):
        await press(hass)
    assert await post(hass, hass_client_no_auth, load("alertmanager_grouped")) == 200
    sensor = await shown_state(hass, SENSOR)
    assert sensor is not None
    assert int(sensor.state) >= 2
    await press(hass)
    sensor = await shown_state(hass, SENSOR)
    assert sensor is not None
    assert {alert["status"] for alert in sensor.attributes["alerts"]} == {"acknowledged"}


async def test_a_snooze_is_an_event(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """sms_alerts.snooze of an escalated alert: a snoozed event with its end."""
    freezer.move_to(START)
    entry = await escalated(hass, gateway)
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    await hass.services.async_call(
        "sms_alerts", "snooze", {"config_entry_id": entry.entry_id, "reference": "A1", "minutes": 30}, blocking=True
    )
    await hass.async_block_till_done()
    state = hass.states.get(EVENT)
    assert state is not None
    assert state.attributes["event_type"] == "snoozed"
    assert state.attributes["until"] == "2026-01-15T12:30:00+00:00"


async def test_templates_write_the_firing_and_the_resolved_sms(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, gateway: RunningSimulator
) -> None:
    """The source's templates are the texts at the simulator, with the README's variables."""
    entry = entry_with(gateway, source_subentry(message_template=TEMPLATE, resolved_template=RESOLVED_TEMPLATE))
    await setup(hass, entry)
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    assert await post(hass, hass_client_no_auth, load("alertmanager_resolved")) == 200
    assert [text for _to, text in texts(gateway)] == [
        (
            "CRITICAL ProbeFailure at https://server.example.org [A1, 1x, Prometheus]: "
            "BlackBox Probe Failure: https://server.example.org"
        ),
        "OK ProbeFailure (resolved, A1)",
    ]


async def test_an_escalation_pages_with_the_template(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """An escalated alert's page is the template's text with the reply hint."""
    freezer.move_to(START)
    await escalated(hass, gateway, message_template="{{ alert.name }} is down")
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    assert sent(gateway) == [("oncall", "ProbeFailure is down - Ack A1 in Home Assistant", False)]


@pytest.mark.parametrize(
    "template",
    [
        "{{ alert.labels.nope.deeper }}",  # an attribute of an undefined value raises
        "{{ alert.count / 0 }}",
        "{% if false %}never{% endif %}",  # an empty text
        "{{ '   ' }}",
    ],
)
async def test_a_failing_template_sends_the_default_text_with_one_warning(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    caplog: pytest.LogCaptureFixture,
    template: str,
) -> None:
    """Never a lost alert: the default text goes; one warning for several failures, no traceback."""
    entry = entry_with(gateway, source_subentry(message_template=template))
    await setup(hass, entry)
    caplog.clear()
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    # The sample's sender left 2 alerts out; nothing is left out here (tests/test_alert_not_shown.py)
    assert await post(hass, hass_client_no_auth, load("alertmanager_grouped") | {"truncatedAlerts": 0}) == 200
    sent_texts = [text for _to, text in texts(gateway)]
    assert sent_texts[0] == (
        "FIRING critical ProbeFailure https://server.example.org: BlackBox Probe Failure: https://server.example.org"
    )
    # Four more alerts failed the template as well: each sent with its default text
    assert len(sent_texts) == 5
    assert all(text.startswith("FIRING") for text in sent_texts)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and "template" in r.getMessage()]
    assert len(warnings) == 1
    assert "the default text is sent" in warnings[0].getMessage()


async def test_the_flow_refuses_a_template_it_cannot_read(hass: HomeAssistant, gateway: RunningSimulator) -> None:
    """A syntax error is a translated error on its field; a good template is kept in the subentry."""
    entry: MockConfigEntry = entry_with(gateway)
    await setup(hass, entry)
    result = await start(hass, entry)
    result = await configure(
        hass, result["flow_id"], {**SOURCE, "message_template": "{{ alert.name ", "resolved_template": "{% if %}"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"message_template": "invalid_template", "resolved_template": "invalid_template"}
    result = await configure(hass, result["flow_id"], {**SOURCE, "message_template": f"  {TEMPLATE}  "})
    assert result["step_id"] == "setup"
    result = await configure(hass, result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (source,) = [sub for sub in entry.subentries.values() if sub.subentry_type == "alert_source"]
    assert source.data["message_template"] == TEMPLATE
    assert source.data["resolved_template"] == ""


async def test_the_readme_template_example(hass: HomeAssistant) -> None:
    """The example of README "Message templates" writes what the README says it does."""
    example = (
        "{{ alert.severity | upper }} {{ alert.name }} on {{ alert.labels.instance | default('?') }}: "
        "{{ alert.summary }} ({{ alert.reference }})"
    )
    config = _source(example)
    alert = Alert(
        kind=SourceKind.ALERTMANAGER,
        fingerprint="f1",
        status=AlertStatus.FIRING,
        name="DiskFull",
        severity=Severity.CRITICAL,
        labels={"instance": "db1:9100"},
        annotations={"summary": "/ at 97%"},
    )
    opened = OpenAlert(source="source1", fingerprint="f1", name="DiskFull", severity="critical", code="A12")
    assert AlertTexts(hass).text(config, alert, opened) == "CRITICAL DiskFull on db1:9100: / at 97% (A12)"
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert example in readme
    assert "`CRITICAL DiskFull on db1:9100: / at 97% (A12)`" in readme


def _source(template: str) -> SourceConfig:
    """A source with a message template."""
    return SourceConfig(
        subentry_id="source1",
        name="Prometheus",
        kind=SourceKind.ALERTMANAGER,
        webhook_id="hook",
        token="tok",
        recipients=(),
        send_resolved=True,
        routes=(),
        fields=None,
        local_only=True,
        message_template=template,
    )


def _alert(name: str = "DiskFull") -> Alert:
    """A firing warning alert."""
    return Alert(
        kind=SourceKind.ALERTMANAGER,
        fingerprint="f1",
        status=AlertStatus.FIRING,
        name=name,
        severity=Severity.WARNING,
        labels={},
        annotations={},
    )


async def test_templates_compiled_are_bounded_and_each_still_renders(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many sources' templates: the compiled ones are kept up to a bound, then compiled again; each text is right."""
    monkeypatch.setattr(alert_texts, "_MAX_COMPILED", 2)
    texts = AlertTexts(hass)
    for number in range(5):
        assert texts.text(_source(f"{number}: {{{{ alert.name }}}}"), _alert()) == f"{number}: DiskFull"
    assert texts.text(_source("0: {{ alert.name }}"), _alert("NodeDown")) == "0: NodeDown"


async def test_a_template_that_breaks_unexpectedly_still_sends_the_default_text(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An error the template library does not turn into a TemplateError: the default text, one warning."""

    def broken(*_args: object, **_kwargs: object) -> str:
        raise RecursionError

    monkeypatch.setattr(Template, "async_render", broken)
    text = AlertTexts(hass).text(_source("{{ alert.name }}"), _alert())
    assert text.startswith("FIRING warning DiskFull")
    warnings = [record for record in caplog.records if record.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "RecursionError" in warnings[0].getMessage()
