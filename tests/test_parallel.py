"""parallel_requests: several requests at once for the providers that take one number per request."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, ClassVar

import aiohttp
import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from custom_components.sms_alerts.api.base import (
    AccountInfo,
    OutboundSms,
    Outcome,
    Provider,
    Receipt,
    Target,
    TargetKind,
    TransientError,
    parallel_requests,
)
from custom_components.sms_alerts.api.brevisone import BrevisOneProvider
from simulators.base import Fault

from .conftest import GATEWAY_PASSWORD, GATEWAY_USER, RunningSimulator, advance, send
from .options_form import form_sections, nest
from .test_provider_integration import ipex_entry, pbxware_entry, wildix_entry

NUMBERS = [f"+49170{1000000 + i}" for i in range(12)]
TARGETS = [Target(kind=TargetKind.NUMBER, value=number) for number in NUMBERS]
OPTIONS = {"handover_minutes": 10, "max_age_hours": 24, "dedup_minutes": 0, "rate_limit": 0}


def gateway_client(session: aiohttp.ClientSession, url: str, **config: Any) -> BrevisOneProvider:
    """An SMS Gateway client for the simulator."""
    return BrevisOneProvider.from_config(
        session, {"url": url, "username": GATEWAY_USER, "password": GATEWAY_PASSWORD, **config}, timeout=5
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, 1), ("", 1), (1, 1), (4.0, 4), ("3", 3), (0, 1), (-2, 1), (8, 8), (50, 8)],
)
def test_option_is_read_as_one_to_eight(value: Any, expected: int) -> None:
    """The option is a whole number from 1 to 8; unset is 1, one at a time."""
    config = {} if value is None else {"parallel_requests": value}
    assert parallel_requests(config) == expected


async def test_default_sends_one_at_a_time(gateway: RunningSimulator, session: aiohttp.ClientSession) -> None:
    """Without the option the gateway never sees two requests at once."""
    gateway.sim.latency = 0.02
    gateway.sim.stats()
    receipts = await gateway_client(session, gateway.url).async_send(OutboundSms(text="UPS on battery"), TARGETS[:4])
    assert [r.outcome for r in receipts] == [Outcome.SENT] * 4
    assert gateway.sim.stats()["peak_in_flight"] == 1


@pytest.mark.parametrize("parallel", [2, 4])
async def test_parallel_requests_keep_the_order_of_receipts(
    gateway: RunningSimulator, session: aiohttp.ClientSession, parallel: int
) -> None:
    """Up to `parallel` requests at once; every number gets its message and its receipt, in order."""
    gateway.sim.latency = 0.02
    gateway.sim.stats()
    provider = gateway_client(session, gateway.url, parallel_requests=parallel)
    receipts = await provider.async_send(OutboundSms(text="Disk full on nas01"), TARGETS)
    assert [r.target for r in receipts] == TARGETS
    assert [r.outcome for r in receipts] == [Outcome.SENT] * len(TARGETS)
    stats = gateway.sim.stats()
    assert stats["peak_in_flight"] == parallel
    assert stats["requests"] == len(TARGETS)
    assert sorted(m.to for m in gateway.sim.messages) == sorted(f"00{n[1:]}" for n in NUMBERS)


async def test_refused_login_stops_what_has_not_started(
    gateway: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """A 401 ends the batch: only the requests already under way were made; every target gets the refusal."""
    provider = gateway_client(session, gateway.url, password="changed", parallel_requests=4)
    receipts = await provider.async_send(OutboundSms(text="x"), TARGETS)
    assert [r.outcome for r in receipts] == [Outcome.AUTH] * len(TARGETS)
    assert [r.error_key for r in receipts] == ["invalid_auth"] * len(TARGETS)
    assert len(gateway.sim.requests) == 4
    assert gateway.sim.messages == []


async def test_unreachable_gateway_is_asked_once_per_worker(
    gateway: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """503 on the requests under way: the other targets are not tried and wait as transient failures."""
    gateway.sim.fail(Fault.HTTP_503)
    provider = gateway_client(session, gateway.url, parallel_requests=3)
    receipts = await provider.async_send(OutboundSms(text="x"), TARGETS)
    assert [r.outcome for r in receipts] == [Outcome.TRANSIENT] * len(TARGETS)
    assert [r.target for r in receipts] == TARGETS
    assert len(gateway.sim.requests) == 3
    assert gateway.sim.messages == []


async def test_refused_recipient_does_not_stop_the_others(
    gateway: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """A refused group is that target's failure only."""
    targets = [TARGETS[0], Target(kind=TargetKind.GROUP, value="Nobody"), *TARGETS[1:4]]
    receipts = await gateway_client(session, gateway.url, parallel_requests=4).async_send(
        OutboundSms(text="x"), targets
    )
    assert [r.outcome for r in receipts] == [Outcome.SENT, Outcome.TARGET, *[Outcome.SENT] * 3]
    assert len(gateway.sim.messages) == 4


