"""IPEX callbacks through Home Assistant Cloud: a cloudhook where there is a subscription, as core webhook flows do."""

from __future__ import annotations

import importlib
import inspect
import sys
import types
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from unittest.mock import patch

import homeassistant.components
import pytest
from aiohttp.test_utils import TestClient
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_connect, async_dispatcher_send
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.sms_alerts.const import DOMAIN, EVENT_RECEIVED
from custom_components.sms_alerts.outbox import Outbox

from .conftest import RunningSimulator
from .test_provider_integration import ipex_entry

# Imported at collection, where a missing optional library may log without failing a test
try:
    REAL_CLOUD: types.ModuleType | None = importlib.import_module("homeassistant.components.cloud")
    REAL_CLOUD_ERROR = ""
except ImportError as err:
    REAL_CLOUD, REAL_CLOUD_ERROR = None, str(err)

HOOK = "https://hooks.nabu.casa/gAAAAABfake"
SIGNAL_CONNECTION = "cloud_connection_state"
# The parts of homeassistant.components.cloud that SMS Alerts and Home Assistant's get_url use
CLOUD_API = (
    "CloudNotAvailable",
    "CloudNotConnected",
    "CloudConnectionState",
    "async_is_logged_in",
    "async_active_subscription",
    "async_is_connected",
    "async_get_or_create_cloudhook",
    "async_delete_cloudhook",
    "async_remote_ui_url",
    "async_listen_connection_change",
)


class CloudNotAvailable(HomeAssistantError):  # noqa: N818 - the real one's name
    """As Home Assistant Cloud's."""


class CloudNotConnected(CloudNotAvailable):
    """As Home Assistant Cloud's."""


class CloudConnectionState(Enum):
    """As Home Assistant Cloud's."""

    CLOUD_CONNECTED = "cloud_connected"
    CLOUD_DISCONNECTED = "cloud_disconnected"


@dataclass
class FakeCloud:
    """Home Assistant Cloud's public functions over a login, a subscription, a connection and cloudhooks.

    Importing the real component pulls in Assist and camera requirements that the newest test
    environment lacks; `test_the_fake_has_the_real_api` holds this stand-in to the real one.
    """

    hass: HomeAssistant
    logged_in: bool = False
    subscribed: bool = False
    connected: bool = False
    fail: Exception | None = None
    hooks: dict[str, str] = field(default_factory=dict)

    def module(self) -> types.ModuleType:
        """Return a stand-in for homeassistant.components.cloud."""
        module = types.ModuleType("homeassistant.components.cloud")
        module.__dict__.update(
            CloudNotAvailable=CloudNotAvailable,
            CloudNotConnected=CloudNotConnected,
            CloudConnectionState=CloudConnectionState,
            async_is_logged_in=lambda _hass: self.logged_in,
            async_active_subscription=lambda _hass: self.logged_in and self.subscribed,
            async_is_connected=lambda _hass: self.connected,
            async_get_or_create_cloudhook=self.get_or_create,
            async_delete_cloudhook=self.delete,
            async_remote_ui_url=self.remote_ui_url,
            async_listen_connection_change=lambda hass, target: async_dispatcher_connect(
                hass, SIGNAL_CONNECTION, target
            ),
        )
        return module

    async def get_or_create(self, _hass: HomeAssistant, webhook_id: str) -> str:
        """Return the webhook's cloudhook, made on first use."""
        if not self.connected:
            raise CloudNotConnected
        if self.fail is not None:
            raise self.fail
        return self.hooks.setdefault(webhook_id, f"{HOOK}{len(self.hooks)}")

    async def delete(self, _hass: HomeAssistant, webhook_id: str) -> None:
        """Delete a cloudhook; ValueError for one that is not there, as Home Assistant Cloud does."""
        if webhook_id not in self.hooks:
            raise ValueError("Hook is not registered")
        del self.hooks[webhook_id]

    def remote_ui_url(self, _hass: HomeAssistant) -> str:
        """Remote UI is off in these tests."""
        raise CloudNotAvailable

    def connect(self) -> None:
        """Log in and connect, and tell the listeners."""
        self.logged_in = self.subscribed = self.connected = True
        async_dispatcher_send(self.hass, SIGNAL_CONNECTION, CloudConnectionState.CLOUD_CONNECTED)

    def lapse(self) -> None:
        """The subscription ends: the cloud disconnects, and tells the listeners."""
        self.subscribed = self.connected = False
        async_dispatcher_send(self.hass, SIGNAL_CONNECTION, CloudConnectionState.CLOUD_DISCONNECTED)


