"""Escalation until acknowledged, end to end: real HTTP to a source's webhook, pages at the SMS Gateway simulator.

Time passes with the freezer and async_fire_time_changed; replies come the way the modem hands them over
(webhook.async_handle_events), the path the IPEX webhook takes as well.
"""

from __future__ import annotations

from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.sms_alerts.alert_store import storage_key
from custom_components.sms_alerts.alerts.paging import codes_in, mask_number, page_text, same_number
from custom_components.sms_alerts.api.ipex_webhook import InboundSms
from custom_components.sms_alerts.const import DOMAIN
from custom_components.sms_alerts.diagnostics import async_get_config_entry_diagnostics
from custom_components.sms_alerts.message import sms_info
from custom_components.sms_alerts.webhook import async_handle_events

from .conftest import RECIPIENT, RunningSimulator, advance, shown_state
from .test_alert_source_flow import SOURCE, configure, sources, start
from .test_alert_sources import NIGHT, entry_with, load, post, setup, source_subentry

START = "2026-01-15 12:00:00+00:00"
MINUTE = 60
NIGHT_RECIPIENT = {
    "data": {"target": NIGHT},
    "subentry_type": "recipient",
    "title": "Night",
    "unique_id": NIGHT,
    "subentry_id": "night",
}
# On call | 10, then Night | 15 | ring; the whole list once more
POLICY = [
    {"recipients": ["oncall"], "wait": 10, "ring": False},
    {"recipients": ["night"], "wait": 15, "ring": True},
]
SENSOR = "sensor.prometheus_open_alerts"


def digits(number: str) -> str:
    """A number as the simulator shows it (digits only)."""
    return number.lstrip("+")


def sent(gateway: RunningSimulator) -> list[tuple[str, str, bool]]:
    """What the simulator received: (who: oncall/night, text, ring)."""
    who = {digits(RECIPIENT): "oncall", digits(NIGHT): "night"}
    return [
        (
            next((name for number, name in who.items() if number in message.to), message.to),
            message.text,
            bool(message.options.get("ring")),
        )
        for message in gateway.sim.messages
    ]


async def escalated(hass: HomeAssistant, gateway: RunningSimulator, **data: Any) -> MockConfigEntry:
    """An entry with On call and Night, and a source escalating critical alerts with POLICY."""
    entry = entry_with(gateway, NIGHT_RECIPIENT, source_subentry(escalation=POLICY, escalation_repeat=1, **data))
    await setup(hass, entry)
    return entry


async def escalation_shown(hass: HomeAssistant) -> dict[str, Any]:
    """The escalation of the newest open alert, as its sensor shows it."""
    state = await shown_state(hass, SENSOR)
    assert state is not None
    return dict(state.attributes["alerts"][0]["escalation"])


