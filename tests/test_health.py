"""Provider health: check.php parsing and reading, reachability from sends, and the entities showing both."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    mock_restore_cache,
)

from custom_components.sms_alerts.api.base import Target, TargetKind, TransientError
from custom_components.sms_alerts.api.brevisone import (
    BrevisOneProvider,
    GatewayHealth,
    HealthDataError,
    parse_check,
)
from custom_components.sms_alerts.const import DOMAIN
from custom_components.sms_alerts.coordinator import (
    HEALTH_INTERVAL,
    Reachability,
    async_setup_health,
)
from custom_components.sms_alerts.outbox import (
    Block,
    QueuedItem,
    SendOptions,
    SendReport,
    SendStatus,
    TargetResult,
)
from simulators.base import Fault

from .conftest import GATEWAY_PASSWORD, GATEWAY_USER, RECIPIENT, RunningSimulator, send

OTHER = "+491709876543"

# check.php


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "que: 0\nfailed: 2\nsignal: -71 dBm\ntotal: 5\n",
            {"que": 0, "failed": 2, "signal": -71, "total": 5},
        ),
        (
            # Another order, "db", CRLF, a line without a number and one without a colon
            "total: 25\r\nsignal_strength: -85 db\r\nmodem: ready\r\nGSM OK\r\nque: 3\r\nfailed: 0\r\n",
            {"total": 25, "signal": -85, "modem": None, "que": 3, "failed": 0},
        ),
        ("Que : 7\nSignal Strength: -90dBm\n", {"que": 7, "signal": -90}),
        ("que: foo\nque: 4\n", {"que": None}),
        ("<html><body>Login</body></html>", {}),
        ("", {}),
    ],
)
def test_parse_check_reads_by_key(text: str, expected: dict[str, int | None]) -> None:
    """Keys in any order, units dropped, other lines skipped; the first line of a key counts."""
    assert parse_check(text) == expected


@pytest.mark.parametrize(
    ("state", "problem"),
    [("OK", None), (None, None), ("Blocked", "Blocked"), ("Modem: trouble", "Trouble"), ("State unknown", "Unknown")],
)
def test_state_problem_words(state: str | None, problem: str | None) -> None:
    """The state page's problem words, in any case."""
    health = GatewayHealth(queue=0, failed=0, signal_dbm=None, total=None, state=state)
    assert health.problem == problem


def make(session: aiohttp.ClientSession, url: str) -> BrevisOneProvider:
    """A client for the simulator with the demo login."""
    config = {"url": url, "username": GATEWAY_USER, "password": GATEWAY_PASSWORD}
    return BrevisOneProvider.from_config(session, config, timeout=5)


async def test_health_reads_check_page_without_login(gateway: RunningSimulator, session: aiohttp.ClientSession) -> None:
    """Counters and state come from two GETs of check.php that carry no credentials."""
    gateway.sim.queue_length = 4
    gateway.sim.failed_count = 2
    gateway.sim.signal_dbm = -95
    gateway.sim.check_state = "Blocked"
    health = await make(session, f"{gateway.url}/api.php").async_health()
    assert health == GatewayHealth(queue=4, failed=2, signal_dbm=-95, total=0, state="Blocked")
    assert health.problem == "Blocked"
    assert [(r.method, r.path, r.query, r.form) for r in gateway.sim.requests] == [
        ("GET", "/check.php", {}, {}),
        ("GET", "/check.php", {"option": "state"}, {}),
    ]
    for request in gateway.sim.requests:
        assert "Authorization" not in request.headers
        assert GATEWAY_PASSWORD not in str(request.headers)
        assert GATEWAY_USER not in str(request.headers)


@pytest.mark.parametrize("fault", [Fault.HTTP_503, Fault.HTML_500, Fault.RESET])
async def test_health_unreachable_is_transient(
    gateway: RunningSimulator, session: aiohttp.ClientSession, fault: Fault
) -> None:
    """Server errors and dropped connections are transient, with the page cut out of the reason."""
    gateway.sim.fail(fault)
    with pytest.raises(TransientError) as err:
        await make(session, gateway.url).async_health()
    assert "<" not in err.value.reason