@pytest.fixture
def fake_cloud(hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch) -> FakeCloud:
    """Home Assistant Cloud loaded, not logged in, no external URL."""
    fake = FakeCloud(hass)
    module = fake.module()
    monkeypatch.setitem(sys.modules, "homeassistant.components.cloud", module)
    monkeypatch.setattr(homeassistant.components, "cloud", module, raising=False)
    hass.config.components.add("cloud")
    return fake


def test_the_fake_has_the_real_api() -> None:
    """The stand-in offers what the real component does, with the same parameters."""
    if REAL_CLOUD is None:
        pytest.skip(f"Home Assistant Cloud cannot be imported here ({REAL_CLOUD_ERROR}); the other version checks it")
    fake = FakeCloud(hass=None).module()  # type: ignore[arg-type]
    for name in CLOUD_API:
        mine, theirs = getattr(fake, name), getattr(REAL_CLOUD, name)
        if isinstance(theirs, type):
            assert mine.__name__ == theirs.__name__, name
            continue
        wanted = list(inspect.signature(theirs).parameters)
        assert len(inspect.signature(mine).parameters) == len(wanted), name
    assert [state.value for state in REAL_CLOUD.CloudConnectionState] == [state.value for state in CloudConnectionState]
    assert issubclass(REAL_CLOUD.CloudNotConnected, REAL_CLOUD.CloudNotAvailable)


def issue(hass: HomeAssistant, entry_id: str) -> ir.IssueEntry | None:
    """The entry's repair issue about a missing callback address."""
    return ir.async_get(hass).async_get_issue(DOMAIN, f"{entry_id}_no_external_url")


async def options_address(hass: HomeAssistant, entry_id: str) -> str:
    """The webhook address the options form shows."""
    result = await hass.config_entries.options.async_init(entry_id)
    address: str = result["description_placeholders"]["webhook_url"]  # type: ignore[index]
    return address