class _Broken(Provider):
    """A provider whose second send hits a bug (not a ProviderError) while the others are slow."""

    key: ClassVar[str] = "broken"
    target_kinds: ClassVar[frozenset[TargetKind]] = frozenset({TargetKind.NUMBER})
    options: ClassVar[frozenset[str]] = frozenset()

    def __init__(self) -> None:
        super().__init__(None, parallel=3)  # type: ignore[arg-type]
        self.finished: list[str] = []
        self.started: list[str] = []

    @classmethod
    def from_config(cls, session: aiohttp.ClientSession, config: Any, *, timeout: float = 1) -> Provider:
        raise NotImplementedError

    async def async_validate(self) -> AccountInfo:
        raise NotImplementedError

    def identity(self) -> AccountInfo:
        raise NotImplementedError

    def redacted_view(self) -> dict[str, Any]:
        return {}

    async def async_send_one(self, sms: OutboundSms, target: Target) -> Receipt:
        self.started.append(target.value)
        if target == TARGETS[1]:
            await asyncio.sleep(0)
            raise RuntimeError("bug")
        await asyncio.sleep(0.05)
        self.finished.append(target.value)
        return Receipt(target=target, outcome=Outcome.SENT)


@pytest.mark.allow_traceback  # an unexpected error is logged with its traceback
async def test_a_bug_in_one_request_keeps_its_target_and_the_rest_for_another_try(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An unexpected error is logged, not raised: nothing new starts, requests under way finish, nothing is lost."""
    provider = _Broken()
    receipts = await provider.async_send(OutboundSms(text="x"), TARGETS[:6])
    assert provider.started == NUMBERS[:3]
    assert provider.finished == [NUMBERS[0], NUMBERS[2]]
    assert [r.outcome for r in receipts] == [Outcome.SENT, Outcome.TRANSIENT, Outcome.SENT, *[Outcome.TRANSIENT] * 3]
    assert {r.error for r in receipts if r.outcome is Outcome.TRANSIENT} == {"unexpected error (RuntimeError)"}
    assert [r.target for r in receipts] == TARGETS[:6]
    assert caplog.text.count("Unexpected error while sending to") == 1
    assert "RuntimeError: bug" in caplog.text


class _Flaky(_Broken):
    """Every send fails transiently at once."""

    async def async_send_one(self, sms: OutboundSms, target: Target) -> Receipt:
        self.started.append(target.value)
        await asyncio.sleep(0)
        raise TransientError("down", key="cannot_connect")


async def test_fewer_targets_than_workers() -> None:
    """Two targets and three workers: two requests, two receipts."""
    provider = _Flaky()
    receipts = await provider.async_send(OutboundSms(text="x"), TARGETS[:2])
    assert [r.outcome for r in receipts] == [Outcome.TRANSIENT] * 2
    assert provider.started == NUMBERS[:2]


# Through Home Assistant: the option in the options flow and sends to many recipients


async def _set_options(hass: HomeAssistant, entry: ConfigEntry, **options: Any) -> dict[str, Any]:
    """Submit the options form and wait for the reload."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    fields = [field for section in form_sections(result).values() for field in section]
    if options:
        result = await hass.config_entries.options.async_configure(
            result["flow_id"], nest(result, {**OPTIONS, **options})
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        await hass.async_block_till_done(wait_background_tasks=True)
    return {"fields": fields}


async def test_option_on_the_gateway_and_not_on_wildix(
    hass: HomeAssistant, loaded_gateway: ConfigEntry, wildix_sim: RunningSimulator
) -> None:
    """The SMS Gateway offers the option (1 by default); Wildix sends 50 numbers per request and does not."""
    form = await _set_options(hass, loaded_gateway)
    assert "parallel_requests" in form["fields"]
    assert loaded_gateway.runtime_data.provider.parallel == 1
    await _set_options(hass, loaded_gateway, parallel_requests=4)
    assert loaded_gateway.options["parallel_requests"] == 4
    assert loaded_gateway.runtime_data.provider.parallel == 4
    wildix = await wildix_entry(hass, wildix_sim.url)
    assert "parallel_requests" not in (await _set_options(hass, wildix))["fields"]


async def test_gateway_alert_to_many_recipients_in_parallel(
    hass: HomeAssistant, loaded_gateway: ConfigEntry, gateway: RunningSimulator
) -> None:
    """sms_alerts.send with parallel_requests 4: every recipient sent, results in the order asked."""
    await _set_options(hass, loaded_gateway, parallel_requests=4)
    # Long enough that the four requests overlap on a busy machine too
    gateway.sim.latency = 0.2
    gateway.sim.stats()
    response = await send(hass, loaded_gateway, message="Freezer warm: -8 C", target=NUMBERS)
    assert [(r["target"], r["status"]) for r in response["results"]] == [(n, "sent") for n in NUMBERS]
    assert gateway.sim.stats()["peak_in_flight"] == 4
    assert len(gateway.sim.messages) == len(NUMBERS)


async def test_gateway_outage_in_parallel_queues_and_delivers_once(
    hass: HomeAssistant, loaded_gateway: ConfigEntry, gateway: RunningSimulator, freezer: FrozenDateTimeFactory
) -> None:
    """A gateway that drops every connection: all queued; after recovery each number gets its SMS once."""
    await _set_options(hass, loaded_gateway, parallel_requests=4)
    gateway.sim.fail(Fault.RESET)
    before = len(gateway.sim.requests)
    response = await send(hass, loaded_gateway, message="UPS on battery", target=NUMBERS)
    assert {r["status"] for r in response["results"]} == {"queued"}
    assert _count(gateway.sim.requests[before:], "/api.php") == 4
    gateway.sim.recover()
    for _ in range(3):
        await advance(hass, freezer, 40)
    assert loaded_gateway.runtime_data.outbox.items == []
    assert sorted(m.to for m in gateway.sim.messages) == sorted(f"00{n[1:]}" for n in NUMBERS)


async def test_pbxware_in_parallel(hass: HomeAssistant, pbxware_sim: RunningSimulator) -> None:
    """PBXware takes the option too."""
    entry = await pbxware_entry(hass, pbxware_sim.url)
    await _set_options(hass, entry, parallel_requests=3)
    pbxware_sim.sim.latency = 0.01
    pbxware_sim.sim.stats()
    response = await send(hass, entry, message="Voicemail full", target=NUMBERS[:6])
    assert [r["status"] for r in response["results"]] == ["sent"] * 6
    assert pbxware_sim.sim.stats()["peak_in_flight"] == 3
    assert sorted(m.to for m in pbxware_sim.sim.messages) == sorted(NUMBERS[:6])


async def test_ipex_in_parallel_logs_in_once(hass: HomeAssistant, ipex_sim: RunningSimulator) -> None:
    """IPEX sends in parallel and the sends share one token: at most one login however many run at once."""
    entry = await ipex_entry(hass, ipex_sim.url)
    await _set_options(hass, entry, parallel_requests=4)
    ipex_sim.sim.latency = 0.01
    before = _count(ipex_sim.sim.requests, "/token")
    ipex_sim.sim.stats()
    response = await send(hass, entry, message="Server room 31 C", target=NUMBERS[:8])
    assert [r["status"] for r in response["results"]] == ["sent"] * 8
    assert _count(ipex_sim.sim.requests, "/token") - before <= 1
    assert ipex_sim.sim.stats()["peak_in_flight"] == 4
    assert sorted(m.to for m in ipex_sim.sim.messages) == sorted(NUMBERS[:8])


def _count(requests: Sequence[Any], path: str) -> int:
    """Requests made to one path."""
    return sum(1 for request in requests if request.path == path)


@pytest.mark.allow_traceback  # the provider client logs the first occurrence of the bug with its traceback
async def test_the_same_bug_again_is_logged_in_one_line(caplog: pytest.LogCaptureFixture) -> None:
    """A bug that repeats at every retry logs its traceback once, then one line each time."""
    provider = _Broken()
    await provider.async_send(OutboundSms(text="x"), TARGETS[1:2])
    await provider.async_send(OutboundSms(text="x"), TARGETS[1:2])
    records = [record for record in caplog.records if "Unexpected error while sending" in record.getMessage()]
    assert [record.exc_info is not None for record in records] == [True, False]
    assert "(RuntimeError: bug, as before)" in records[1].getMessage()
