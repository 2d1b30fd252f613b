"""Config flow: menu, credential checks with recovery, duplicates, reauth, reconfigure and recipients."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sms_alerts.const import DOMAIN
from simulators.brevisone import ApiUser

from .conftest import GATEWAY_PASSWORD, GATEWAY_USER, RECIPIENT, RunningSimulator, send
from .options_form import form_sections, nest
from .test_outbox import setup_pair


def form(address: str, **overrides: Any) -> dict[str, Any]:
    """The sms_gateway form as a user fills it in."""
    return {
        "url": address,
        "username": GATEWAY_USER,
        "password": GATEWAY_PASSWORD,
        "verify_ssl": True,
        "telegram": False,
        **overrides,
    }


async def start(hass: HomeAssistant) -> str:
    """Open the flow, pick the SMS Gateway from the menu, and return the flow id."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.MENU
    assert result["menu_options"] == ["sms_gateway", "wildix", "pbxware", "ipex", "modem"]
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "sms_gateway"})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "sms_gateway"
    return result["flow_id"]


async def test_user_flow_creates_entry_without_sending(hass: HomeAssistant, gateway: RunningSimulator) -> None:
    """The login is checked against the gateway; no SMS goes out."""
    flow_id = await start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, form(gateway.url, telegram=True))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "SMS Gateway apiuser"
    expected = {**form(f"{gateway.url}/", telegram=True), "provider": "sms_gateway", "legacy_tls": False, "api": "rest"}
    assert result["data"] == expected
    assert result["result"].unique_id == "sms_gateway:apiuser"
    assert gateway.sim.messages == []
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.mark.parametrize(
    ("change", "field", "error"),
    [
        ({"password": "Wr0ngPa55"}, "base", "invalid_auth"),
        ({"username": "webuser"}, "base", "no_api_permission"),
        ({"url": "ftp://127.0.0.1"}, "url", "invalid_url"),
    ],
)
async def test_form_errors_then_recovery(
    hass: HomeAssistant, gateway: RunningSimulator, change: dict[str, str], field: str, error: str
) -> None:
    """Each refusal is a form error that keeps the input; fixing it creates the entry."""
    flow_id = await start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, form(gateway.url, **change))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {field: error}
    result = await hass.config_entries.flow.async_configure(flow_id, form(gateway.url))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_unreachable_gateway_then_recovery(
    hass: HomeAssistant, gateway: RunningSimulator, closed_url: str
) -> None:
    """Nothing listening is cannot_connect."""
    flow_id = await start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, form(closed_url))
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(flow_id, form(gateway.url))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.mark.parametrize("fault", ["http_503", "reset"])
async def test_gateway_in_trouble_then_recovery(hass: HomeAssistant, gateway: RunningSimulator, fault: str) -> None:
    """A busy gateway (503) or a dropped connection never crash the form."""
    gateway.sim.fail(fault, times=1)
    flow_id = await start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, form(gateway.url))
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(flow_id, form(gateway.url))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_error_page_on_rest_sign_in_uses_api_php(hass: HomeAssistant, gateway: RunningSimulator) -> None:
    """An HTML error page on /api/signin (an old unit's web server) is no REST API: api.php is checked and used."""
    gateway.sim.fail("html_500", times=1)
    flow_id = await start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, form(gateway.url))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["api"] == "legacy"
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_slow_gateway_is_a_timeout(
    hass: HomeAssistant, gateway: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gateway that does not answer in time is its own form error."""
    monkeypatch.setattr("custom_components.sms_alerts.config_flow.VALIDATE_TIMEOUT", 0.2)
    gateway.sim.fail("slow", times=1, delay=2)
    flow_id = await start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, form(gateway.url))
    assert result["errors"] == {"base": "timeout"}
    result = await hass.config_entries.flow.async_configure(flow_id, form(gateway.url))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_self_signed_certificate_then_verify_off(hass: HomeAssistant, tls_gateway: RunningSimulator) -> None:
    """The gateway's own certificate is ssl_error until Verify SSL is unticked."""
    flow_id = await start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, form(tls_gateway.url))
    assert result["errors"] == {"base": "ssl_error"}
    result = await hass.config_entries.flow.async_configure(flow_id, form(tls_gateway.url, verify_ssl=False))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"]["verify_ssl"] is False
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.mark.allow_traceback  # the config flow logs the unexpected error of the check with its traceback
async def test_unexpected_error_then_recovery(hass: HomeAssistant, gateway: RunningSimulator) -> None:
    """A bug in the check is 'unknown', logged, and the form stays usable."""
    flow_id = await start(hass)
    with patch(
        "custom_components.sms_alerts.api.brevisone.BrevisOneProvider.async_validate",
        side_effect=RuntimeError("boom"),
    ):
        result = await hass.config_entries.flow.async_configure(flow_id, form(gateway.url))
    assert result["errors"] == {"base": "unknown"}
    result = await hass.config_entries.flow.async_configure(flow_id, form(gateway.url))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_same_account_twice_aborts(hass: HomeAssistant, loaded_gateway: MockConfigEntry) -> None:
    """The same gateway and user cannot be added again, however the address is written."""
    url = loaded_gateway.data["url"]
    flow_id = await start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, form(f"{url}/api.php"))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reauth_wrong_then_right(
    hass: HomeAssistant, gateway_entry: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """A password changed on the gateway: reauth keeps the form on an error, then updates and reloads."""
    gateway.sim.users["apiuser"].password = "rotated"
    gateway_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(gateway_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert len(flows) == 1
    result = await hass.config_entries.flow.async_configure(flows[0]["flow_id"])
    assert result["step_id"] == "reauth_confirm"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"username": GATEWAY_USER, "password": "Wr0ngPa55"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"username": GATEWAY_USER, "password": "rotated"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert gateway_entry.data["password"] == "rotated"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert gateway_entry.state is ConfigEntryState.LOADED
    assert (await send(hass, gateway_entry, message="x"))["results"][0]["status"] == "sent"


async def test_reauth_with_another_user_aborts(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """Another valid login is another account: no silent switch."""
    gateway.sim.users["apiuser2"] = ApiUser(password="secret2")
    result = await loaded_gateway.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"username": "apiuser2", "password": "secret2"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"
    assert loaded_gateway.data["username"] == GATEWAY_USER


async def test_reconfigure_changes_settings(hass: HomeAssistant, loaded_gateway: MockConfigEntry) -> None:
    """Reconfigure shows the current settings (no password) and updates the entry."""
    result = await loaded_gateway.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    url = loaded_gateway.data["url"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], form(url, password="Wr0ngPa55", telegram=True)
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], form(url, telegram=True))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert loaded_gateway.data["telegram"] is True
    await hass.async_block_till_done(wait_background_tasks=True)
    assert loaded_gateway.state is ConfigEntryState.LOADED


async def test_reconfigure_to_another_account_aborts(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """A different gateway user is a different entry."""
    gateway.sim.users["apiuser2"] = ApiUser(password="secret2")
    result = await loaded_gateway.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], form(gateway.url, username="webuser"))
    assert result["errors"] == {"base": "no_api_permission"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], form(gateway.url, username="apiuser2", password="secret2")
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"
    assert loaded_gateway.data["username"] == GATEWAY_USER


