"""Replies that acknowledge: the hint a page carries, and a reply that reaches the entry an SMS was handed over to.

A page tells its recipient to reply only where a reply reaches Home Assistant (an IPEX SMS Chat number, a GSM
modem); the SMS Gateway's pages name the code to look for in Home Assistant instead. A page the SMS Gateway
could not deliver goes out through its fallback, here an IPEX entry on its simulator: the recipient's reply
reaches that entry's webhook (real HTTP) and acknowledges the alert of the entry that handed the page over. The
same holds for the references (#42) of *Acknowledgement reference*, between two IPEX entries on two simulators.
"""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import async_capture_events
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.sms_alerts.const import DOMAIN
from custom_components.sms_alerts.replies import handing_over_to
from simulators.base import Fault
from simulators.ipex import DEMO_EMAIL, IpexSimulator

from .conftest import RECIPIENT, RunningSimulator, advance, send, serving
from .test_alert_sources import NIGHT, TOKEN, entry_with, load, setup, source_subentry
from .test_provider_integration import flow, ipex_entry, ipex_form

START = "2026-01-15 12:00:00+00:00"
MINUTE = 60
CHAT_NUMBER = "+420777888999"
SECOND_CHAT_NUMBER = "+420777000111"
STRANGER = "+491705555555"
PAGE = "FIRING critical ProbeFailure https://server.example.org: BlackBox Probe Failure: https://server.example.org"
# On call | 10, once
POLICY = [{"recipients": ["oncall"], "wait": 10, "ring": False}]


def recipient(subentry_id: str, number: str, title: str) -> ConfigSubentry:
    """A recipient subentry with a known id (escalation steps name recipients by id)."""
    return ConfigSubentry(
        data=MappingProxyType({"target": number}),
        subentry_type="recipient",
        title=title,
        unique_id=number,
        subentry_id=subentry_id,
    )


def source(hook: str, **data: Any) -> ConfigSubentry:
    """An Alertmanager source subentry listening on `hook`."""
    raw = source_subentry(webhook_id=hook, **data)
    return ConfigSubentry(
        data=MappingProxyType(raw["data"]),
        subentry_type="alert_source",
        title=f"Prometheus {hook}",
        unique_id=hook,
        subentry_id=hook,
    )


async def add(hass: HomeAssistant, entry: ConfigEntry, *subentries: ConfigSubentry) -> None:
    """Add subentries to a loaded entry (each reloads it)."""
    for subentry in subentries:
        hass.config_entries.async_add_subentry(entry, subentry)
        await hass.async_block_till_done(wait_background_tasks=True)