async def test_health_nothing_listening(closed_url: str, session: aiohttp.ClientSession) -> None:
    """A gateway that is off is transient 'cannot_connect'."""
    with pytest.raises(TransientError) as err:
        await make(session, closed_url).async_health()
    assert err.value.key == "cannot_connect"


async def test_health_without_check_page(gateway: RunningSimulator, session: aiohttp.ClientSession) -> None:
    """A 404 is an answer, but no health data."""
    with pytest.raises(HealthDataError) as err:
        await make(session, f"{gateway.url}/elsewhere").async_health()
    assert err.value.reason.startswith("HTTP 404")
    assert len(gateway.sim.requests) == 1


@pytest.fixture
async def odd_gateway(socket_enabled: None) -> AsyncGenerator[tuple[str, dict[str, str]]]:
    """A device whose check.php body is set by the test and which has no state page (older firmware)."""
    page = {"body": ""}

    async def check(request: web.Request) -> web.Response:
        if "option" in request.query:
            return web.Response(status=404, text="<html>Not Found</html>", content_type="text/html")
        return web.Response(text=page["body"])

    app = web.Application()
    app.router.add_get("/check.php", check)
    async with TestServer(app, host="127.0.0.1") as server:
        yield str(server.make_url("/")), page


async def test_health_older_firmware(odd_gateway: tuple[str, dict[str, str]], session: aiohttp.ClientSession) -> None:
    """The monitoring plugin's example page reads; a missing state page leaves the state unknown."""
    url, page = odd_gateway
    page["body"] = "que: 2\nfailed: 0\nsignal_strength: 15 db\ntotal: 25\n"
    health = await make(session, url).async_health()
    assert health == GatewayHealth(queue=2, failed=0, signal_dbm=15, total=25, state=None)


async def test_health_page_without_queue_line(
    odd_gateway: tuple[str, dict[str, str]], session: aiohttp.ClientSession
) -> None:
    """A 200 page that is not check.php's (a login page, say) is no health data."""
    url, page = odd_gateway
    page["body"] = "<html><body>Please log in</body></html>"
    with pytest.raises(HealthDataError):
        await make(session, url).async_health()


# Reachability from send reports


@dataclass
class FakeOutbox:
    """What reachability reads from an outbox."""

    items: list[QueuedItem] = field(default_factory=list)
    block: Block | None = None


def waiting(item_id: str, attempts: int) -> QueuedItem:
    """A message the outbox keeps, tried `attempts` times."""
    return QueuedItem(
        id=item_id,
        message_id="m",
        text="x",
        target=Target(kind=TargetKind.NUMBER, value=RECIPIENT),
        options=SendOptions(),
        parts=1,
        severity="warning",
        created=0.0,
        attempts=attempts,
    )


def report(message_id: str, *results: tuple[str, SendStatus, str | None], provider: str = "wildix") -> SendReport:
    """A send report with one result per (item id, status, error)."""
    return SendReport(
        message_id=message_id,
        item_ids=tuple(item_id for item_id, _, _ in results),
        results=tuple(
            TargetResult(target=RECIPIENT, status=status, provider=provider, error=error, parts=1)
            for _, status, error in results
        ),
    )


def tracked(outbox: FakeOutbox) -> tuple[Reachability, list[bool | None]]:
    """Reachability of a Wildix entry and the values its listener saw."""
    reachability = Reachability("wildix", outbox)
    seen: list[bool | None] = []
    reachability.async_add_listener(lambda: seen.append(reachability.reachable))
    return reachability, seen


def test_reachability_unknown_until_a_send() -> None:
    """Nothing is assumed before the first answer."""
    reachability, seen = tracked(FakeOutbox())
    assert reachability.reachable is None
    assert reachability.as_dict() == {"reachable": None, "error": None}
    assert seen == []


def test_reachability_sent_and_queued_after_a_try() -> None:
    """Sent is reachable; queued after a try is not, with the reason; each change is told once."""
    outbox = FakeOutbox()
    reachability, seen = tracked(outbox)
    reachability.async_report(report("m1", ("a", SendStatus.SENT, None)))
    reachability.async_report(report("m2", ("b", SendStatus.SENT, None)))
    assert (reachability.reachable, seen) == (True, [True])
    outbox.items = [waiting("c", attempts=1)]
    reachability.async_report(report("m3", ("c", SendStatus.QUEUED, "cannot reach the device")))
    assert (reachability.reachable, reachability.error, seen) == (False, "cannot reach the device", [True, False])
    # The retry that goes through updates the same report
    outbox.items = []
    sent_later = report("m3", ("c", SendStatus.SENT, None))
    reachability.async_report(sent_later)
    assert (reachability.reachable, reachability.error, seen) == (True, None, [True, False, True])


