"""Provider features seen through Home Assistant: Wildix options, PBXware extensions, IPEX sender and webhook."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_RECONFIGURE, SOURCE_USER, ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import async_capture_events
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.sms_alerts.const import DOMAIN
from simulators.phones import sms_count

from .conftest import RunningSimulator, advance, on_disk, send, show_reports
from .options_form import submit_options

NUMBER = "+491701234567"


async def flow(hass: HomeAssistant, key: str, form: dict[str, Any]) -> dict[str, Any]:
    """Pick a provider in the menu and submit its form."""
    hass.config.country = "DE"
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": key})
    return dict(await hass.config_entries.flow.async_configure(result["flow_id"], form))


# Wildix


def wildix_form(url: str, **extra: Any) -> dict[str, Any]:
    """The Wildix form."""
    return {"url": url, "username": "101", "password": "sms101api", "verify_ssl": True, **extra}


async def wildix_entry(hass: HomeAssistant, url: str, **extra: Any) -> ConfigEntry:
    """A Wildix entry made through the flow."""
    result = await flow(hass, "wildix", wildix_form(url, **extra))
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done(wait_background_tasks=True)
    entry: ConfigEntry = result["result"]
    return entry


async def test_wildix_gsm_is_checked_and_normalised(hass: HomeAssistant, wildix_sim: RunningSimulator) -> None:
    """A malformed MAC is a field error; a good one is stored as 12 lower-case hex digits."""
    result = await flow(hass, "wildix", wildix_form(wildix_sim.url, gsm="9c:75:14"))
    assert result["errors"] == {"gsm": "invalid_gsm"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], wildix_form(wildix_sim.url, gsm="9C-75-14-33-00-01")
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["gsm"] == "9c7514330001"
    assert result["title"] == "Wildix Alarm Sender"
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_wildix_postpone_and_gsm_reach_the_pbx(hass: HomeAssistant, wildix_sim: RunningSimulator) -> None:
    """Postpone is written in Home Assistant's time zone as dd/mm/YYYY HH:MM; gsm overrides per send."""
    await hass.config.async_set_time_zone("Europe/Rome")
    entry = await wildix_entry(hass, wildix_sim.url)
    when = (dt_util.utcnow() + timedelta(days=17)).replace(hour=17, minute=5, second=0, microsecond=0)
    await send(hass, entry, message="x", target=[NUMBER], postpone=when.isoformat(), gsm="9C:75:14:33:00:01")
    rome = when.astimezone(ZoneInfo("Europe/Rome")).strftime("%d/%m/%Y %H:%M")
    assert rome.endswith(" 18:05")
    assert wildix_sim.sim.messages[0].options == {"postpone": rome, "gsm": "9c7514330001"}


@pytest.mark.parametrize("when", ["9999-12-31T23:59:00+00:00", "0001-01-01T00:30:00+05:00", "2099-01-01T08:00:00"])
async def test_wildix_a_postpone_years_away_is_refused_before_anything_is_sent(
    hass: HomeAssistant, wildix_sim: RunningSimulator, caplog: pytest.LogCaptureFixture, when: str
) -> None:
    """A postponed time more than a year from now is a mistake (year 9999 cannot be written in Rome's time).

    It is refused with a translated error before anything is taken: before, it was taken, and its send failed
    with a traceback at every retry.
    """
    await hass.config.async_set_time_zone("Europe/Rome")
    entry = await wildix_entry(hass, wildix_sim.url)
    with pytest.raises(ServiceValidationError, match="not valid for the option postpone"):
        await send(hass, entry, message="x", target=[NUMBER], postpone=when)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert wildix_sim.sim.messages == []
    assert entry.runtime_data.outbox.items == []
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_wildix_invalid_gsm_in_action_sends_nothing(hass: HomeAssistant, wildix_sim: RunningSimulator) -> None:
    """A bad per-send MAC is a validation error before any request."""
    entry = await wildix_entry(hass, wildix_sim.url)
    with pytest.raises(ServiceValidationError, match="not valid for the option gsm"):
        await send(hass, entry, message="x", target=[NUMBER], gsm="nonsense")
    assert wildix_sim.sim.messages == []


