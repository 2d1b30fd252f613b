"""Repair issues: texts that say each thing once, and a fix flow that leads to a new login."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.sms_alerts.api import tls
from custom_components.sms_alerts.const import DOMAIN

from .conftest import GATEWAY_PASSWORD, GATEWAY_USER, RunningSimulator, send

TRANSLATIONS = Path(__file__).parents[1] / "custom_components/sms_alerts/translations"
ENTRY = "SMS Gateway 127.0.0.1"
# The error texts each issue is raised with, as the clients in api/ word them
ERRORS: dict[str, list[str]] = {
    "no_api_permission": ["HTTP 403: 403 Forbidden - Your User has no right to send SMS over API"],
    "ssl_error": [text for case, text in tls.ADVICE.items() if case != tls.WEAK],
    "weak_tls": [tls.ADVICE[tls.WEAK]],
    "entry_rejected": ["HTTP 402: payment required"],
    "sms_api_disabled": ["SMS API is disabled"],
    "sms_not_enabled": ["SMS not enabled for this tenant"],
    "invalid_sender": ["Invalid or missing sender SMS number"],
    "no_sms_api": ["HTTP 404: no SMS API at this address"],
    "redirected": [
        "the device redirects this address elsewhere (https://pbx.example.com/): enter the address it redirects to",
        "the PBX redirects elsewhere: enter the address it redirects to (https://pbx.example.com/)",
    ],
    "invalid_gsm": ["the entry's GSM gateway '9c:75' is not a MAC address (12 hex digits)"],
    "sender_not_allowed": ["HTTP 403: sender not allowed"],
    "no_sender": ["no sender number is set for IPEX"],
}


def _texts(issue: dict[str, Any]) -> list[tuple[str, str]]:
    """Return what is read together: the issue's title and description, or each fix flow step's."""
    if "description" in issue:
        return [(issue["title"], issue["description"])]
    return [(step["title"], step["description"]) for step in issue["fix_flow"]["step"].values()]


def _rendered(language: str) -> list[tuple[str, str, str]]:
    """Render each issue's titles and texts with the placeholders it is raised with: (key, title, text)."""
    issues = json.loads((TRANSLATIONS / f"{language}.json").read_text())["issues"]
    found = []
    for key, issue in issues.items():
        for error in ERRORS.get(key, [""]):
            placeholders = {
                "entry": ENTRY,
                "entry_url": "/config/integrations/integration/sms_alerts#config_entry=abc",
                "error": error,
                "budget": "100",
                "minutes": "15",
                "webhook_url": "https://ha.example.com/api/webhook/x",
            }
            found += [(key, title.format(**placeholders), text.format(**placeholders)) for title, text in _texts(issue)]
    return found


def _phrases(text: str, size: int) -> list[tuple[str, ...]]:
    """Return the runs of `size` words of a text, lower-cased."""
    words = re.findall(r"[\w']+", text.lower())
    return [tuple(words[i : i + size]) for i in range(len(words) - size + 1)]


@pytest.mark.parametrize("language", ["en", "de"])
def test_issue_texts_say_each_thing_once(language: str) -> None:
    """Rendered with its entry and error: the title is not repeated, nothing is nested, no phrase comes twice."""
    for key, title, text in _rendered(language):
        assert ENTRY not in text or ENTRY not in title, (key, text)
        assert not re.search(r"\([^)]*\(", text), (key, text)  # no brackets inside brackets
        phrases = _phrases(text, 4)
        repeated = {phrase for phrase in phrases if phrases.count(phrase) > 1}
        assert not repeated, (key, repeated, text)


def test_old_texts_would_fail_the_check() -> None:
    """The check catches what users saw: the advice of a redirect said twice, brackets in brackets."""
    old = (
        "{entry} answered with a redirect ({error}). Reconfigure the entry with the address it redirects to. "
        "This issue clears after the next successful send."
    ).format(entry=ENTRY, error=ERRORS["redirected"][0])
    phrases = _phrases(old, 4)
    assert re.search(r"\([^)]*\(", old)
    assert {phrase for phrase in phrases if phrases.count(phrase) > 1}


async def test_refused_api_right_is_fixed_by_logging_in_again(
    hass: HomeAssistant,
    loaded_gateway: MockConfigEntry,
    gateway: RunningSimulator,
    hass_client: ClientSessionGenerator,
) -> None:
    """A login without the API right: a fixable issue whose fix starts reauthentication; the new login sends."""
    assert await async_setup_component(hass, "repairs", {})
    gateway.sim.users[GATEWAY_USER].api_access = False
    with pytest.raises(HomeAssistantError, match="no right to send SMS over API"):
        await send(hass, loaded_gateway, message="Freezer warm")
    issue_id = f"{loaded_gateway.entry_id}_no_api_permission"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.is_fixable
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["entry_url"].endswith(f"#config_entry={loaded_gateway.entry_id}")

    client = await hass_client()
    response = await client.post("/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue_id})
    form = await response.json()
    assert (form["step_id"], form["description_placeholders"]["entry"]) == ("confirm", loaded_gateway.title)
    assert "no right" in form["description_placeholders"]["error"]
    response = await client.post(f"/api/repairs/issues/fix/{form['flow_id']}", json={})
    assert (await response.json())["type"] == "create_entry"
    await hass.async_block_till_done(wait_background_tasks=True)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]

    gateway.sim.users[GATEWAY_USER].api_access = True
    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {"username": GATEWAY_USER, "password": GATEWAY_PASSWORD}
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert (await send(hass, loaded_gateway, message="Freezer cold"))["results"][0]["status"] == "sent"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