async def add_recipient(hass: HomeAssistant, entry: MockConfigEntry, name: str, target: str) -> dict[str, Any]:
    """Run the recipient subentry flow to its end."""
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, "recipient"), context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    return dict(
        await hass.config_entries.subentries.async_configure(result["flow_id"], {"name": name, "target": target})
    )


async def test_add_recipient_normalises_and_creates_a_notify_entity(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry
) -> None:
    """A recipient is stored as E.164, with the default severity (warning), and becomes notify.<name>."""
    result = await add_recipient(hass, loaded_gateway, "Plant room", "0171 9876543")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    subentry = next(s for s in loaded_gateway.subentries.values() if s.title == "Plant room")
    assert subentry.data == {"target": "+491719876543", "severity": "warning"}
    assert subentry.unique_id == "+491719876543"
    assert hass.states.get("notify.plant_room") is not None


@pytest.mark.parametrize(
    ("target", "error"),
    [
        ("+49 1", "invalid_number"),
        ("ext:1001", "unsupported_target"),
        ("fax:1", "unknown_target_kind"),
        ("group:", "invalid_target"),
    ],
)
async def test_recipient_errors_then_recovery(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, target: str, error: str
) -> None:
    """A target the gateway cannot serve is a field error; a good one then works."""
    result = await hass.config_entries.subentries.async_init(
        (loaded_gateway.entry_id, "recipient"), context={"source": SOURCE_USER}
    )
    result = await hass.config_entries.subentries.async_configure(result["flow_id"], {"name": "x", "target": target})
    assert result["errors"] == {"target": error}
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "Oncall group", "target": "group:Oncall"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_recipient_without_country(hass: HomeAssistant, loaded_gateway: MockConfigEntry) -> None:
    """Without a Home Assistant country a national number asks for the country code."""
    hass.config.country = None
    result = await add_recipient(hass, loaded_gateway, "x", "01701234567")
    assert result["errors"] == {"target": "missing_country"}