async def test_wildix_hundred_recipients_take_two_requests(hass: HomeAssistant, wildix_sim: RunningSimulator) -> None:
    """One alert to 100 numbers is 2 requests of 50, and 100 results."""
    entry = await wildix_entry(hass, wildix_sim.url)
    before = len(wildix_sim.sim.requests)
    numbers = [f"+49170{1000000 + i}" for i in range(100)]
    response = await send(hass, entry, message="Evacuate", target=numbers)
    assert len(wildix_sim.sim.requests) - before == 2
    assert [r["status"] for r in response["results"]] == ["sent"] * 100
    assert len(wildix_sim.sim.messages) == 100


async def test_wildix_long_alert_and_lookalikes(hass: HomeAssistant, wildix_sim: RunningSimulator) -> None:
    """A long alert is split into numbered parts; quotes and slashes survive as look-alikes."""
    entry = await wildix_entry(hass, wildix_sim.url)
    text = 'Rack "B2" /var is full. ' * 40
    await send(hass, entry, message=text, target=[NUMBER])
    texts = [m.text for m in wildix_sim.sim.messages]
    assert len(texts) == 2
    assert texts[0].startswith("(1∕2) Rack ″B2″ ∕var is full.")  # noqa: RUF001 - the look-alikes are the point
    assert all(len(t) <= 670 for t in texts)


