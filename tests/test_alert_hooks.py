"""A source's webhook while its entry is not loaded: 503 for the sender to try again, never a 200 that drops it.

Home Assistant answers a webhook nobody listens on with 200 and drops the body (homeassistant/components/webhook,
`async_handle_webhook`: "Always respond successfully to not give away if a hook exists or not"). An alert posted
while its entry reloads (an option, a recipient or a source changed) or failed to set up would be lost without a
word to its sender; Alertmanager and Grafana send a notification again after a 5xx.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from homeassistant.components import webhook
from homeassistant.components.webhook import DOMAIN as WEBHOOK_DOMAIN
from homeassistant.config_entries import ConfigEntryDisabler, ConfigEntryState, ConfigSubentry
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.sms_alerts import alert_webhooks
from custom_components.sms_alerts.alert_sources import AlertSources
from custom_components.sms_alerts.alert_webhooks import RETRY_AFTER_SECONDS
from custom_components.sms_alerts.outbox import Outbox

from .conftest import RunningSimulator, until
from .test_alert_sources import HOOK, TOKEN, bearer, entry_with, load, setup, source_subentry


async def post_raw(
    hass_client_no_auth: ClientSessionGenerator, body: Any, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str]]:
    """Post a body to the source's webhook: its status and headers."""
    client = await hass_client_no_auth()
    response = await client.post(
        f"/api/webhook/{HOOK}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **(bearer() if headers is None else headers)},
    )
    return response.status, dict(response.headers)


def handlers(hass: HomeAssistant) -> dict[str, Any]:
    """The webhooks Home Assistant listens on, by id."""
    return hass.data.get(WEBHOOK_DOMAIN, {})


def handler_field(hass: HomeAssistant, webhook_id: str, name: str) -> Any:
    """A field of a webhook's registration (a dict up to 2026.x, then an object)."""
    handler = handlers(hass)[webhook_id]
    return handler[name] if isinstance(handler, dict) else getattr(handler, name)