async def post(client: Any, hook: str, body: dict[str, Any]) -> None:
    """Post an Alertmanager body to a source's webhook."""
    response = await client.post(
        f"/api/webhook/{hook}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status == 200, await response.text()


async def reply(
    hass: HomeAssistant, client: Any, entry: ConfigEntry, sender: str, text: str, to: str = CHAT_NUMBER
) -> None:
    """SMS Chat posts a received SMS to the IPEX entry's webhook, as it documents."""
    body = {"id": f"in-{sender}-{text}", "from": sender, "to": to, "text": text, "direction": "IN"}
    response = await client.post(f"/api/webhook/{entry.data['webhook_id']}", json=body)
    assert response.status == 200
    await hass.async_block_till_done(wait_background_tasks=True)


def acknowledged(events: list[Any]) -> list[tuple[str, str]]:
    """(entry id, source id) of each acknowledgement."""
    return [(e.data["entry_id"], e.data["source_id"]) for e in events if e.data["status"] == "acknowledged"]


async def test_a_page_says_reply_where_replies_reach_and_the_reply_acknowledges(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    ipex_sim: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """An IPEX SMS Chat entry hears replies: its page says so, and the recipient's reply ends the escalation."""
    freezer.move_to(START)
    await hass.config.async_update(external_url="https://ha.example.com")
    ipex = await ipex_entry(hass, ipex_sim.url)
    await add(hass, ipex, recipient("oncall", RECIPIENT, "On call"), source("ipex-hook", escalation=POLICY))
    client = await hass_client_no_auth()
    events = async_capture_events(hass, "sms_alerts_alert")
    await post(client, "ipex-hook", load("alertmanager_firing"))
    assert [(m.to, m.text) for m in ipex_sim.sim.messages] == [(RECIPIENT, f"{PAGE} - Reply A1 to acknowledge")]
    await reply(hass, client, ipex, RECIPIENT, "A1 on it")
    assert acknowledged(events) == [(ipex.entry_id, "ipex-hook")]
    await advance(hass, freezer, 30 * MINUTE)
    assert len(ipex_sim.sim.messages) == 1


async def test_a_page_asks_for_a_reply_only_while_replies_can_arrive(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    ipex_sim: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Without an address SMS Chat can call (a repair issue says so), a page names the code to look for instead.

    Once Home Assistant has an external URL the issue goes, and the next round's page asks for a reply.
    """
    freezer.move_to(START)
    ipex = await ipex_entry(hass, ipex_sim.url)
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"{ipex.entry_id}_no_external_url") is not None
    await add(
        hass,
        ipex,
        recipient("oncall", RECIPIENT, "On call"),
        source("ipex-hook", escalation=POLICY, escalation_repeat=1),
    )
    client = await hass_client_no_auth()
    await post(client, "ipex-hook", load("alertmanager_firing"))
    await hass.config.async_update(external_url="https://ha.example.com")
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"{ipex.entry_id}_no_external_url") is None
    await advance(hass, freezer, 10 * MINUTE)
    assert [m.text for m in ipex_sim.sim.messages] == [
        f"{PAGE} - Ack A1 in Home Assistant",
        f"{PAGE} - Reply A1 to acknowledge",
    ]


async def test_a_reply_to_the_fallback_acknowledges_the_page_it_delivered(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    ipex_sim: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The SMS Gateway is down; its page goes out through IPEX; the reply to IPEX's number acknowledges it.

    IPEX's own source has an alert of the same code, told to Night: the reply of the one paged by the SMS
    Gateway's alert takes that alert, a stranger's takes IPEX's own (as on any entry), and no alert is
    acknowledged twice.
    """
    freezer.move_to(START)
    ipex = await ipex_entry(hass, ipex_sim.url)
    await add(hass, ipex, recipient("night", NIGHT, "Night"), source("ipex-hook"))
    primary = entry_with(
        gateway,
        source_subentry(escalation=POLICY),
        options={"fallback_entry": ipex.entry_id, "handover_minutes": 1},
    )
    await setup(hass, primary)
    assert handing_over_to(hass, ipex) == [primary]
    assert handing_over_to(hass, primary) == []  # type: ignore[arg-type]
    client = await hass_client_no_auth()
    events = async_capture_events(hass, "sms_alerts_alert")
    # IPEX's own alert A1, told to Night
    await post(client, "ipex-hook", load("alertmanager_firing"))
    assert [m.to for m in ipex_sim.sim.messages] == [NIGHT]
    # The SMS Gateway's A1 pages On call; the gateway is down, so the page goes through IPEX
    gateway.sim.fail(Fault.HTTP_503)
    await post(client, "alert-hook-1", load("alertmanager_firing"))
    await advance(hass, freezer, 2 * MINUTE)
    assert [(m.to, m.text) for m in ipex_sim.sim.messages][1:] == [(RECIPIENT, f"{PAGE} - Ack A1 in Home Assistant")]
    assert gateway.sim.messages == []
    await reply(hass, client, ipex, RECIPIENT, "ack A1")
    assert acknowledged(events) == [(primary.entry_id, "source1")]
    # The escalation stopped: no second round, no more pages
    await advance(hass, freezer, 30 * MINUTE)
    assert len(ipex_sim.sim.messages) == 2
    # A stranger's A1 is IPEX's own alert (any number may acknowledge an entry's own)
    await reply(hass, client, ipex, STRANGER, "A1")
    assert acknowledged(events)[1:] == [(ipex.entry_id, "ipex-hook")]


async def test_a_reply_to_an_entry_that_is_nobody_s_fallback_stays_with_its_own_alerts(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    ipex_sim: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Another entry's alert by the same code, told to the same number, is not this entry's to acknowledge."""
    freezer.move_to(START)
    ipex = await ipex_entry(hass, ipex_sim.url)
    other = entry_with(gateway, source_subentry(escalation=POLICY, escalation_repeat=1))
    await setup(hass, other)
    client = await hass_client_no_auth()
    events = async_capture_events(hass, "sms_alerts_alert")
    await post(client, "alert-hook-1", load("alertmanager_firing"))
    assert len(gateway.sim.messages) == 1
    await reply(hass, client, ipex, RECIPIENT, "A1")
    assert acknowledged(events) == []
    # Its second round pages On call again
    await advance(hass, freezer, 10 * MINUTE)
    assert len(gateway.sim.messages) == 2


async def test_a_reference_quoted_to_the_fallback_is_the_one_it_delivered(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    ipex_sim: RunningSimulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Two IPEX entries with references; the first is down and hands "Freezer warm #1" over to the second.

    The second sent its own #1 to Night before. The reply "ACK #1" from the one the handed-over SMS reached is
    the first entry's alert (its event, on its entry); a stranger's "ACK #1" is the second's own.
    """
    freezer.move_to(START)
    async with serving(IpexSimulator(allowed_numbers={DEMO_EMAIL: [SECOND_CHAT_NUMBER]})) as second_sim:
        primary = await ipex_entry(hass, ipex_sim.url)
        result = await flow(hass, "ipex", ipex_form(second_sim.url))
        result = dict(await hass.config_entries.flow.async_configure(result["flow_id"], {"sender": SECOND_CHAT_NUMBER}))
        assert result["type"] is FlowResultType.CREATE_ENTRY
        second: ConfigEntry = result["result"]
        hass.config_entries.async_update_entry(second, options={"ack_reference": True})
        options = {"ack_reference": True, "fallback_entry": second.entry_id, "handover_minutes": 1}
        hass.config_entries.async_update_entry(primary, options=options)
        await hass.async_block_till_done(wait_background_tasks=True)
        client = await hass_client_no_auth()
        acknowledged = async_capture_events(hass, "sms_alerts_acknowledged")
        await send(hass, second, message="Pump 2 off", target=[NIGHT])
        ipex_sim.sim.fail(Fault.HTTP_503)
        await send(hass, primary, message="Freezer warm", target=[RECIPIENT])
        await advance(hass, freezer, 2 * MINUTE)
        assert [(m.to, m.text) for m in second_sim.sim.messages] == [
            (NIGHT, "Pump 2 off #1"),
            (RECIPIENT, "Freezer warm #1"),
        ]
        await reply(hass, client, second, RECIPIENT, "ACK #1", to=SECOND_CHAT_NUMBER)
        assert [(e.data["entry_id"], e.data["message"], e.data["target"]) for e in acknowledged] == [
            (primary.entry_id, "Freezer warm", RECIPIENT)
        ]
        await reply(hass, client, second, STRANGER, "ACK #1", to=SECOND_CHAT_NUMBER)
        assert [(e.data["entry_id"], e.data["message"]) for e in acknowledged][1:] == [(second.entry_id, "Pump 2 off")]