async def test_wildix_options_turn_lookalikes_off_and_shorten(
    hass: HomeAssistant, wildix_sim: RunningSimulator
) -> None:
    """The options flow offers 300 characters for older WMS and look-alikes off."""
    entry = await wildix_entry(hass, wildix_sim.url)
    wildix_sim.sim.max_length = 300
    result = await submit_options(
        hass, entry.entry_id, handover_minutes=10, max_age_hours=24, max_length="300", lookalike_chars=False
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    await send(hass, entry, message="It's /tmp " * 50, target=[NUMBER])
    texts = [m.text for m in wildix_sim.sim.messages]
    assert len(texts) == 2
    assert all(len(t) <= 300 for t in texts)
    assert "It s  tmp" in texts[0]


async def _wildix_options(hass: HomeAssistant, entry: ConfigEntry, **options: Any) -> None:
    """Submit the Wildix options form (storm control off) and wait for the reload."""
    result = await submit_options(
        hass, entry.entry_id, **{"handover_minutes": 10, "max_age_hours": 24, "dedup_minutes": 0, **options}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_wildix_result_reports_the_encoding_of_the_look_alikes(
    hass: HomeAssistant, wildix_sim: RunningSimulator
) -> None:
    """Quotes and slashes become UCS-2 look-alikes: the result says ucs2 and counts 70-character parts."""
    entry = await wildix_entry(hass, wildix_sim.url)
    plain = (await send(hass, entry, message="Rack B2 is full", target=[NUMBER]))["results"][0]
    assert (plain["encoding"], plain["parts"]) == ("gsm7", 1)
    quoted = (await send(hass, entry, message="Rack 'B2' is full", target=[NUMBER]))["results"][0]
    assert (quoted["encoding"], quoted["parts"]) == ("ucs2", 1)
    text = "/var/log on nas01 is at 97 percent " * 3  # 105 characters: one GSM-7 SMS would not hold it either
    long = (await send(hass, entry, message=text.strip(), target=[NUMBER]))["results"][0]
    assert (long["encoding"], long["parts"]) == ("ucs2", 2)
    await _wildix_options(hass, entry, lookalike_chars=False)
    spaced = (await send(hass, entry, message="Rack 'B2' is full", target=[NUMBER]))["results"][0]
    assert (spaced["encoding"], spaced["parts"]) == ("gsm7", 1)
    assert wildix_sim.sim.messages[-1].text == "Rack  B2  is full"


async def test_wildix_gsm_only_keeps_gsm7_without_look_alikes(
    hass: HomeAssistant, wildix_sim: RunningSimulator
) -> None:
    """GSM-7 only wins over look-alikes: the alert stays GSM-7 and the PBX prints those characters as spaces."""
    entry = await wildix_entry(hass, wildix_sim.url)
    await _wildix_options(hass, entry, gsm_only=True)
    result = (await send(hass, entry, message='Door "north" open', target=[NUMBER]))["results"][0]
    assert (result["encoding"], result["parts"]) == ("gsm7", 1)
    assert wildix_sim.sim.messages[-1].text == "Door  north  open"


async def test_wildix_single_sms_option_counts_the_look_alikes(
    hass: HomeAssistant, wildix_sim: RunningSimulator
) -> None:
    """One SMS at most: a quoted alert that look-alikes make UCS-2 is cut to 70 characters, not 160."""
    entry = await wildix_entry(hass, wildix_sim.url)
    await _wildix_options(hass, entry, long_messages="single")
    text = "UPS 'rack 3' on battery since 02:14, runtime left 11 min, load 64 percent, input voltage 0 V"
    result = (await send(hass, entry, message=text, target=[NUMBER]))["results"][0]
    assert (result["encoding"], result["parts"]) == ("ucs2", 1)
    sent = wildix_sim.sim.messages[-1].text
    assert sent.endswith("…")
    assert sms_count(sent)[0::2] == ("UCS-2", 1)


async def test_wildix_queue_warning_is_retried_three_times_then_failed(
    hass: HomeAssistant, wildix_sim: RunningSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """A number the PBX cannot queue is retried, and refused after three tries (WARNING_TRIES), not a fourth."""
    entry = await wildix_entry(hass, wildix_sim.url)
    wildix_sim.sim.warning_numbers.add(NUMBER)
    events = async_capture_events(hass, "sms_alerts_failed")
    response = await send(hass, entry, message="x", target=[NUMBER, "+491709999999"])
    assert [r["status"] for r in response["results"]] == ["queued", "sent"]
    for _ in range(10):
        await advance(hass, freezer, 300)
    assert [e.data["target"] for e in events] == [NUMBER]
    assert entry.runtime_data.outbox.items == []
    tries = [r for r in wildix_sim.sim.requests if NUMBER in r.form.get("number", "").split(",")]
    assert len(tries) == 3


# PBXware


def pbxware_form(url: str, **extra: Any) -> dict[str, Any]:
    """The PBXware form."""
    return {"url": url, "api_key": "ha-alerts-key", "server": "1", "verify_ssl": True, **extra}


async def pbxware_entry(hass: HomeAssistant, url: str) -> ConfigEntry:
    """A PBXware entry made through the flow."""
    result = await flow(hass, "pbxware", pbxware_form(url))
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done(wait_background_tasks=True)
    entry: ConfigEntry = result["result"]
    return entry


async def test_pbxware_extension_and_number_targets(hass: HomeAssistant, pbxware_sim: RunningSimulator) -> None:
    """ext: goes to the extension's SMS number; numbers through the action API; ext without number fails."""
    entry = await pbxware_entry(hass, pbxware_sim.url)
    response = await send(hass, entry, message="Voicemail full", target=["ext:1001", NUMBER, "ext:1002"])
    assert [(r["target"], r["status"]) for r in response["results"]] == [
        ("ext:1001", "sent"),
        (NUMBER, "sent"),
        ("ext:1002", "failed"),
    ]
    assert response["results"][2]["error"].endswith("Destination does not have an assigned SMS number")
    assert [m.to for m in pbxware_sim.sim.messages] == ["+14165551234", NUMBER]


async def test_pbxware_refuses_groups(hass: HomeAssistant, pbxware_sim: RunningSimulator) -> None:
    """group: is a validation error on PBXware."""
    entry = await pbxware_entry(hass, pbxware_sim.url)
    with pytest.raises(ServiceValidationError, match="group targets are not supported"):
        await send(hass, entry, message="x", target=["group:1"])


async def test_pbxware_sms_api_disabled_is_a_repair_issue(hass: HomeAssistant, pbxware_sim: RunningSimulator) -> None:
    """SMS API disabled on the tenant: failed, repair issue with the fix; cleared by the next success."""
    entry = await pbxware_entry(hass, pbxware_sim.url)
    pbxware_sim.sim.tenants["1"].sms_api_enabled = False
    with pytest.raises(HomeAssistantError, match="SMS API is disabled") as info:
        await send(hass, entry, message="x", target=[NUMBER])
    assert type(info.value) is HomeAssistantError  # the device refused: not the caller's mistake
    issue_id = f"{entry.entry_id}_sms_api_disabled"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    pbxware_sim.sim.tenants["1"].sms_api_enabled = True
    await send(hass, entry, message="x", target=[NUMBER])
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_pbxware_reauth_with_a_new_key(hass: HomeAssistant, pbxware_sim: RunningSimulator) -> None:
    """An invalid key starts reauth; a new key fixes the entry."""
    entry = await pbxware_entry(hass, pbxware_sim.url)
    key = pbxware_sim.sim.api_keys.pop("ha-alerts-key")
    pbxware_sim.sim.api_keys["rotated-key"] = key
    with pytest.raises(HomeAssistantError, match="Invalid API key") as info:
        await send(hass, entry, message="x", target=[NUMBER])
    assert type(info.value) is HomeAssistantError
    await hass.async_block_till_done()
    flows = [
        f for f in hass.config_entries.flow.async_progress_by_handler(DOMAIN) if f["context"]["source"] == SOURCE_REAUTH
    ]
    result = await hass.config_entries.flow.async_configure(flows[0]["flow_id"])
    assert result["step_id"] == "reauth_confirm"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"api_key": "rotated-key"})
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert (await send(hass, entry, message="x", target=[NUMBER]))["results"][0]["status"] == "sent"


# IPEX


def ipex_form(url: str, **extra: Any) -> dict[str, Any]:
    """The IPEX form, pointing every host at the simulator."""
    return {
        "url": url,
        "username": "alerts@example.com",
        "password": "secret",
        "auth_url": f"{url}/token",
        "instant_url": f"{url}/v1/sms",
        **extra,
    }


async def ipex_entry(hass: HomeAssistant, url: str) -> ConfigEntry:
    """An IPEX chat entry made through the flow."""
    result = await flow(hass, "ipex", ipex_form(url))
    assert result["step_id"] == "sender"
    result = dict(await hass.config_entries.flow.async_configure(result["flow_id"], {"sender": "+420777888999"}))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    entry: ConfigEntry = result["result"]
    return entry


async def test_ipex_sender_step_and_webhook_address(hass: HomeAssistant, ipex_sim: RunningSimulator) -> None:
    """The allowed numbers are offered; the end of the flow shows the webhook address."""
    result = await flow(hass, "ipex", ipex_form(ipex_sim.url))
    assert result["step_id"] == "sender"
    # No count in the text: "1 SMS Chat number(s)" read wrong; the numbers are listed
    assert not result["description_placeholders"]
    result = dict(await hass.config_entries.flow.async_configure(result["flow_id"], {"sender": "+420777888999"}))
    assert result["title"] == "IPEX +420777888999"
    assert result["data"]["mode"] == "chat"
    assert result["description_placeholders"]["webhook_url"].endswith(f"/api/webhook/{result['data']['webhook_id']}")
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_ipex_reconfigure_chooses_the_sender_anew(hass: HomeAssistant, ipex_sim: RunningSimulator) -> None:
    """Reconfigure chooses the number an IPEX entry sends from anew; the entry keeps its webhook, recipients, ids.

    The number is no longer allowed (the sender_not_allowed issue): Reconfigure, log in, choose another of the
    account's numbers. Before, reconfigure kept the old sender with no way to change it, and the issue said to add
    the entry again.
    """
    entry = await ipex_entry(hass, ipex_sim.url)
    webhook_id, entry_id = entry.data["webhook_id"], entry.entry_id
    ipex_sim.sim.allowed_numbers["alerts@example.com"] = ["+420777888999", "+420777111222"]
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {k: v for k, v in ipex_form(ipex_sim.url).items() if k != "username"} | {"username": "alerts@example.com"},
    )
    assert result["step_id"] == "reconfigure_sender"
    [field] = result["data_schema"].schema
    assert field.default() == "+420777888999"  # the current one, chosen already
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"sender": "+420777111222"})
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert (entry.entry_id, entry.unique_id, entry.data["sender"]) == (entry_id, "ipex:+420777111222", "+420777111222")
    assert entry.data["webhook_id"] == webhook_id
    response = await send(hass, entry, message="From the new number", target=[NUMBER])
    assert response["results"][0]["status"] == "sent"
    assert ipex_sim.sim.messages[-1].options["from"] == "+420777111222"