async def test_an_alert_while_the_entry_is_unloaded_gets_503_and_goes_once_it_is_back(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Unloaded: after a short wait for it, 503 with Retry-After and one warning; 401 without the secret at once.

    Loaded again, the sender's retry is sent.
    """
    monkeypatch.setattr(alert_webhooks, "WAIT_FOR_ENTRY_SECONDS", 0.05)
    entry = entry_with(gateway, source_subentry())
    await setup(hass, entry)
    assert await hass.config_entries.async_unload(entry.entry_id)
    status, headers = await post_raw(hass_client_no_auth, load("alertmanager_firing"))
    assert status == 503
    assert headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    [line] = [r for r in caplog.records if "answered 503" in r.getMessage()]
    assert line.levelname == "WARNING"
    assert "is not loaded (not_loaded)" in line.getMessage()
    assert (await post_raw(hass_client_no_auth, load("alertmanager_firing"), bearer("wrong")))[0] == 401
    assert TOKEN not in caplog.text
    assert gateway.sim.messages == []
    # The sender's next try, once the entry is back
    assert await hass.config_entries.async_setup(entry.entry_id)
    assert (await post_raw(hass_client_no_auth, load("alertmanager_firing")))[0] == 200
    await until(lambda: len(gateway.sim.messages) == 1, "the alert sent")


@pytest.mark.allow_traceback  # Home Assistant logs the failed setup with its traceback
async def test_an_entry_that_failed_to_set_up_answers_503(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Its sources' alerts are not taken, and their senders are told so."""

    async def broken(self: Outbox) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(Outbox, "async_load", broken)
    entry = entry_with(gateway, source_subentry())
    hass.config.country = "DE"
    entry.add_to_hass(hass)
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert (await post_raw(hass_client_no_auth, load("alertmanager_firing")))[0] == 503
    assert any("is not loaded (setup_error)" in r.getMessage() for r in caplog.records)


async def test_an_alert_in_the_middle_of_a_reload_waits_for_it_and_is_taken(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
) -> None:
    """Posted between the unload and the setup of a reload: it waits for the entry, then 200 and its SMS.

    Not Home Assistant's 200 that drops it, and not even a 503: a sender that never tries again loses nothing.
    """
    entry = entry_with(gateway, source_subentry())
    await setup(hass, entry)
    posted: list[asyncio.Task[tuple[int, dict[str, str]]]] = []
    original = hass.config_entries.async_setup

    async def post_then_setup(entry_id: str, *args: Any, **kwargs: Any) -> bool:
        posted.append(
            asyncio.get_running_loop().create_task(post_raw(hass_client_no_auth, load("alertmanager_firing")))
        )
        # The request is in, and waits: the entry is not loaded
        await until(lambda: bool(gateway.sim.messages) or _waiting(hass), "the request waiting")
        return await original(entry_id, *args, **kwargs)

    hass.config_entries.async_setup = post_then_setup  # type: ignore[method-assign]
    try:
        assert await hass.config_entries.async_reload(entry.entry_id)
    finally:
        hass.config_entries.async_setup = original  # type: ignore[method-assign]
    [task] = posted
    assert (await task)[0] == 200
    await until(lambda: len(gateway.sim.messages) == 1, "the alert sent")


def _waiting(hass: HomeAssistant) -> bool:
    """Whether a request waits for its entry (its hook's event has a waiter)."""
    hooks = alert_webhooks.source_hooks(hass)
    return any(hook.taking._waiters for hook in hooks._hooks.values())


async def test_the_webhooks_follow_the_sources(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, gateway: RunningSimulator
) -> None:
    """A source's `local_only` changed: listened on anew with it; a source removed, or its entry: no longer."""
    entry = entry_with(gateway, source_subentry())
    await setup(hass, entry)
    assert handler_field(hass, HOOK, "local_only") is True
    source = entry.subentries["source1"]
    hass.config_entries.async_update_subentry(entry, source, data={**source.data, "local_only": False})
    await hass.async_block_till_done(wait_background_tasks=True)
    assert handler_field(hass, HOOK, "local_only") is False
    assert (await post_raw(hass_client_no_auth, load("alertmanager_firing")))[0] == 200
    assert hass.config_entries.async_remove_subentry(entry, "source1")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.state is ConfigEntryState.LOADED
    assert HOOK not in handlers(hass)
    # Added again, then the entry removed
    hass.config_entries.async_add_subentry(entry, ConfigSubentry(**_subentry_fields(source_subentry())))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert HOOK in handlers(hass)
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert HOOK not in handlers(hass)


async def test_the_webhooks_answer_from_the_integrations_start(
    hass: HomeAssistant, hass_client_no_auth: ClientSessionGenerator, gateway: RunningSimulator
) -> None:
    """A disabled entry's sources are listened on too: their senders hear 503, not a 200 that drops the alert."""
    hass.config.country = "DE"
    entry = entry_with(gateway, source_subentry())
    entry.add_to_hass(hass)
    await hass.config_entries.async_set_disabled_by(entry.entry_id, ConfigEntryDisabler.USER)
    assert await async_setup_component(hass, "sms_alerts", {})
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert (await post_raw(hass_client_no_auth, load("alertmanager_firing")))[0] == 503
    assert gateway.sim.messages == []


def _subentry_fields(data: dict[str, Any]) -> dict[str, Any]:
    """A subentry's fields as ConfigSubentry takes them."""
    return {key: data[key] for key in ("data", "subentry_type", "title", "unique_id")}


async def test_a_webhook_id_taken_elsewhere_costs_only_that_source(
    hass: HomeAssistant, gateway: RunningSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Another integration listening on the source's id (copied by hand): one error line; the entry still loads."""
    assert await async_setup_component(hass, WEBHOOK_DOMAIN, {})

    async def other(*_args: Any) -> None:
        return None

    webhook.async_register(hass, "other", "Other", HOOK, other)
    entry = entry_with(gateway, source_subentry())
    await setup(hass, entry)
    assert entry.state is ConfigEntryState.LOADED
    assert handler_field(hass, HOOK, "domain") == "other"
    [line] = [r for r in caplog.records if "cannot listen on its webhook" in r.getMessage()]
    assert line.levelname == "ERROR"


@pytest.mark.allow_traceback  # our own fault is logged with its traceback
async def test_a_body_we_fail_to_act_on_gets_500_and_its_retry_is_taken(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A fault of ours while acting on a body: 500, for the sender to try again (not Home Assistant's 200).

    The retry is acted on, not ignored as the same delivery again.
    """
    entry = entry_with(gateway, source_subentry())
    await setup(hass, entry)
    original = AlertSources._fire
    calls = 0

    def broken_once(self: AlertSources, *args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a fault of ours")
        original(self, *args)

    monkeypatch.setattr(AlertSources, "_fire", broken_once)
    assert (await post_raw(hass_client_no_auth, load("alertmanager_firing")))[0] == 500
    [line] = [r for r in caplog.records if "could not be acted on" in r.getMessage()]
    assert line.levelname == "ERROR"
    assert line.exc_info is not None
    assert (await post_raw(hass_client_no_auth, load("alertmanager_firing")))[0] == 200
    await until(lambda: len(gateway.sim.messages) == 1, "the retry sent")