def test_reachability_ignores_what_was_not_tried() -> None:
    """Queued behind earlier messages, or held back by a block, says nothing about the provider."""
    outbox = FakeOutbox(items=[waiting("a", attempts=0)])
    reachability, seen = tracked(outbox)
    reachability.async_set(reachable=True)
    reachability.async_report(report("m1", ("a", SendStatus.QUEUED, "waiting behind earlier messages to this target")))
    outbox.items = [waiting("b", attempts=2)]
    outbox.block = Block.CONFIG
    reachability.async_report(report("m2", ("b", SendStatus.QUEUED, "HTTP 403")))
    assert (reachability.reachable, seen) == (True, [True])


def test_reachability_counts_only_what_changed_in_a_report_sent_again() -> None:
    """A delivery report or a later failure re-sends the report: its old 'sent' is no news."""
    outbox = FakeOutbox()
    reachability, seen = tracked(outbox)
    outbox.items = [waiting("b", attempts=1)]
    first = report("m1", ("a", SendStatus.SENT, None), ("b", SendStatus.QUEUED, "timeout"))
    reachability.async_report(first)
    assert reachability.reachable is True  # one target went through: the provider answers
    reachability.async_set(reachable=False, error="check.php: timeout")
    reachability.async_report(first.with_delivery("a", "delivered"))
    outbox.items = []
    expired = first.with_result(
        "b", TargetResult(target=OTHER, status=SendStatus.FAILED, provider="wildix", error="x", parts=1)
    )
    reachability.async_report(expired)
    assert (reachability.reachable, reachability.error) == (False, "check.php: timeout")
    assert seen == [True, False]


def test_reachability_refusal_is_an_answer_and_fallback_results_are_not_ours() -> None:
    """A refused target in a new report means the provider answered; another provider's results are skipped."""
    outbox = FakeOutbox()
    reachability, _ = tracked(outbox)
    reachability.async_report(report("m1", ("a", SendStatus.SENT, None), provider="sms_gateway"))
    assert reachability.reachable is None
    reachability.async_report(report("m2", ("b", SendStatus.FAILED, "HTTP 400")))
    assert reachability.reachable is True
    reachability.async_set(reachable=False, error="down")
    reachability.async_report(report("m2", ("b", SendStatus.FAILED, "HTTP 400")))
    assert reachability.reachable is False


def test_reachability_listener_can_be_removed() -> None:
    """A removed listener hears nothing more."""
    reachability = Reachability("wildix", FakeOutbox())
    seen: list[bool | None] = []
    remove = reachability.async_add_listener(lambda: seen.append(reachability.reachable))
    reachability.async_set(reachable=False, error="down")
    remove()
    reachability.async_set(reachable=True)
    assert seen == [False]


# Health of a loaded entry (async_setup_health called by hand)


