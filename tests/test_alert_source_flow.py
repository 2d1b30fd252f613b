"""The alert source subentry flow: made with a webhook id and a secret, its setup text shown, routes checked."""

from __future__ import annotations

import json
from typing import Any

import pytest
from homeassistant.config_entries import ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from .conftest import RunningSimulator
from .test_alert_sources import FIXTURES, entry_with, setup, source_subentry

SOURCE = {"name": "Prometheus", "kind": "alertmanager", "send_resolved": True, "local_only": True}


async def start(hass: HomeAssistant, entry: MockConfigEntry, source: str = "user", **context: Any) -> dict[str, Any]:
    """Start the alert source flow of an entry."""
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "alert_source"), context={"source": source, **context}
    )
    return dict(result)


async def configure(hass: HomeAssistant, flow_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """Submit a step; a flow that ended changed the entry, so wait for its reload, as the next step would.

    (A test that ended during that reload left the new coordinator's timer behind: its entry was set up again
    while Home Assistant was being stopped, after the stop that cancels it.)
    """
    result = dict(await hass.config_entries.subentries.async_configure(flow_id, data))
    if result["type"] in (FlowResultType.CREATE_ENTRY, FlowResultType.ABORT):
        await hass.async_block_till_done(wait_background_tasks=True)
    return result


def sources(entry: MockConfigEntry) -> list[ConfigSubentry]:
    """The entry's alert sources."""
    return [sub for sub in entry.subentries.values() if sub.subentry_type == "alert_source"]


async def test_new_source_shows_its_address_and_secret_then_receives_alerts(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, gateway: RunningSimulator
) -> None:
    """The flow makes webhook_id and token, shows them with the Alertmanager YAML, saves; the webhook then works."""
    entry = entry_with(gateway)
    await setup(hass, entry)
    result = await start(hass, entry)
    assert result["type"] is FlowResultType.FORM
    result = await configure(hass, result["flow_id"], {**SOURCE, "recipients": ["oncall"], "routes": ""})
    assert result["step_id"] == "setup"
    shown = result["description_placeholders"]
    assert sources(entry) == []  # saved only once the setup text was seen
    result = await configure(hass, result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    (source,) = sources(entry)
    assert source.title == "Prometheus"
    data = dict(source.data)
    assert len(data["token"]) >= 32
    assert shown["token"] == data["token"]
    assert shown["url"].endswith(f"/api/webhook/{data['webhook_id']}")
    assert f"credentials: {data['token']}" in shown["setup"]
    assert f"url: {shown['url']}" in shown["setup"]
    assert {key: data[key] for key in ("kind", "recipients", "send_resolved", "local_only", "routes")} == {
        "kind": "alertmanager",
        "recipients": ["oncall"],
        "send_resolved": True,
        "local_only": True,
        "routes": [],
    }
    # The entry was reloaded with the new source: its webhook takes alerts
    client = await hass_client_no_auth()
    response = await client.post(
        f"/api/webhook/{data['webhook_id']}",
        data=(FIXTURES / "alertmanager_firing.json").read_bytes(),
        headers={"Authorization": f"Bearer {data['token']}", "Content-Type": "application/json"},
    )
    await hass.async_block_till_done()
    assert response.status == 200
    assert len(gateway.sim.messages) == 1


@pytest.mark.parametrize(
    ("routes", "error"),
    [
        ("severity=critical", "route_without_arrow"),
        ("severity=critical -> Somebody", "unknown_route_recipient"),
        ("team=~( -> On call", "invalid_regex"),
        ("not a matcher -> On call", "invalid_matcher"),
    ],
)
async def test_a_wrong_route_is_shown_and_a_right_one_saved(
    hass: HomeAssistant, gateway: RunningSimulator, routes: str, error: str
) -> None:
    """A route that cannot be read is a form error on the field; corrected, the source is made with it stored."""
    entry = entry_with(gateway)
    await setup(hass, entry)
    result = await start(hass, entry)
    result = await configure(hass, result["flow_id"], {**SOURCE, "routes": routes})
    assert result["errors"] == {"routes": error}
    result = await configure(hass, result["flow_id"], {**SOURCE, "routes": "severity=critical, team=~db.* -> on call"})
    result = await configure(hass, result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    (source,) = sources(entry)
    assert source.data["routes"] == [{"matchers": ["severity=critical", "team=~db.*"], "recipients": ["oncall"]}]


async def test_a_name_taken_by_another_source_is_refused(hass: HomeAssistant, gateway: RunningSimulator) -> None:
    """Two sources of one entry cannot share a name (it names them in events)."""
    entry = entry_with(gateway, source_subentry())
    await setup(hass, entry)
    result = await start(hass, entry)
    result = await configure(hass, result["flow_id"], {**SOURCE, "name": " prometheus "})
    assert result["errors"] == {"name": "name_taken"}


async def test_generic_source_asks_for_its_field_paths(hass: HomeAssistant, gateway: RunningSimulator) -> None:
    """A generic source goes through the fields step; a wrong path is an error, then the curl text is shown."""
    entry = entry_with(gateway)
    await setup(hass, entry)
    result = await start(hass, entry)
    result = await configure(hass, result["flow_id"], {**SOURCE, "name": "Zabbix", "kind": "generic"})
    assert result["step_id"] == "fields"
    result = await configure(hass, result["flow_id"], {"name": "event..name"})
    assert result["errors"] == {"base": "invalid_field_path"}
    result = await configure(
        hass, result["flow_id"], {"name": "event.name", "status": "event.value", "resolved": "0, ok"}
    )
    assert result["step_id"] == "setup"
    assert "curl -X POST" in result["description_placeholders"]["setup"]
    result = await configure(hass, result["flow_id"], {})
    (source,) = sources(entry)
    assert source.data["fields"] == {"name": "event.name", "status": "event.value", "resolved": ["0", "ok"]}


async def test_reconfigure_shows_the_setup_text_and_keeps_the_secret(
    hass: HomeAssistant, gateway: RunningSimulator
) -> None:
    """Editing a source shows its address, secret and setup text; the webhook id and token stay."""
    routes = [{"matchers": ["severity=critical"], "recipients": ["oncall"]}]
    entry = entry_with(gateway, source_subentry(routes=routes))
    await setup(hass, entry)
    result = await start(hass, entry, "reconfigure", subentry_id="source1")
    assert result["step_id"] == "reconfigure"
    placeholders = result["description_placeholders"]
    assert placeholders["token"] == "s3cret-token-for-tests"
    assert "credentials: s3cret-token-for-tests" in placeholders["setup"]
    suggested = {
        str(key): key.description["suggested_value"] for key in result["data_schema"].schema if key.description
    }
    assert suggested["routes"] == "severity=critical -> On call"
    result = await configure(
        hass, result["flow_id"], {**SOURCE, "name": "Prom", "kind": "grafana", "routes": "severity=critical -> On call"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    source = entry.subentries["source1"]
    assert (source.title, source.data["kind"], source.data["token"], source.data["webhook_id"]) == (
        "Prom",
        "grafana",
        "s3cret-token-for-tests",
        "alert-hook-1",
    )
    assert json.dumps(dict(source.data))  # stored as JSON