async def test_ipex_without_external_url_raises_a_repair_issue_until_one_is_set(
    hass: HomeAssistant, ipex_sim: RunningSimulator, wildix_sim: RunningSimulator
) -> None:
    """Replies and delivery reports need an address the IPEX cloud can call: say so until there is one."""
    entry = await ipex_entry(hass, ipex_sim.url)
    issue_id = f"{entry.entry_id}_no_external_url"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "no_external_url"
    assert issue.translation_placeholders == {"entry": entry.title}
    result = await hass.config_entries.options.async_init(entry.entry_id)
    placeholder = result["description_placeholders"]["webhook_url"]  # type: ignore[index]
    assert placeholder.startswith("https://<your Home Assistant address>/api/webhook/")
    # A Wildix entry has no callbacks and gets no such issue
    wildix = await wildix_entry(hass, wildix_sim.url)
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"{wildix.entry_id}_no_external_url") is None

    await hass.config.async_update(external_url="https://ha.example.com")
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    result = await hass.config_entries.options.async_init(entry.entry_id)
    address = result["description_placeholders"]["webhook_url"]  # type: ignore[index]
    assert address == f"https://ha.example.com/api/webhook/{entry.data['webhook_id']}"

    await hass.config.async_update(external_url=None)
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_ipex_missing_credentials(hass: HomeAssistant, ipex_sim: RunningSimulator) -> None:
    """Neither password nor token is a form error."""
    result = await flow(hass, "ipex", {"url": ipex_sim.url, "username": "alerts@example.com"})
    assert result["errors"] == {"base": "missing_credentials"}