async def test_subscription_gives_a_cloudhook_and_removal_deletes_it(
    hass: HomeAssistant,
    ipex_sim: RunningSimulator,
    fake_cloud: FakeCloud,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """Subscribed and connected, without an external URL: the flow shows a cloudhook, no issue, removal deletes it."""
    fake_cloud.connect()
    entry = await ipex_entry(hass, ipex_sim.url)
    webhook_id = entry.data["webhook_id"]
    assert fake_cloud.hooks == {webhook_id: f"{HOOK}0"}
    assert await options_address(hass, entry.entry_id) == f"{HOOK}0"
    assert issue(hass, entry.entry_id) is None
    # The cloud forwards to the same webhook, which takes inbound SMS as before
    received = async_capture_events(hass, EVENT_RECEIVED)
    client = await hass_client_no_auth()
    body = {"id": "2", "from": "+420777111222", "to": "+420777888999", "text": "ACK", "direction": "IN"}
    assert (await client.post(f"/api/webhook/{webhook_id}", json=body)).status == 200
    await hass.async_block_till_done()
    assert [event.data["text"] for event in received] == ["ACK"]

    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert fake_cloud.hooks == {}


async def test_logging_in_to_the_cloud_later_clears_the_issue(
    hass: HomeAssistant, ipex_sim: RunningSimulator, fake_cloud: FakeCloud
) -> None:
    """No address at first: the issue; the cloud connects: a cloudhook, and the issue clears at once."""
    entry = await ipex_entry(hass, ipex_sim.url)
    assert issue(hass, entry.entry_id) is not None
    assert (await options_address(hass, entry.entry_id)).startswith("https://<your Home Assistant address>/")
    fake_cloud.connect()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert issue(hass, entry.entry_id) is None
    assert await options_address(hass, entry.entry_id) == f"{HOOK}0"
    # Removal of an entry without a cloudhook of its own deletes nothing else
    fake_cloud.hooks["other"] = "https://hooks.nabu.casa/other"
    del fake_cloud.hooks[entry.data["webhook_id"]]
    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert fake_cloud.hooks == {"other": "https://hooks.nabu.casa/other"}


async def test_subscription_still_connecting_raises_no_issue_until_connected(
    hass: HomeAssistant, ipex_sim: RunningSimulator, fake_cloud: FakeCloud
) -> None:
    """Just after a start the cloud is subscribed but not connected: no issue flashes up; it connects: a cloudhook."""
    fake_cloud.logged_in = fake_cloud.subscribed = True
    entry = await ipex_entry(hass, ipex_sim.url)
    assert issue(hass, entry.entry_id) is None
    assert fake_cloud.hooks == {}
    fake_cloud.connect()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert fake_cloud.hooks == {entry.data["webhook_id"]: f"{HOOK}0"}
    assert issue(hass, entry.entry_id) is None


async def test_cloud_failure_falls_back_to_the_external_url_or_the_issue(
    hass: HomeAssistant, ipex_sim: RunningSimulator, fake_cloud: FakeCloud, caplog: pytest.LogCaptureFixture
) -> None:
    """The cloud refuses a cloudhook: a warning, then the external URL if there is one, else the issue."""
    fake_cloud.fail = CloudNotAvailable("subscription expired")
    fake_cloud.connect()
    entry = await ipex_entry(hass, ipex_sim.url)
    assert "Home Assistant Cloud gave no webhook address (CloudNotAvailable: subscription expired)" in caplog.text
    assert issue(hass, entry.entry_id) is not None
    await hass.config.async_update(external_url="https://ha.example.com")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert issue(hass, entry.entry_id) is None
    webhook_id = entry.data["webhook_id"]
    assert await options_address(hass, entry.entry_id) == f"https://ha.example.com/api/webhook/{webhook_id}"


async def test_removal_deletes_nothing_when_logged_out_and_survives_a_cloud_error(
    hass: HomeAssistant, ipex_sim: RunningSimulator, fake_cloud: FakeCloud, caplog: pytest.LogCaptureFixture
) -> None:
    """Logged out by now: no call to the cloud. A cloud error while deleting: a warning, and the entry is gone."""
    fake_cloud.connect()
    first = await ipex_entry(hass, ipex_sim.url)
    fake_cloud.logged_in = False
    assert await hass.config_entries.async_remove(first.entry_id)
    assert fake_cloud.hooks == {first.data["webhook_id"]: f"{HOOK}0"}  # left to the cloud account

    fake_cloud.logged_in = True
    second = await ipex_entry(hass, ipex_sim.url)

    async def unreachable(_hass: HomeAssistant, _webhook_id: str) -> None:
        raise TimeoutError("no answer")

    monkeypatched = sys.modules["homeassistant.components.cloud"]
    monkeypatched.async_delete_cloudhook = unreachable
    assert await hass.config_entries.async_remove(second.entry_id)
    await hass.async_block_till_done()
    assert "Could not delete the Home Assistant Cloud webhook (TimeoutError: no answer)" in caplog.text
    assert hass.config_entries.async_get_entry(second.entry_id) is None


def changed_issue(hass: HomeAssistant, entry_id: str) -> ir.IssueEntry | None:
    """The entry's repair issue about a webhook address that no longer reaches Home Assistant."""
    return ir.async_get(hass).async_get_issue(DOMAIN, f"{entry_id}_webhook_url_changed")


async def fix(hass: HomeAssistant, client: TestClient, entry_id: str) -> tuple[dict[str, Any], str]:
    """Open the fix flow of the changed-address issue as the frontend does; return its form and flow id."""
    response = await client.post(
        "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": f"{entry_id}_webhook_url_changed"}
    )
    assert response.status == 200
    form: dict[str, Any] = await response.json()
    return form, form["flow_id"]