async def test_duplicate_recipient_aborts(hass: HomeAssistant, loaded_gateway: MockConfigEntry) -> None:
    """The same number twice, in another writing, is refused."""
    result = await add_recipient(hass, loaded_gateway, "Again", "0049 170 1234567")
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("ON CALL ", "name_taken"),
        ("Anna, Ben", "name_separator"),
        ("Duty | 5", "name_separator"),
        ("a -> b", "name_separator"),
    ],
)
async def test_a_recipient_name_routes_could_not_tell_apart_is_refused(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, name: str, error: str
) -> None:
    """Routes and escalation steps name recipients (`severity=critical -> On call`, `On call | 10`).

    Another recipient's name in another case would send a route to one of the two; a comma, | or -> splits it.
    Before, both were taken, and routes went to the newer namesake only.
    """
    [existing] = [sub.title for sub in loaded_gateway.subentries.values() if sub.subentry_type == "recipient"]
    assert existing == "On call"
    result = await add_recipient(hass, loaded_gateway, name, "+49 170 7654321")
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"name": error}


async def reconfigure_recipient(hass: HomeAssistant, entry: MockConfigEntry, subentry_id: str) -> dict[str, Any]:
    """Open the reconfigure step of a recipient."""
    return dict(
        await hass.config_entries.subentries.async_init(
            (entry.entry_id, "recipient"),
            context={"source": SOURCE_RECONFIGURE, "subentry_id": subentry_id},
        )
    )


async def test_reconfigure_recipient_renames_it(hass: HomeAssistant, loaded_gateway: MockConfigEntry) -> None:
    """A recipient can be renamed and pointed at another target."""
    subentry_id = next(iter(loaded_gateway.subentries))
    result = await reconfigure_recipient(hass, loaded_gateway, subentry_id)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": "Night shift", "target": "contact:Alice"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    subentry = loaded_gateway.subentries[subentry_id]
    assert (subentry.title, subentry.data["target"], subentry.unique_id) == (
        "Night shift",
        "contact:Alice",
        "contact:Alice",
    )
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.mark.parametrize("name", ["Renamed", "ON CALL"])
async def test_reconfigure_recipient_keeps_its_own_target_and_name(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, name: str
) -> None:
    """Its own target is not a duplicate of itself, nor its own name (in another case too) another's."""
    subentry_id = next(iter(loaded_gateway.subentries))
    result = await reconfigure_recipient(hass, loaded_gateway, subentry_id)
    result = await hass.config_entries.subentries.async_configure(
        result["flow_id"], {"name": name, "target": RECIPIENT}
    )
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done(wait_background_tasks=True)


OPTION_ENTRIES = {
    "sms_gateway": {"url": "http://127.0.0.1:1", "username": "u", "password": "p"},
    "wildix": {"url": "http://127.0.0.1:1", "username": "101", "password": "p"},
    "pbxware": {"url": "http://127.0.0.1:1", "api_key": "k", "server": "1"},
    "ipex": {"username": "a@example.com", "password": "p", "mode": "chat", "webhook_id": "abc"},
    "ipex_instant": {"username": "a@example.com", "password": "p", "mode": "instant", "webhook_id": "abc"},
    "modem": {"port": "/dev/serial/by-id/usb-modem", "baudrate": 115200},
}
_FALLBACK = ["fallback_entry", "handover_minutes", "max_age_hours"]
_STORM = ["dedup_minutes", "rate_limit", "daily_budget"]
_TEXT = ["long_messages", "gsm_only"]
# Only IPEX calls back (webhook line), and only an SMS Chat number gets replies (acknowledgement reference);
# Wildix takes 50 numbers per request (no parallel requests) and has its own text limits
OPTION_SECTIONS = {
    "sms_gateway": {"fallback": _FALLBACK, "storm_control": [*_STORM, "parallel_requests"], "text": _TEXT},
    "wildix": {"fallback": _FALLBACK, "storm_control": _STORM, "text": [*_TEXT, "max_length", "lookalike_chars"]},
    "pbxware": {"fallback": _FALLBACK, "storm_control": [*_STORM, "parallel_requests"], "text": _TEXT},
    "ipex": {
        "fallback": _FALLBACK,
        "storm_control": [*_STORM, "parallel_requests"],
        "text": _TEXT,
        "replies": ["ack_reference"],
    },
    "ipex_instant": {
        "fallback": _FALLBACK,
        "storm_control": [*_STORM, "parallel_requests"],
        "text": _TEXT,
        "replies": [],
    },
    # A modem: one command at a time, and replies reach its SIM without a webhook
    "modem": {"fallback": _FALLBACK, "storm_control": _STORM, "text": _TEXT, "replies": ["ack_reference"]},
}