async def test_pages_step_by_step_with_the_waits_then_repeats_then_runs_out(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Step 1 at once (instead of the routed recipients), step 2 with a ring after 10 min, a second round, the end."""
    freezer.move_to(START)
    await escalated(hass, gateway)
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    page = "FIRING critical ProbeFailure https://server.example.org: BlackBox Probe Failure: https://server.example.org"
    assert sent(gateway) == [("oncall", f"{page} - Ack A1 in Home Assistant", False)]
    shown = await escalation_shown(hass)
    assert shown["state"] == "active"
    assert (shown["step"], shown["round"], shown["paged"]) == (1, 1, ["On call"])
    assert shown["next_page"] == "2026-01-15T12:10:00+00:00"
    await advance(hass, freezer, 9 * MINUTE)
    assert len(sent(gateway)) == 1
    await advance(hass, freezer, MINUTE)
    assert sent(gateway)[1:] == [("night", f"{page} - Ack A1 in Home Assistant", True)]
    await advance(hass, freezer, 15 * MINUTE)
    assert [who for who, _text, _ring in sent(gateway)] == ["oncall", "night", "oncall"]
    assert (await escalation_shown(hass))["round"] == 2
    await advance(hass, freezer, 10 * MINUTE)
    assert [who for who, _text, _ring in sent(gateway)] == ["oncall", "night", "oncall", "night"]
    await advance(hass, freezer, 14 * MINUTE)
    assert (await escalation_shown(hass))["state"] == "active"
    await advance(hass, freezer, MINUTE)
    assert (await escalation_shown(hass))["state"] == "exhausted"
    assert "nobody acknowledged" in caplog.text
    await advance(hass, freezer, 60 * MINUTE)
    assert len(sent(gateway)) == 4


async def test_a_warning_below_the_policy_severity_goes_the_usual_way(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, gateway: RunningSimulator
) -> None:
    """Critical only (the default): a warning goes to the routed recipients, once, not escalated."""
    await escalated(hass, gateway)
    firing = load("alertmanager_firing")
    firing["alerts"][0]["labels"]["severity"] = "warning"
    assert await post(hass, hass_client_no_auth, firing) == 200
    assert sorted(who for who, _text, _ring in sent(gateway)) == ["night", "oncall"]
    assert all("Reply" not in text for _who, text, _ring in sent(gateway))
    assert "escalation" not in (await shown_state(hass, SENSOR)).attributes["alerts"][0]  # type: ignore[union-attr]


async def test_a_reply_with_the_code_stops_it_and_is_announced_to_the_others(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Night replies "ack a1" (any case) after step 2: no more pages; On call hears who acknowledged; the event."""
    freezer.move_to(START)
    entry = await escalated(hass, gateway)
    events = async_capture_events(hass, "sms_alerts_alert")
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    await advance(hass, freezer, 10 * MINUTE)
    assert len(sent(gateway)) == 2
    reply = InboundSms(id="in-1", sender="0049 170 9999999", to="", text="ack a1 on my way", created_at=None)
    await async_handle_events(hass, entry, [reply])
    await hass.async_block_till_done()
    assert sent(gateway)[2:] == [("oncall", "ACK A1 ProbeFailure https://server.example.org by 004917...999", False)]
    assert [event.data["status"] for event in events] == ["firing", "acknowledged"]
    shown = await escalation_shown(hass)
    assert (shown["state"], shown["acknowledged_by"], shown["next_page"]) == ("acknowledged", "004917...999", None)
    await advance(hass, freezer, 120 * MINUTE)
    assert len(sent(gateway)) == 3


async def test_a_reply_without_a_known_code_changes_nothing(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """A reply naming another code, or an outbox reference (#1), leaves the escalation running."""
    freezer.move_to(START)
    entry = await escalated(hass, gateway)
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    reply = InboundSms(id="x", sender=RECIPIENT, to="", text="ok #1 A7 A11", created_at=None)
    await async_handle_events(hass, entry, [reply])
    await advance(hass, freezer, 10 * MINUTE)
    assert [who for who, _text, _ring in sent(gateway)] == ["oncall", "night"]


async def test_the_acknowledge_action_stops_it_and_announces_from_home_assistant(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """sms_alerts.acknowledge by reference: no step 2; On call (paged) is told it was acknowledged in Home Assistant."""
    freezer.move_to(START)
    entry = await escalated(hass, gateway)
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    await hass.services.async_call(
        DOMAIN, "acknowledge", {"config_entry_id": entry.entry_id, "reference": "a1"}, blocking=True
    )
    await hass.async_block_till_done()
    assert sent(gateway)[1:] == [("oncall", "ACK A1 ProbeFailure https://server.example.org by Home Assistant", False)]
    await advance(hass, freezer, 60 * MINUTE)
    assert len(sent(gateway)) == 2


async def test_announcing_can_be_switched_off(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """announce_ack off: the acknowledgement stops the escalation and sends nothing."""
    freezer.move_to(START)
    entry = await escalated(hass, gateway, announce_ack=False)
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    await hass.services.async_call(
        DOMAIN, "acknowledge", {"config_entry_id": entry.entry_id, "reference": "A1"}, blocking=True
    )
    await advance(hass, freezer, 60 * MINUTE)
    assert len(sent(gateway)) == 1


async def test_resolved_by_the_source_stops_it_and_tells_those_paged(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Resolved after step 1: RESOLVED to On call (who was paged), nothing to Night, then or later."""
    freezer.move_to(START)
    await escalated(hass, gateway)
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    await advance(hass, freezer, 5 * MINUTE)
    assert await post(hass, hass_client_no_auth, load("alertmanager_resolved")) == 200
    await advance(hass, freezer, 60 * MINUTE)
    told = [(who, text.split()[0]) for who, text, _ring in sent(gateway)]
    assert told == [("oncall", "FIRING"), ("oncall", "RESOLVED")]


@pytest.mark.parametrize(("action", "extra"), [("acknowledge", {}), ("snooze", {"minutes": 5})])
async def test_an_action_that_names_no_alert_is_a_translated_error(
    hass: HomeAssistant, gateway: RunningSimulator, action: str, extra: dict[str, Any]
) -> None:
    """Neither a reference nor a fingerprint (both are optional in the form): a translated error, not the library's."""
    entry = await escalated(hass, gateway)
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN, action, {"config_entry_id": entry.entry_id, "reference": "", **extra}, blocking=True
        )
    assert err.value.translation_key == "alert_key_missing"


async def test_snooze_holds_it_until_the_snooze_ends(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Snoozed for 30 min after step 1: step 2 (due at 10 min) waits until 30 min; a bad key or minutes are refused."""
    freezer.move_to(START)
    entry = await escalated(hass, gateway)
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    await hass.services.async_call(
        DOMAIN,
        "snooze",
        {"config_entry_id": entry.entry_id, "fingerprint": "1a30ba71cca2921f", "minutes": 30},
        blocking=True,
    )
    assert (await escalation_shown(hass))["snoozed_until"] == "2026-01-15T12:30:00+00:00"
    await advance(hass, freezer, 29 * MINUTE)
    assert len(sent(gateway)) == 1
    await advance(hass, freezer, MINUTE)
    assert [who for who, _text, _ring in sent(gateway)] == ["oncall", "night"]
    with pytest.raises(ServiceValidationError, match="No open alert A9"):
        await hass.services.async_call(
            DOMAIN, "snooze", {"config_entry_id": entry.entry_id, "reference": "A9", "minutes": 5}, blocking=True
        )
    with pytest.raises(Exception, match="1440"):
        await hass.services.async_call(
            DOMAIN, "snooze", {"config_entry_id": entry.entry_id, "reference": "A1", "minutes": 1441}, blocking=True
        )


async def test_snoozing_an_alert_that_is_not_escalated_is_refused(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, gateway: RunningSimulator
) -> None:
    """An open alert without escalation: a translated error says there is nothing to snooze."""
    entry = entry_with(gateway, source_subentry())
    await setup(hass, entry)
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    with pytest.raises(ServiceValidationError, match="not being escalated"):
        await hass.services.async_call(
            DOMAIN, "snooze", {"config_entry_id": entry.entry_id, "reference": "A1", "minutes": 5}, blocking=True
        )


async def test_a_restart_pages_the_step_that_fell_due_once_and_no_earlier_one_again(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
    hass_storage: dict[str, Any],
) -> None:
    """Down from 5 to 30 min (step 2 fell due at 10): at setup Night is paged once; On call again only 15 min later."""
    freezer.move_to(START)
    entry = await escalated(hass, gateway)
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    await advance(hass, freezer, 5 * MINUTE)
    assert await hass.config_entries.async_unload(entry.entry_id)
    stored = hass_storage[storage_key(entry.entry_id)]["data"]["escalations"]
    assert [(item["code"], item["escalation"]["step"]) for item in stored] == [("A1", 1)]
    await advance(hass, freezer, 25 * MINUTE)
    assert len(sent(gateway)) == 1  # unloaded: its timer went with it
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    await advance(hass, freezer, 1)
    assert [who for who, _text, _ring in sent(gateway)] == ["oncall", "night"]
    await advance(hass, freezer, 14 * MINUTE)
    assert len(sent(gateway)) == 2
    await advance(hass, freezer, MINUTE)
    assert [who for who, _text, _ring in sent(gateway)] == ["oncall", "night", "oncall"]


async def test_diagnostics_show_the_escalation_without_names_or_numbers(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, gateway: RunningSimulator
) -> None:
    """Diagnostics: state, step and pages of each escalated alert; who was paged only counted."""
    entry = await escalated(hass, gateway)
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    (source,) = diagnostics["alert_sources"]
    assert source["escalation_steps"] == 2
    escalation = source["open"][0]["escalation"]
    assert (escalation["state"], escalation["pages"], escalation["paged"], escalation["acknowledged"]) == (
        "active",
        1,
        1,
        False,
    )
    assert "On call" not in str(diagnostics)


@pytest.mark.parametrize(
    ("policy", "error", "placeholders"),
    [
        ("On call | 10\nnot a step", "escalation_step", {"line": "2"}),
        ("On call | 10\n\nNobody | 5", "escalation_recipient", {"line": "3", "recipient": "Nobody"}),
        ("On call | 0", "escalation_wait", {"line": "1"}),
    ],
    ids=["bad-line", "unknown-recipient", "no-wait"],
)
async def test_flow_refuses_a_policy_it_cannot_read_naming_the_line(
    hass: HomeAssistant, gateway: RunningSimulator, policy: str, error: str, placeholders: dict[str, str]
) -> None:
    """A bad policy line or an unknown recipient: a translated error on the field naming the line; fixed, it saves."""
    entry = entry_with(gateway, NIGHT_RECIPIENT)
    await setup(hass, entry)
    result = await start(hass, entry)
    result = await configure(hass, result["flow_id"], {**SOURCE, "escalation": policy})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"escalation": error}
    assert {key: result["description_placeholders"][key] for key in placeholders} == placeholders
    fixed = {**SOURCE, "escalation": "on call | 10\nNight, On call | 15 | ring", "escalation_repeat": 2}
    result = await configure(hass, result["flow_id"], fixed)
    assert result["step_id"] == "setup"
    result = await configure(hass, result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (source,) = sources(entry)
    assert source.data["escalation"] == [
        {"recipients": ["oncall"], "wait": 10, "ring": False},
        {"recipients": ["night", "oncall"], "wait": 15, "ring": True},
    ]
    assert (source.data["escalation_severity"], source.data["escalation_repeat"], source.data["announce_ack"]) == (
        "critical",
        2,
        True,
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    result = await start(hass, entry, "reconfigure", subentry_id=source.subentry_id)
    suggested = {
        str(key): key.description["suggested_value"]
        for key in result["data_schema"].schema
        if key.description and "suggested_value" in key.description
    }
    assert suggested["escalation"] == "On call | 10\nNight, On call | 15 | ring"


def test_page_text_keeps_the_hint_within_one_sms() -> None:
    """A long alert text is cut, never the hint: GSM-7 within 160, UCS-2 within 70; either hint."""
    for replies, tail in ((True, " - Reply A123 to acknowledge"), (False, " - Ack A123 in Home Assistant")):
        for text in ("FIRING critical " + "x" * 300, "FIRING critical Überhitzung 🔥 " + "y" * 100):
            page = page_text(text, "A123", replies=replies)
            assert page.endswith(tail)
            assert sms_info(page).parts == 1
    assert page_text("FIRING critical DiskFull db1", "A2") == "FIRING critical DiskFull db1 - Reply A2 to acknowledge"
    assert (
        page_text("FIRING critical DiskFull db1", "A2", replies=False)
        == "FIRING critical DiskFull db1 - Ack A2 in Home Assistant"
    )


def test_codes_numbers_and_masks() -> None:
    """Codes stand alone in a reply; numbers compare across ways of writing; masks keep the SMS GSM-7."""
    assert codes_in("ACK A12, a3 and a3 again") == ["A12", "A3"]
    assert codes_in("#12 CA12 A12B 12") == []
    assert same_number("+491701234567", "00491701234567")
    assert same_number("+491701234567", "01701234567")
    assert not same_number("+491701234567", "+491709999999")
    assert mask_number("+491701234567") == "+49170...567"
    assert mask_number("110") == "110"


async def test_a_policy_taken_away_ends_the_running_escalations(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The source edited to no escalation (the entry reloads): its escalation ends quietly, not as run out."""
    freezer.move_to(START)
    entry = await escalated(hass, gateway)
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    source = entry.subentries["source1"]
    hass.config_entries.async_update_subentry(entry, source, data={**source.data, "escalation": []})
    await hass.async_block_till_done(wait_background_tasks=True)
    await advance(hass, freezer, 30 * MINUTE)
    assert len(sent(gateway)) == 1
    assert (await escalation_shown(hass))["next_page"] is None
    assert (await escalation_shown(hass))["state"] == "resolved"
    assert "nobody acknowledged" not in caplog.text


async def test_an_edited_policy_goes_on_from_the_step_reached(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Night taken out of the policy after On call was paged: the next page is round 2's On call, not the end."""
    freezer.move_to(START)
    entry = await escalated(hass, gateway)
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    source = entry.subentries["source1"]
    hass.config_entries.async_update_subentry(entry, source, data={**source.data, "escalation": POLICY[:1]})
    await hass.async_block_till_done(wait_background_tasks=True)
    await advance(hass, freezer, 10 * MINUTE)
    assert [who for who, _text, _ring in sent(gateway)] == ["oncall", "oncall"]
    assert (await escalation_shown(hass))["round"] == 2
    await advance(hass, freezer, 10 * MINUTE)
    assert (await escalation_shown(hass))["state"] == "exhausted"
    assert "nobody acknowledged" in caplog.text


def warning_firing(name: str = "DiskFull", status: str = "firing") -> dict[str, Any]:
    """Alertmanager's body of a warning alert of its own (another name and fingerprint), firing or resolved."""
    body = load("alertmanager_firing")
    alert = body["alerts"][0]
    alert["labels"] |= {"alertname": name, "severity": "warning"}
    alert["fingerprint"], alert["status"], body["status"] = f"fp-{name}", status, status
    return body


async def test_a_later_page_that_fails_leaves_the_one_paged_before_told(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Found by tests/test_alert_model.py: On call's second page failing (over the budget) forgot their first one.

    README: "RESOLVED goes to everybody paged, as to anybody told of an alert". The daily budget of 1 SMS
    takes the first page; the later ones fail; the next day the RESOLVED still goes to On call.
    """
    freezer.move_to(START)  # 04:00 in Home Assistant's time zone (US/Pacific)
    source = source_subentry(escalation=POLICY, escalation_repeat=1, escalation_severity="warning")
    await setup(hass, entry_with(gateway, NIGHT_RECIPIENT, source, options={"daily_budget": 1}))
    assert await post(hass, hass_client_no_auth, warning_firing()) == 200
    for minutes in (10, 15, 10, 15):
        await advance(hass, freezer, minutes * MINUTE)
    assert [who for who, _text, _ring in sent(gateway)] == ["oncall"]
    state = await shown_state(hass, SENSOR)
    assert state is not None
    assert state.attributes["alerts"][0]["recipients"] == 1
    await advance(hass, freezer, 24 * 60 * MINUTE)
    assert await post(hass, hass_client_no_auth, warning_firing(status="resolved")) == 200
    assert sent(gateway)[1:] == [("oncall", "RESOLVED DiskFull https://server.example.org", False)]


async def test_a_held_page_taken_back_at_the_resolution_keeps_the_resolved_of_the_page_before(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Found by tests/test_alert_model.py: a page held by the rate limit, taken back, cost On call their RESOLVED.

    With 1 SMS a minute, a critical alert's second round pages On call first and the warning's page waits;
    the warning resolves then: its held page is taken back, but On call had its first page, so the RESOLVED
    goes (when the minute ends).
    """
    freezer.move_to(START)
    source = source_subentry(escalation=POLICY, escalation_repeat=1, escalation_severity="warning")
    await setup(hass, entry_with(gateway, NIGHT_RECIPIENT, source, options={"rate_limit": 1}))
    assert await post(hass, hass_client_no_auth, load("alertmanager_firing")) == 200
    assert await post(hass, hass_client_no_auth, warning_firing()) == 200
    for minutes in (1, 9, 1, 14):
        await advance(hass, freezer, minutes * MINUTE)
    assert [who for who, _text, _ring in sent(gateway)] == ["oncall", "oncall", "night", "night", "oncall"]
    assert await post(hass, hass_client_no_auth, warning_firing(status="resolved")) == 200
    await advance(hass, freezer, MINUTE)
    assert [(who, text) for who, text, _ring in sent(gateway)[5:]] == [
        ("night", "RESOLVED DiskFull https://server.example.org"),
        ("oncall", "RESOLVED DiskFull https://server.example.org"),
    ]