async def test_ipex_pasted_token(hass: HomeAssistant, ipex_sim: RunningSimulator) -> None:
    """A pasted token works without any login on the token endpoint."""
    token = ipex_sim.sim.issue_token()
    result = await flow(
        hass,
        "ipex",
        {
            "url": ipex_sim.url,
            "api_token": token,
            "auth_url": f"{ipex_sim.url}/token",
            "instant_url": f"{ipex_sim.url}/v1/sms",
        },
    )
    assert result["step_id"] == "sender"
    result = dict(await hass.config_entries.flow.async_configure(result["flow_id"], {"sender": "+420777888999"}))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert "password" not in result["data"]
    await hass.async_block_till_done(wait_background_tasks=True)
    await send(hass, result["result"], message="x", target=[NUMBER])
    assert ipex_sim.sim.logins == 0
    assert [m.to for m in ipex_sim.sim.messages] == [NUMBER]


async def test_ipex_instant_mode_without_chat_numbers(hass: HomeAssistant, ipex_sim: RunningSimulator) -> None:
    """An account without SMS Chat sends instant SMS from its trunk, with the registered sender name."""
    ipex_sim.sim.sms_chat = False
    result = await flow(hass, "ipex", ipex_form(ipex_sim.url))
    assert result["step_id"] == "sender"
    result = dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {"sender": "222333444", "shortname": "ALERTS"}
        )
    )
    assert result["data"]["mode"] == "instant"
    await hass.async_block_till_done(wait_background_tasks=True)
    await send(hass, result["result"], message="Czech alert", target=["+420 777 888 999"])
    message = ipex_sim.sim.messages[0]
    assert (message.to, message.options["mode"], message.options["sender"]) == ("777888999", "instant", "ALERTS")


async def test_ipex_send_keeps_the_message_id(hass: HomeAssistant, ipex_sim: RunningSimulator) -> None:
    """The result carries the provider's message id."""
    entry = await ipex_entry(hass, ipex_sim.url)
    response = await send(hass, entry, message="x", target=[NUMBER])
    assert response["results"][0]["id"] == ipex_sim.sim.messages[0].options["id"]