@pytest.mark.parametrize("kind", list(OPTION_ENTRIES))
async def test_options_show_in_sections_only_what_applies_to_the_provider(hass: HomeAssistant, kind: str) -> None:
    """Each provider's options form has its own fields in sections; the webhook address only where IPEX calls."""
    provider = kind.removesuffix("_instant")
    entry = MockConfigEntry(domain=DOMAIN, title=kind, data={"provider": provider, **OPTION_ENTRIES[kind]})
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert form_sections(result) == OPTION_SECTIONS[kind]
    assert ("webhook_url" in result["description_placeholders"]) is provider.startswith("ipex")  # type: ignore[operator]
    hass.config_entries.options.async_abort(result["flow_id"])


def test_every_options_section_and_field_is_translated_and_nothing_is_left_over() -> None:
    """Each section has a name and a description; each field shown has a label and a help text there.

    Entries that IPEX calls back have a step of their own, whose description holds the webhook address:
    the frontend of 2025.4 gives placeholders to a step's description, not to a section's ("Translation error").
    """
    for language in ("en", "de"):
        path = Path(__file__).parents[1] / f"custom_components/sms_alerts/translations/{language}.json"
        steps = json.loads(path.read_text())["options"]["step"]
        shown: dict[str, set[str]] = {}
        for layout in OPTION_SECTIONS.values():
            for name, fields in layout.items():
                shown.setdefault(name, set()).update(fields)
        assert set(steps["init"]["sections"]) == set(shown), language
        assert set(steps["webhook"]["sections"]) == set(shown), language
        for step in steps.values():
            assert "data" not in step, language
            for name, texts in step["sections"].items():
                assert texts["name"], (language, name)
                assert texts["description"], (language, name)
                assert "{" not in texts["description"], (language, name)
                assert set(texts["data"]) == set(texts["data_description"]) == shown[name], (language, name)
        assert "{webhook_url}" in steps["webhook"]["description"], language
        assert "{webhook_url}" not in steps["init"]["description"], language


def _suggested(result: Any) -> dict[str, dict[str, Any]]:
    """Return the suggested value of each field of a sectioned form."""
    found: dict[str, dict[str, Any]] = {}
    for key, value in result["data_schema"].schema.items():
        found[str(key)] = {
            str(field): field.description["suggested_value"]
            for field in value.schema.schema
            if field.description and "suggested_value" in field.description
        }
    return found


async def test_options_are_stored_flat_and_shown_again_in_their_sections(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry
) -> None:
    """Sections are only the form: the entry keeps flat options; an option that does not apply is dropped."""
    hass.config_entries.async_update_entry(loaded_gateway, options={"ack_reference": True, "rate_limit": 7})
    await hass.async_block_till_done(wait_background_tasks=True)
    result = await hass.config_entries.options.async_init(loaded_gateway.entry_id)
    assert _suggested(result)["storm_control"] == {"rate_limit": 7}
    options = {"handover_minutes": 15, "max_age_hours": 12, "rate_limit": 3, "gsm_only": True}
    result = await hass.config_entries.options.async_configure(result["flow_id"], nest(result, options))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    assert loaded_gateway.options == {
        "fallback_entry": "",
        "handover_minutes": 15,
        "max_age_hours": 12,
        "dedup_minutes": 5,
        "rate_limit": 3,
        "daily_budget": 0,
        "parallel_requests": 1,
        "long_messages": "split",
        "gsm_only": True,
    }
    assert loaded_gateway.runtime_data.outbox.settings.gsm_only
    result = await hass.config_entries.options.async_init(loaded_gateway.entry_id)
    suggested = _suggested(result)
    # No fallback chosen (stored as ""): none suggested, or the selector would refuse its own form's value
    assert suggested["fallback"] == {"handover_minutes": 15, "max_age_hours": 12}
    assert suggested["text"] == {"long_messages": "split", "gsm_only": True}
    # Sent back as the frontend fills the form, unchanged: taken
    result = await hass.config_entries.options.async_configure(result["flow_id"], suggested)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert loaded_gateway.options["fallback_entry"] == ""


async def test_options_suggest_no_fallback_entry_that_was_deleted(
    hass: HomeAssistant, gateway: RunningSimulator, second_gateway: RunningSimulator
) -> None:
    """The fallback entry was deleted: its id is not suggested (the selector would refuse it), and the form saves."""
    primary, fallback = await setup_pair(hass, gateway, second_gateway)
    assert await hass.config_entries.async_remove(fallback.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    result = await hass.config_entries.options.async_init(primary.entry_id)
    suggested = _suggested(result)
    assert "fallback_entry" not in suggested["fallback"]
    suggested["storm_control"]["rate_limit"] = 3
    result = await hass.config_entries.options.async_configure(result["flow_id"], suggested)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert (primary.options["fallback_entry"], primary.options["rate_limit"]) == ("", 3)