async def test_a_lapsed_subscription_raises_a_fixable_issue_with_the_new_address(
    hass: HomeAssistant,
    ipex_sim: RunningSimulator,
    fake_cloud: FakeCloud,
    hass_client: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """SMS Chat holds the cloudhook; the subscription ends: a fixable issue shows the external address to paste."""
    assert await async_setup_component(hass, "repairs", {})
    await hass.config.async_update(external_url="https://ha.example.com")
    fake_cloud.connect()
    entry = await ipex_entry(hass, ipex_sim.url)
    webhook_id = entry.data["webhook_id"]
    external = f"https://ha.example.com/api/webhook/{webhook_id}"
    assert entry.data["webhook_url"] == f"{HOOK}0"
    assert changed_issue(hass, entry.entry_id) is None
    outbox = entry.runtime_data.outbox

    fake_cloud.lapse()
    await hass.async_block_till_done(wait_background_tasks=True)
    found = changed_issue(hass, entry.entry_id)
    assert found is not None
    assert found.is_fixable
    assert found.severity is ir.IssueSeverity.ERROR
    assert found.translation_placeholders == {"entry": entry.title}
    assert issue(hass, entry.entry_id) is None  # there is an address, just not the one SMS Chat has
    assert caplog.text.count("no longer reaches Home Assistant") == 1
    assert webhook_id not in caplog.text  # the address holds the webhook's only secret
    assert await options_address(hass, entry.entry_id) == external
    # Checked again on a change of the core configuration: the same issue, no second warning
    await hass.config.async_update(location_name="Plant room")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert caplog.text.count("no longer reaches Home Assistant") == 1

    client = await hass_client()
    form, flow_id = await fix(hass, client, entry.entry_id)
    assert form["step_id"] == "confirm"
    assert form["description_placeholders"] == {"entry": entry.title, "webhook_url": external}
    response = await client.post(f"/api/repairs/issues/fix/{flow_id}", json={})
    assert (await response.json())["type"] == "create_entry"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.data["webhook_url"] == external
    assert changed_issue(hass, entry.entry_id) is None
    # Remembering the address is no reason to reload: the same outbox keeps running
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.outbox is outbox

    # The subscription comes back: the external address SMS Chat has now still works, so no issue
    fake_cloud.connect()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert changed_issue(hass, entry.entry_id) is None
    assert await options_address(hass, entry.entry_id) == external


async def test_a_changed_external_url_raises_the_issue_and_changing_it_back_clears_it(
    hass: HomeAssistant, ipex_sim: RunningSimulator
) -> None:
    """Without the cloud: SMS Chat holds an external-URL address; the URL changes, then changes back."""
    await hass.config.async_update(external_url="https://ha.example.com")
    entry = await ipex_entry(hass, ipex_sim.url)
    webhook_id = entry.data["webhook_id"]
    assert entry.data["webhook_url"] == f"https://ha.example.com/api/webhook/{webhook_id}"

    await hass.config.async_update(external_url="https://alerts.example.org:8443")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert changed_issue(hass, entry.entry_id) is not None
    assert await options_address(hass, entry.entry_id) == f"https://alerts.example.org:8443/api/webhook/{webhook_id}"

    # No address at all: only the issue that says so
    await hass.config.async_update(external_url=None)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert changed_issue(hass, entry.entry_id) is None
    assert issue(hass, entry.entry_id) is not None

    await hass.config.async_update(external_url="https://ha.example.com")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert changed_issue(hass, entry.entry_id) is None
    assert issue(hass, entry.entry_id) is None
    assert entry.data["webhook_url"] == f"https://ha.example.com/api/webhook/{webhook_id}"


async def test_a_cloudhook_is_not_judged_while_the_cloud_is_still_connecting(
    hass: HomeAssistant, ipex_sim: RunningSimulator, fake_cloud: FakeCloud
) -> None:
    """After a restart the subscription is there but not connected yet: the cloudhook SMS Chat has is not doubted."""
    await hass.config.async_update(external_url="https://ha.example.com")
    fake_cloud.connect()
    entry = await ipex_entry(hass, ipex_sim.url)
    assert entry.data["webhook_url"] == f"{HOOK}0"
    fake_cloud.connected = False
    async_dispatcher_send(hass, SIGNAL_CONNECTION, CloudConnectionState.CLOUD_DISCONNECTED)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert changed_issue(hass, entry.entry_id) is None
    fake_cloud.connect()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert changed_issue(hass, entry.entry_id) is None
    assert entry.data["webhook_url"] == f"{HOOK}0"


async def test_an_entry_without_a_remembered_address_takes_the_current_one_without_a_reload(
    hass: HomeAssistant, ipex_sim: RunningSimulator
) -> None:
    """Made before addresses were remembered, or while there was none: the first address found is what SMS Chat has."""
    await hass.config.async_update(external_url="https://ha.example.com")
    made = await ipex_entry(hass, ipex_sim.url)
    data = {key: value for key, value in made.data.items() if key != "webhook_url"}
    webhook_id = data["webhook_id"]
    assert await hass.config_entries.async_remove(made.entry_id)
    # At start, with an address
    before = MockConfigEntry(domain=DOMAIN, title=made.title, data=data, unique_id=made.unique_id)
    before.add_to_hass(hass)
    assert await hass.config_entries.async_setup(before.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert before.data["webhook_url"] == f"https://ha.example.com/api/webhook/{webhook_id}"
    assert await hass.config_entries.async_remove(before.entry_id)

    # Later, once there is an address, while the entry runs
    await hass.config.async_update(external_url=None)
    later = MockConfigEntry(domain=DOMAIN, title=made.title, data=data, unique_id=made.unique_id)
    later.add_to_hass(hass)
    with patch("custom_components.sms_alerts.Outbox", wraps=Outbox) as outboxes:
        assert await hass.config_entries.async_setup(later.entry_id)
        await hass.async_block_till_done(wait_background_tasks=True)
        assert "webhook_url" not in later.data
        assert issue(hass, later.entry_id) is not None
        await hass.config.async_update(external_url="https://ha.example.com")
        await hass.async_block_till_done(wait_background_tasks=True)
    assert later.data["webhook_url"] == f"https://ha.example.com/api/webhook/{webhook_id}"
    assert outboxes.call_count == 1  # set up once: remembering the address did not reload it
    assert issue(hass, later.entry_id) is None
    assert changed_issue(hass, later.entry_id) is None


async def test_the_fix_flow_aborts_without_an_address_or_an_entry(
    hass: HomeAssistant, ipex_sim: RunningSimulator, hass_client: ClientSessionGenerator
) -> None:
    """The address went away before the fix was opened; or the entry was removed: the flow says so."""
    assert await async_setup_component(hass, "repairs", {})
    await hass.config.async_update(external_url="https://ha.example.com")
    entry = await ipex_entry(hass, ipex_sim.url)
    await hass.config.async_update(external_url="https://alerts.example.org")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert changed_issue(hass, entry.entry_id) is not None
    client = await hass_client()
    with patch("custom_components.sms_alerts.repairs.async_webhook_url", return_value=None):
        form, _flow_id = await fix(hass, client, entry.entry_id)
    assert form["type"] == "abort"
    assert form["reason"] == "no_address"
    assert changed_issue(hass, entry.entry_id) is not None  # an abort leaves the issue

    ir.async_create_issue(
        hass,
        DOMAIN,
        "gone_webhook_url_changed",
        is_fixable=True,
        severity=ir.IssueSeverity.ERROR,
        translation_key="webhook_url_changed",
        translation_placeholders={"entry": "Gone"},
        data={"entry_id": "gone"},
    )
    form, _flow_id = await fix(hass, client, "gone")
    assert form["reason"] == "entry_removed"
