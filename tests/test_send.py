"""The sms_alerts.send action: targets, options, results, and every kind of bad input or trouble."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_set_domains_to_be_loaded, async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events

import custom_components.sms_alerts as integration_module
from custom_components.sms_alerts import services as services_module
from custom_components.sms_alerts.const import DOMAIN
from custom_components.sms_alerts.outbox import Outbox
from simulators.base import Fault

from .conftest import GATEWAY_PASSWORD, RECIPIENT, RunningSimulator, send


async def test_without_target_goes_to_all_recipients(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """No target: every recipient of the entry; the title is the first line."""
    response = await send(hass, loaded_gateway, message="Disk full", title="NAS")
    assert response == {
        "results": [
            {
                "target": RECIPIENT,
                "status": "sent",
                "provider": "sms_gateway",
                "error": None,
                "parts": 1,
                "encoding": "gsm7",
                "id": None,
            }
        ]
    }
    assert [(m.to, m.text) for m in gateway.sim.messages] == [("00491701234567", "NAS\nDisk full")]


async def test_targets_in_any_writing_groups_and_contacts(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """Numbers in any usual writing, groups and contacts, each with its own result."""
    response = await send(
        hass,
        loaded_gateway,
        message="UPS on battery",
        target=["+39 333 123 4567", "0171 9876543", "group:Oncall", "contact:7"],
    )
    assert [(r["target"], r["status"]) for r in response["results"]] == [
        ("+393331234567", "sent"),
        ("+491719876543", "sent"),
        ("group:Oncall", "sent"),
        ("contact:7", "sent"),
    ]
    assert [m.to for m in gateway.sim.messages] == ["00393331234567", "00491719876543", "group:Oncall", "user:Alice"]


async def test_call_without_response_sends_quietly(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """An automation that does not read the response gets no data and no error on success."""
    response = await hass.services.async_call(
        DOMAIN, "send", {"config_entry_id": loaded_gateway.entry_id, "message": "x"}, blocking=True
    )
    assert response is None
    assert len(gateway.sim.messages) == 1


async def test_single_target_string(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """A single target may be a plain string."""
    await send(hass, loaded_gateway, message="x", target="+39 333 123 4567")
    assert gateway.sim.messages[0].to == "00393331234567"


@pytest.mark.parametrize(
    "text",
    [
        "Příliš žluťoučký kůň úpěl ďábelské ódy",
        "Freezer warm 🥶🚨",
        'It\'s "hot" in /var/log \\ C:\\temp',
        "<b>not html</b> & 100% ; --",
        "Line 1\nLine 2\r\nLine 3",
    ],
)
async def test_text_arrives_intact(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator, text: str
) -> None:
    """Unicode, emoji, quotes, slashes and newlines arrive exactly as sent."""
    response = await send(hass, loaded_gateway, message=text)
    assert response["results"][0]["status"] == "sent"
    assert gateway.sim.messages[0].text == text.strip()


async def test_long_message_is_sent_whole_and_parts_counted(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """2,000 characters go out whole; the result says how many SMS parts they take."""
    text = ("Disk /dev/sda1 is 98% full. " * 72)[:2000]
    response = await send(hass, loaded_gateway, message=text)
    assert response["results"][0]["parts"] == 14
    assert gateway.sim.messages[0].text == text.strip()
    response = await send(hass, loaded_gateway, message="ř" * 2000)
    assert response["results"][0]["parts"] == 30


async def test_fifty_recipients(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """Fifty numbers, fifty messages, fifty results in order."""
    numbers = [f"+49170{1000000 + i}" for i in range(50)]
    response = await send(hass, loaded_gateway, message="Evacuate", target=numbers)
    assert [r["target"] for r in response["results"]] == numbers
    assert {r["status"] for r in response["results"]} == {"sent"}
    assert [m.to for m in gateway.sim.messages] == [f"00{n[1:]}" for n in numbers]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"telegram": True}, {"mode": "telnumber", "channel": "telegram, sms fallback", "ring": False, "flash": False}),
        ({"telegram_only": True}, {"mode": "telnumber", "channel": "telegram", "ring": False, "flash": False}),
        ({"ring": True}, {"mode": "number", "channel": "sms", "ring": True, "flash": False}),
        ({"flash": True}, {"mode": "number", "channel": "sms", "ring": False, "flash": True}),
        ({"severity": "critical"}, {"mode": "number", "channel": "sms", "ring": False, "flash": False}),
    ],
)
async def test_provider_options(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    options: dict[str, object],
    expected: dict[str, object],
) -> None:
    """Telegram, ring and flash reach the gateway as its documented fields."""
    await send(hass, loaded_gateway, message="x", **options)
    assert gateway.sim.messages[0].options == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"message": ""}, "The message is empty"),
        ({"message": "   ", "title": " "}, "The message is empty"),
        ({"message": "x", "target": ["not a number"]}, '"not a number" is not a valid phone number'),
        (
            {"message": "x", "target": ["ext:1001", "not a number"]},
            'This provider cannot send to "ext:1001" (ext targets are not supported)',
        ),
        (
            {"message": "x", "target": ["fax:123"]},
            '"fax:123" is no known kind of target; use a phone number or one of contact, ext, group',
        ),
        (
            {"message": "x", "postpone": "2026-12-01 10:00:00"},
            "The provider sms_gateway does not support the option postpone",
        ),
        ({"message": "x", "gsm": "9c7514330001"}, "The provider sms_gateway does not support the option gsm"),
    ],
)
async def test_bad_input_is_a_translated_error_and_sends_nothing(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    data: dict[str, object],
    message: str,
) -> None:
    """Text, options and targets are checked before the first request; with no readable target nothing goes."""
    requests_before = len(gateway.sim.requests)
    with pytest.raises(ServiceValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        await send(hass, loaded_gateway, **data)
    assert len(gateway.sim.requests) == requests_before
    assert gateway.sim.messages == []


async def test_missing_country_for_a_national_number(hass: HomeAssistant, loaded_gateway: MockConfigEntry) -> None:
    """Without a Home Assistant country a national number needs its country code."""
    hass.config.country = None
    with pytest.raises(ServiceValidationError, match="has no country code"):
        await send(hass, loaded_gateway, message="x", target=["01701234567"])


async def test_no_recipients_and_no_target(
    hass: HomeAssistant, gateway_entry: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """An entry without recipients needs a target."""
    entry = MockConfigEntry(domain=DOMAIN, title="Bare", unique_id="bare", data=gateway_entry.data)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    with pytest.raises(ServiceValidationError, match="has no recipients"):
        await send(hass, entry, message="x")


async def test_unknown_and_unloaded_entries(hass: HomeAssistant, loaded_gateway: MockConfigEntry) -> None:
    """The entry must exist, belong to SMS Alerts and be loaded."""
    with pytest.raises(ServiceValidationError, match="no SMS Alerts entry with the id nope"):
        await hass.services.async_call(
            DOMAIN, "send", {"config_entry_id": "nope", "message": "x"}, blocking=True, return_response=True
        )
    other = MockConfigEntry(domain="demo")
    other.add_to_hass(hass)
    with pytest.raises(ServiceValidationError, match="no SMS Alerts entry"):
        await send(hass, other, message="x")
    await hass.config_entries.async_unload(loaded_gateway.entry_id)
    with pytest.raises(ServiceValidationError, match="is not loaded"):
        await send(hass, loaded_gateway, message="x")


async def test_partial_failure_is_returned_per_target(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """One refused target fails alone; the others go out; the caller sees why."""
    response = await send(hass, loaded_gateway, message="x", target=["group:Nobody", RECIPIENT])
    assert response["results"] == [
        {
            "target": "group:Nobody",
            "status": "failed",
            "provider": "sms_gateway",
            "error": "HTTP 400: Error. See Gateway logs for more information.",
            "parts": 1,
            "encoding": "gsm7",
            "id": None,
        },
        {
            "target": RECIPIENT,
            "status": "sent",
            "provider": "sms_gateway",
            "error": None,
            "parts": 1,
            "encoding": "gsm7",
            "id": None,
        },
    ]


async def test_partial_failure_without_response_raises(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """A caller that does not read results still hears of the failure."""
    with pytest.raises(HomeAssistantError, match="could not be sent to 1 of 2 targets: group:Nobody"):
        await hass.services.async_call(
            DOMAIN,
            "send",
            {"config_entry_id": loaded_gateway.entry_id, "message": "x", "target": ["group:Nobody", RECIPIENT]},
            blocking=True,
        )
    assert len(gateway.sim.messages) == 1


async def test_failure_fires_event_and_logs_once(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A target given up fires sms_alerts_failed for automations to escalate."""
    events = async_capture_events(hass, "sms_alerts_failed")
    with pytest.raises(HomeAssistantError):
        await send(hass, loaded_gateway, message="Freezer warm", target=["group:Nobody"])
    await hass.async_block_till_done()
    assert [e.data for e in events] == [
        {
            "entry_id": loaded_gateway.entry_id,
            "target": "group:Nobody",
            "message": "Freezer warm",
            "error": "HTTP 400: Error. See Gateway logs for more information.",
        }
    ]
    assert caplog.text.count("Message to group:Nobody via") == 1