async def test_ipex_webhook_inbound_and_delivery(
    hass: HomeAssistant, ipex_sim: RunningSimulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """An inbound SMS and a delivery report become events; the report shows on the last send."""
    entry = await ipex_entry(hass, ipex_sim.url)
    response = await send(hass, entry, message="Freezer warm", target=[NUMBER])
    message_id = response["results"][0]["id"]
    received = async_capture_events(hass, "sms_alerts_received")
    delivery = async_capture_events(hass, "sms_alerts_delivery")
    client = await hass_client_no_auth()
    path = f"/api/webhook/{entry.data['webhook_id']}"
    reply = {"id": "in-1", "from": NUMBER, "to": "+420777888999", "text": "ACK", "direction": "IN", "createdAt": "x"}
    assert (await client.post(path, json=reply)).status == 200
    report = {"id": message_id, "to": NUMBER, "state": "DELIVERED", "direction": "OUT"}
    assert (await client.post(path, json=[report])).status == 200
    await hass.async_block_till_done()
    assert [e.data for e in received] == [
        {"entry_id": entry.entry_id, "from": NUMBER, "to": "+420777888999", "text": "ACK"}
    ]
    assert [e.data for e in delivery] == [
        {"entry_id": entry.entry_id, "id": message_id, "to": NUMBER, "state": "DELIVERED"}
    ]
    await show_reports(hass)
    state = hass.states.get("sensor.ipex_420777888999_last_send_status")
    assert state is not None
    assert state.attributes["delivery"] == {NUMBER: "DELIVERED"}


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ("", "application/json", 400),
        ('"a string"', "application/json", 400),
        ('{"id": 5, "from": "x", "text": "y", "direction": "IN"}', "application/json", 400),
        ('{"something": "else"}', "application/json", 200),
        ("id=1&from=%2B491701234567&to=x&text=hi&direction=IN", "application/x-www-form-urlencoded", 200),
    ],
)
async def test_ipex_webhook_bad_payloads_never_500(
    hass: HomeAssistant,
    ipex_sim: RunningSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    body: str,
    content_type: str,
    status: int,
) -> None:
    """Malformed payloads are 400, unknown shapes 200 and nothing; a good payload after them still works."""
    entry = await ipex_entry(hass, ipex_sim.url)
    received = async_capture_events(hass, "sms_alerts_received")
    client = await hass_client_no_auth()
    path = f"/api/webhook/{entry.data['webhook_id']}"
    resp = await client.post(path, data=body, headers={"Content-Type": content_type})
    assert resp.status == status
    good = {"id": "2", "from": NUMBER, "to": "+420777888999", "text": "later", "direction": "IN"}
    assert (await client.post(path, json=good)).status == 200
    await hass.async_block_till_done()
    assert received[-1].data["text"] == "later"