async def test_setup_health_polls_the_gateway(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """The first read runs right after setup; a failed read marks the gateway unreachable, a good one reachable."""
    gateway.sim.signal_dbm = -80
    health = await async_setup_health(
        hass, loaded_gateway, loaded_gateway.runtime_data.provider, loaded_gateway.runtime_data.outbox
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    coordinator = health.coordinator
    assert coordinator is not None
    assert coordinator.data == GatewayHealth(queue=0, failed=0, signal_dbm=-80, total=0, state="OK")
    assert health.reachability.reachable is True
    gateway.sim.fail(Fault.RESET)
    await coordinator.async_refresh()
    assert coordinator.last_update_success is False
    assert health.reachability.reachable is False
    assert health.as_dict()["gateway"]["last_update_success"] is False
    gateway.sim.recover()
    await coordinator.async_refresh()
    assert (coordinator.last_update_success, health.reachability.reachable) == (True, True)


async def test_setup_health_never_fails_for_a_gateway_that_is_down(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """A gateway that does not answer leaves the poll failed and the entry unreachable; setup goes on."""
    gateway.sim.fail(Fault.HTTP_503)
    health = await async_setup_health(
        hass, loaded_gateway, loaded_gateway.runtime_data.provider, loaded_gateway.runtime_data.outbox
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert health.coordinator is not None
    assert health.coordinator.last_update_success is False
    assert health.reachability.reachable is False
    assert health.reachability.error == "HTTP 503: Service Unavailable"


async def test_setup_health_follows_the_sends(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """A send queued after a failed try marks the entry unreachable; the next one that goes through, reachable."""
    health = await async_setup_health(
        hass, loaded_gateway, loaded_gateway.runtime_data.provider, loaded_gateway.runtime_data.outbox
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    gateway.sim.fail(Fault.HTTP_503, times=1)
    response = await send(hass, loaded_gateway, message="x")
    assert response["results"][0]["status"] == "queued"
    assert health.reachability.reachable is False
    await send(hass, loaded_gateway, message="y", target=[OTHER])
    assert health.reachability.reachable is True


# Entities


async def setup(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Add (unless added) and set up an entry."""
    hass.config.country = "DE"
    if hass.config_entries.async_get_entry(entry.entry_id) is None:
        entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


def entity_id(hass: HomeAssistant, entry: MockConfigEntry, platform: str, key: str) -> str:
    """Find an entity by its unique id (names depend on translations)."""
    found = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"{entry.entry_id}_{key}")
    assert found is not None, key
    return found


def state_of(hass: HomeAssistant, entity: str) -> State:
    """Return an entity's state, which must exist."""
    state = hass.states.get(entity)
    assert state is not None, entity
    return state


async def test_gateway_entities(hass: HomeAssistant, gateway_entry: MockConfigEntry, gateway: RunningSimulator) -> None:
    """Reachable, queue, failed count and signal on the account device, from check.php at setup."""
    gateway.sim.queue_length = 3
    gateway.sim.failed_count = 1
    await setup(hass, gateway_entry)
    registry = er.async_get(hass)
    reachable = entity_id(hass, gateway_entry, "binary_sensor", "provider_reachable")
    reachable_entry = registry.async_get(reachable)
    assert reachable_entry is not None
    assert reachable_entry.device_id is not None
    device = dr.async_get(hass).async_get(reachable_entry.device_id)
    assert device is not None
    assert device.identifiers == {(DOMAIN, gateway_entry.entry_id)}

    assert state_of(hass, reachable).state == "on"
    assert state_of(hass, reachable).attributes["device_class"] == "connectivity"
    expected = {
        "provider_reachable": (reachable, "on", None, "diagnostic"),
        # Counts without a unit: "1 messages" reads wrong, and Home Assistant has no plural units
        "gateway_queue": (entity_id(hass, gateway_entry, "sensor", "gateway_queue"), "3", None, None),
        "failed_messages": (entity_id(hass, gateway_entry, "sensor", "failed_messages"), "1", None, None),
        "signal_strength": (entity_id(hass, gateway_entry, "sensor", "signal_strength"), "-71", "dBm", "diagnostic"),
    }
    for entity, value, unit, category in expected.values():
        entry = registry.async_get(entity)
        assert entry is not None
        assert entry.device_id == device.id
        assert entry.entity_category == category
        state = state_of(hass, entity)
        assert state.state == value
        assert state.attributes.get("unit_of_measurement") == unit
    signal = state_of(hass, expected["signal_strength"][0])
    assert signal.attributes["device_class"] == "signal_strength"
    assert signal.attributes["state_class"] == "measurement"
    assert state_of(hass, expected["gateway_queue"][0]).attributes["state_class"] == "measurement"


async def test_gateway_entities_follow_the_poll(
    hass: HomeAssistant, gateway_entry: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """Every five minutes: down makes the values unavailable and the gateway unreachable, up brings them back."""
    await setup(hass, gateway_entry)
    reachable = entity_id(hass, gateway_entry, "binary_sensor", "provider_reachable")
    queue = entity_id(hass, gateway_entry, "sensor", "gateway_queue")
    now = dt_util.utcnow()

    gateway.sim.fail(Fault.RESET)
    async_fire_time_changed(hass, now + HEALTH_INTERVAL + dt.timedelta(seconds=1))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state_of(hass, reachable).state == "off"
    assert state_of(hass, queue).state == "unavailable"

    gateway.sim.recover()
    gateway.sim.queue_length = 5
    async_fire_time_changed(hass, now + 2 * HEALTH_INTERVAL + dt.timedelta(seconds=2))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state_of(hass, reachable).state == "on"
    assert state_of(hass, queue).state == "5"


async def test_gateway_reachable_follows_the_sends(
    hass: HomeAssistant, gateway_entry: MockConfigEntry, gateway: RunningSimulator
) -> None:
    """Between polls, a send that has to wait turns the sensor off and one that goes through turns it on.

    The values of the last check.php read are stale while the gateway is known down: unavailable meanwhile.
    """
    gateway.sim.queue_length = 2
    await setup(hass, gateway_entry)
    reachable = entity_id(hass, gateway_entry, "binary_sensor", "provider_reachable")
    values = [entity_id(hass, gateway_entry, "sensor", key) for key in ("gateway_queue", "signal_strength")]
    assert [state_of(hass, value).state for value in values] == ["2", "-71"]
    gateway.sim.fail(Fault.HTTP_503, times=1)
    await send(hass, gateway_entry, message="x")
    assert state_of(hass, reachable).state == "off"
    assert [state_of(hass, value).state for value in values] == ["unavailable"] * 2
    await send(hass, gateway_entry, message="y", target=[OTHER])
    assert state_of(hass, reachable).state == "on"
    assert [state_of(hass, value).state for value in values] == ["2", "-71"]


def wildix_entry(sim: RunningSimulator) -> MockConfigEntry:
    """A Wildix entry with one recipient, pointing at the simulator."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="Wildix 127.0.0.1",
        unique_id="101@wildix",
        data={
            "provider": "wildix",
            "url": sim.url,
            "username": "101",
            "password": "sms101api",
            "verify_ssl": True,
        },
        subentries_data=[
            {"data": {"target": RECIPIENT}, "subentry_type": "recipient", "title": "On call", "unique_id": RECIPIENT}
        ],
    )


async def test_other_providers_restore_until_the_start_up_check_answers(
    hass: HomeAssistant, wildix_sim: RunningSimulator
) -> None:
    """Without a poll, the restored state stands until the start-up check tells more; no gateway sensors."""
    entry = wildix_entry(wildix_sim)
    entry.add_to_hass(hass)
    registry = er.async_get(hass)
    restored_id = registry.async_get_or_create(
        "binary_sensor", DOMAIN, f"{entry.entry_id}_provider_reachable", config_entry=entry
    ).entity_id
    mock_restore_cache(hass, [State(restored_id, "off")])
    wildix_sim.sim.fail(Fault.HTTP_503)
    await setup(hass, entry)
    assert state_of(hass, restored_id).state == "off"
    assert registry.async_get_entity_id("sensor", DOMAIN, f"{entry.entry_id}_gateway_queue") is None
    wildix_sim.sim.recover()
    await send(hass, entry, message="x")
    assert state_of(hass, restored_id).state == "on"


@pytest.mark.parametrize(
    ("fault", "password", "state"),
    [
        (None, "sms101api", "on"),
        (Fault.HTTP_503, "sms101api", "off"),
        (Fault.RESET, "sms101api", "off"),
        # A refused login is an answer: reachable, and reauthentication starts
        (None, "wrong", "on"),
    ],
)
async def test_other_providers_are_known_right_after_setup(
    hass: HomeAssistant, wildix_sim: RunningSimulator, fault: Fault | None, password: str, state: str
) -> None:
    """Nothing restored and nothing sent: the start-up credential check tells whether the provider answers."""
    entry = wildix_entry(wildix_sim)
    entry = MockConfigEntry(
        domain=DOMAIN, title=entry.title, unique_id=entry.unique_id, data={**entry.data, "password": password}
    )
    if fault is not None:
        wildix_sim.sim.fail(fault)
    await setup(hass, entry)
    assert state_of(hass, entity_id(hass, entry, "binary_sensor", "provider_reachable")).state == state
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == (["reauth"] if password == "wrong" else [])