async def test_refused_login_starts_reauth(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """A 401 on a send starts the reauth flow at once."""
    gateway.sim.users["apiuser"].password = "rotated"
    with pytest.raises(HomeAssistantError, match="401 Unauthorized"):
        await send(hass, loaded_gateway, message="x")
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == [SOURCE_REAUTH]
    assert flows[0]["context"]["entry_id"] == loaded_gateway.entry_id


async def test_lost_api_right_raises_repair_issue_cleared_by_next_success(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """A 403 is a repair issue telling what to grant; the next success clears it."""
    gateway.sim.users["apiuser"].api_access = False
    with pytest.raises(HomeAssistantError, match="403 Forbidden"):
        await send(hass, loaded_gateway, message="x")
    registry = ir.async_get(hass)
    issue_id = f"{loaded_gateway.entry_id}_no_api_permission"
    issue = registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "no_api_permission"
    gateway.sim.users["apiuser"].api_access = True
    await send(hass, loaded_gateway, message="x")
    assert registry.async_get_issue(DOMAIN, issue_id) is None


async def test_no_secret_in_logs_urls_or_errors(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The password travels in the POST body only, never in a URL, a log line or an error."""
    await send(hass, loaded_gateway, message="x")
    gateway.sim.fail(Fault.HTML_500, times=1)
    queued = await send(hass, loaded_gateway, message="y", target=["group:Oncall"])
    assert queued["results"][0]["status"] == "queued"
    gateway.sim.users["apiuser"].password = "rotated"
    with pytest.raises(HomeAssistantError) as err_auth:
        await send(hass, loaded_gateway, message="z")
    await hass.async_block_till_done()
    api = [r for r in gateway.sim.requests if r.path == "/api.php"]
    assert all(r.query == {} for r in api)
    assert all(r.form.get("password") == GATEWAY_PASSWORD for r in api)
    # The status page takes no login: nothing is sent to it
    assert all(not r.form and "password" not in r.query for r in gateway.sim.requests if r.path == "/check.php")
    assert GATEWAY_PASSWORD not in caplog.text
    assert GATEWAY_PASSWORD not in str(queued)
    assert GATEWAY_PASSWORD not in str(err_auth.value)
    assert "00491701234567" not in caplog.text
    assert RECIPIENT not in caplog.text


async def waits_then_sends(hass: HomeAssistant, entry: MockConfigEntry, gate: asyncio.Event, text: str) -> None:
    """An alert sent now neither fails nor goes out while the entry is held up; it is sent once the gate opens."""
    sending = hass.async_create_task(send(hass, entry, message=text))
    await asyncio.sleep(0.05)
    assert not sending.done()
    gate.set()
    assert (await sending)["results"][0]["status"] == "sent"


async def test_an_alert_sent_during_a_reload_waits_for_it(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Options changed, login renewed: the entry is reloaded, and an alert sent meanwhile goes out after it."""
    gate, unloading = asyncio.Event(), asyncio.Event()
    real_unload = Outbox.async_unload

    async def slow_unload(outbox: Outbox) -> None:
        unloading.set()
        await gate.wait()
        await real_unload(outbox)

    monkeypatch.setattr(Outbox, "async_unload", slow_unload)
    reload = hass.async_create_task(hass.config_entries.async_reload(loaded_gateway.entry_id))
    await unloading.wait()
    assert loaded_gateway.state is ConfigEntryState.UNLOAD_IN_PROGRESS
    await waits_then_sends(hass, loaded_gateway, gate, "Freezer warm")
    assert await reload
    assert [m.text for m in gateway.sim.messages] == ["Freezer warm"]

    # A reload that does not end in time: the alert fails as not loaded, instead of waiting for ever
    gate.clear()
    unloading.clear()
    monkeypatch.setattr(services_module, "LOAD_WAIT", 0.05)
    reload = hass.async_create_task(hass.config_entries.async_reload(loaded_gateway.entry_id))
    await unloading.wait()
    with pytest.raises(ServiceValidationError, match="is not loaded"):
        await send(hass, loaded_gateway, message="x")
    gate.set()
    assert await reload


async def test_a_huge_alert_is_cut_and_sent(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """An automation that puts a whole log into an alert still gets the alert out, cut to the limit."""
    response = await send(hass, loaded_gateway, message="Disk full: " + "x" * 6000)
    assert response["results"][0]["status"] == "sent"
    received = gateway.sim.messages[0].text
    assert received.startswith("Disk full: xxx")
    assert len(received) == 4590
    assert received.endswith("...")
    assert (response["results"][0]["encoding"], response["results"][0]["parts"]) == ("gsm7", 30)
    assert "an alert of 6011 characters was cut to 4590 to be sent" in caplog.text


async def test_a_mistyped_target_does_not_keep_the_alert_from_the_others(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """One bad number in an on-call list: the others get the alert; the bad one fails loudly, with the event."""
    events = async_capture_events(hass, "sms_alerts_failed")
    response = await send(
        hass, loaded_gateway, message="Freezer warm", target=["+49 170 1234567", "not a number", "ext:1001"]
    )
    assert [(r["target"], r["status"]) for r in response["results"]] == [
        (RECIPIENT, "sent"),
        ("not a number", "failed"),
        ("ext:1001", "failed"),
    ]
    assert response["results"][1]["error"] == '"not a number" is not a valid phone number'
    assert response["results"][2]["error"] == 'This provider cannot send to "ext:1001" (ext targets are not supported)'
    assert [m.to for m in gateway.sim.messages] == ["00491701234567"]
    assert [(e.data["target"], e.data["message"]) for e in events] == [
        ("not a number", "Freezer warm"),
        ("ext:1001", "Freezer warm"),
    ]
    assert "failed: the target cannot be read (invalid_number)" in caplog.text
    assert hass.states.get("sensor.sms_gateway_127_0_0_1_last_send_status").state == "partial"  # type: ignore[union-attr]

    # Without the response the caller still learns of it, after the others were sent
    with pytest.raises(HomeAssistantError, match="could not be sent to 1 of 2 targets"):
        await hass.services.async_call(
            DOMAIN,
            "send",
            {"config_entry_id": loaded_gateway.entry_id, "message": "UPS on battery", "target": [RECIPIENT, "0"]},
            blocking=True,
        )
    assert [m.text for m in gateway.sim.messages] == ["Freezer warm", "UPS on battery"]


@pytest.mark.parametrize("slow", ["async_setup", "async_setup_entry"])
async def test_an_alert_sent_while_home_assistant_starts_waits_for_the_entry(
    hass: HomeAssistant,
    gateway_entry: MockConfigEntry,
    gateway: RunningSimulator,
    monkeypatch: pytest.MonkeyPatch,
    slow: str,
) -> None:
    """At start the action exists before the entry is set up: an automation's alert then waits for it.

    Slowed in async_setup: the action is registered, the entry's setup has not begun. Slowed in
    async_setup_entry: the entry is being set up.
    """
    gate, slowed = asyncio.Event(), asyncio.Event()
    real = getattr(integration_module, slow)

    async def slow_step(hass: HomeAssistant, arg: Any) -> bool:
        if slow == "async_setup":
            result = await real(hass, arg)  # registers the action
            slowed.set()
            await gate.wait()
            return bool(result)
        slowed.set()
        await gate.wait()
        return bool(await real(hass, arg))

    monkeypatch.setattr(integration_module, slow, slow_step)
    hass.config.country = "DE"
    gateway_entry.add_to_hass(hass)
    async_set_domains_to_be_loaded(hass, {DOMAIN})  # as Home Assistant's start does
    setup = hass.async_create_task(async_setup_component(hass, DOMAIN, {}))
    await slowed.wait()
    assert hass.services.has_service(DOMAIN, "send")
    assert gateway_entry.state is not ConfigEntryState.LOADED
    await waits_then_sends(hass, gateway_entry, gate, "UPS on battery")
    assert await setup
    assert [m.text for m in gateway.sim.messages] == ["UPS on battery"]