async def test_ipex_webhook_is_gone_after_unload(
    hass: HomeAssistant, ipex_sim: RunningSimulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """An unloaded entry no longer fires events from its webhook."""
    entry = await ipex_entry(hass, ipex_sim.url)
    received = async_capture_events(hass, "sms_alerts_received")
    assert await hass.config_entries.async_unload(entry.entry_id)
    client = await hass_client_no_auth()
    good = {"id": "2", "from": NUMBER, "to": "+420777888999", "text": "late", "direction": "IN"}
    await client.post(f"/api/webhook/{entry.data['webhook_id']}", json=good)
    await hass.async_block_till_done()
    assert received == []


async def test_ipex_failed_delivery_is_a_failed_send(
    hass: HomeAssistant, ipex_sim: RunningSimulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """A delivery report FAILED fires sms_alerts_failed (no fallback) and shows on the last send."""
    entry = await ipex_entry(hass, ipex_sim.url)
    response = await send(hass, entry, message="Freezer warm", target=[NUMBER])
    failed = async_capture_events(hass, "sms_alerts_failed")
    client = await hass_client_no_auth()
    report = {"id": response["results"][0]["id"], "to": NUMBER, "state": "FAILED", "direction": "OUT"}
    assert (await client.post(f"/api/webhook/{entry.data['webhook_id']}", json=report)).status == 200
    await hass.async_block_till_done()
    assert [(e.data["target"], e.data["error"]) for e in failed] == [
        (NUMBER, "the provider reported the delivery as failed")
    ]
    await show_reports(hass)
    state = hass.states.get("sensor.ipex_420777888999_last_send_status")
    assert state is not None
    assert state.state == "failed"
    assert state.attributes["delivery"] == {NUMBER: "FAILED"}


async def ipex_with_fallback(
    hass: HomeAssistant, ipex_sim: RunningSimulator, gateway: RunningSimulator
) -> tuple[ConfigEntry, ConfigEntry]:
    """An IPEX entry falling back to an SMS Gateway entry."""
    from .conftest import gateway_entry_for  # noqa: PLC0415

    fallback = gateway_entry_for(gateway, title="Fallback gateway")
    fallback.add_to_hass(hass)
    entry = await ipex_entry(hass, ipex_sim.url)
    hass.config_entries.async_update_entry(entry, options={"fallback_entry": fallback.entry_id})
    await hass.async_block_till_done(wait_background_tasks=True)
    return entry, fallback


async def test_ipex_failed_delivery_goes_to_the_fallback(
    hass: HomeAssistant,
    ipex_sim: RunningSimulator,
    gateway: RunningSimulator,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """With a fallback entry, a message whose delivery failed is sent again through it."""
    entry, _ = await ipex_with_fallback(hass, ipex_sim, gateway)
    response = await send(hass, entry, message="Freezer warm", target=[NUMBER])
    client = await hass_client_no_auth()
    report = {"id": response["results"][0]["id"], "to": NUMBER, "state": "FAILED"}
    assert (await client.post(f"/api/webhook/{entry.data['webhook_id']}", json=report)).status == 200
    await hass.async_block_till_done()
    assert [(m.to, m.text) for m in gateway.sim.messages] == [("00491701234567", "Freezer warm")]


async def test_ipex_reply_with_reference_acknowledges_the_alert(
    hass: HomeAssistant, ipex_sim: RunningSimulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """With references on, alerts end in #n; a reply quoting it fires sms_alerts_acknowledged."""
    entry = await ipex_entry(hass, ipex_sim.url)
    hass.config_entries.async_update_entry(entry, options={"ack_reference": True})
    await hass.async_block_till_done(wait_background_tasks=True)
    await send(hass, entry, message="Freezer warm", target=[NUMBER])
    await send(hass, entry, message="Door open", target=[NUMBER])
    assert [m.text for m in ipex_sim.sim.messages] == ["Freezer warm #1", "Door open #2"]
    acknowledged = async_capture_events(hass, "sms_alerts_acknowledged")
    client = await hass_client_no_auth()
    path = f"/api/webhook/{entry.data['webhook_id']}"
    for text in ("ok", "ACK #1 on my way", "#99"):
        reply = {"id": text, "from": NUMBER, "to": "+420777888999", "text": text, "direction": "IN"}
        assert (await client.post(path, json=reply)).status == 200
    await hass.async_block_till_done()
    assert [e.data for e in acknowledged] == [
        {
            "entry_id": entry.entry_id,
            "reference": "#1",
            "target": NUMBER,
            "message": "Freezer warm",
            "from": NUMBER,
        }
    ]


async def test_ipex_failed_delivery_after_a_reload_goes_to_the_fallback(
    hass: HomeAssistant,
    ipex_sim: RunningSimulator,
    gateway: RunningSimulator,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """The report comes hours later, after a restart or a reload: the message is still known and sent again."""
    entry, _ = await ipex_with_fallback(hass, ipex_sim, gateway)
    response = await send(hass, entry, message="Freezer warm", target=[NUMBER])
    await hass.async_block_till_done(wait_background_tasks=True)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    client = await hass_client_no_auth()
    report = {"id": response["results"][0]["id"], "to": NUMBER, "state": "FAILED"}
    assert (await client.post(f"/api/webhook/{entry.data['webhook_id']}", json=report)).status == 200
    await hass.async_block_till_done()
    assert [(m.to, m.text) for m in gateway.sim.messages] == [("00491701234567", "Freezer warm")]


async def test_ipex_failed_delivery_of_a_message_no_longer_known_is_reported(
    hass: HomeAssistant,
    ipex_sim: RunningSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A FAILED report for an id the entry does not know (sent long ago) is not passed over in silence."""
    entry = await ipex_entry(hass, ipex_sim.url)
    failed = async_capture_events(hass, "sms_alerts_failed")
    client = await hass_client_no_auth()
    report = {"id": "sent-long-ago", "to": NUMBER, "state": "FAILED"}
    assert (await client.post(f"/api/webhook/{entry.data['webhook_id']}", json=report)).status == 200
    await hass.async_block_till_done()
    assert [(e.data["target"], e.data["message"]) for e in failed] == [(NUMBER, "")]
    assert failed[0].data["error"].startswith("the provider reported the delivery as failed")
    assert "reported the delivery of message 'sent-long-ago' to" in caplog.text
    # Other states of unknown messages are only events
    report = {"id": "sent-long-ago-2", "to": NUMBER, "state": "DELIVERED"}
    assert (await client.post(f"/api/webhook/{entry.data['webhook_id']}", json=report)).status == 200
    await hass.async_block_till_done()
    assert len(failed) == 1


async def test_ipex_sends_are_remembered_on_disk_for_late_delivery_reports(
    hass: HomeAssistant, ipex_sim: RunningSimulator, hass_storage: dict[str, Any]
) -> None:
    """Once sent, its id is on disk, so a crash does not make a later FAILED report unknown."""
    entry = await ipex_entry(hass, ipex_sim.url)
    response = await send(hass, entry, message="Freezer warm", target=[NUMBER])
    await hass.async_block_till_done()
    sent = on_disk(hass_storage, entry.entry_id)["sent"]
    assert [(message_id, item["text"]) for message_id, item in sent] == [(response["results"][0]["id"], "Freezer warm")]


async def test_ipex_failed_delivery_while_the_fallback_reloads_waits_for_it_on_disk(
    hass: HomeAssistant,
    ipex_sim: RunningSimulator,
    gateway: RunningSimulator,
    hass_client_no_auth: ClientSessionGenerator,
    hass_storage: dict[str, Any],
) -> None:
    """The FAILED report comes while the fallback is being reloaded: the message waits for it, written to disk."""
    entry, fallback = await ipex_with_fallback(hass, ipex_sim, gateway)
    response = await send(hass, entry, message="Freezer warm", target=[NUMBER])
    assert await hass.config_entries.async_unload(fallback.entry_id)
    client = await hass_client_no_auth()
    report = {"id": response["results"][0]["id"], "to": NUMBER, "state": "FAILED"}
    assert (await client.post(f"/api/webhook/{entry.data['webhook_id']}", json=report)).status == 200
    await hass.async_block_till_done()
    items = on_disk(hass_storage, entry.entry_id)["items"]
    assert [(item["text"], item["hold_kind"]) for item in items] == [("Freezer warm", "fallback")]
    assert await hass.config_entries.async_setup(fallback.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert [(m.to, m.text) for m in gateway.sim.messages] == [("00491701234567", "Freezer warm")]


async def test_ipex_failed_delivery_reported_twice_is_acted_on_once(
    hass: HomeAssistant, ipex_sim: RunningSimulator, hass_client_no_auth: ClientSessionGenerator
) -> None:
    """A provider that posts its webhook again (it did not hear our answer in time) raises no second alarm."""
    entry = await ipex_entry(hass, ipex_sim.url)
    response = await send(hass, entry, message="Freezer warm", target=[NUMBER])
    failed = async_capture_events(hass, "sms_alerts_failed")
    client = await hass_client_no_auth()
    report = {"id": response["results"][0]["id"], "to": NUMBER, "state": "FAILED"}
    for _ in range(2):
        assert (await client.post(f"/api/webhook/{entry.data['webhook_id']}", json=report)).status == 200
        await hass.async_block_till_done()
    assert [e.data["error"] for e in failed] == ["the provider reported the delivery as failed"]
