"""Sending through Home Assistant against raw requests and Home Assistant's own rest_command and notify.rest.

Per-send latency to one recipient, one alert to 100 recipients, import time and entry setup time; every
method runs interleaved with the others in the same test, and the tables show medians.
"""

from __future__ import annotations

import asyncio
import importlib.util
import random
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from benchmarks import sized
from benchmarks.conftest import RemoteSimulator
from custom_components.sms_alerts.const import DOMAIN
from tests.conftest import GATEWAY_PASSWORD, GATEWAY_USER, RECIPIENT, RunningSimulator, gateway_entry_for

SENDS = sized(200, 2)
# The per-send comparison again with the simulator taking this long per answer, as a device on a network does
DEVICE_LATENCY = 0.02
SLOW_SENDS = sized(40, 2)
WARMUP = sized(5, 1)
# The smoke run still sends more than the 50 numbers Wildix takes in one request
FAN_OUT = sized(100, 51)
FAN_ROUNDS = sized(15, 1)
# Requests at once of the SMS Gateway entries that use the parallel_requests option
PARALLEL = (2, 4, 8)
RAW_PARALLEL = 4
IMPORT_ROUNDS = sized(5, 1)
SETUP_ROUNDS = sized(10, 1)
# Storm control would hold back the repeated sends of a benchmark: measure sending, not the guard
STORM_OFF = {"dedup_minutes": 0, "rate_limit": 0}
WILDIX_USER, WILDIX_PASSWORD = "101", "sms101api"
NUMBERS = [f"+49170{1000000 + i}" for i in range(FAN_OUT)]
ENTITY = "notify.on_call"
REPO = Path(__file__).resolve().parents[1]
FORM = "application/x-www-form-urlencoded"

Send = Callable[[str], Awaitable[None]]


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """Print a result table."""
    print("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def _p90(values: list[float]) -> float:
    """Return the 90th percentile."""
    return statistics.quantiles(values, n=10)[-1]


def _gateway_number(e164: str) -> str:
    """Write +491701234567 as the SMS Gateway wants it: 00491701234567."""
    return f"00{e164[1:]}"


@contextmanager
def _production_loop() -> Iterator[None]:
    """Run without the event loop's debug mode, which the test plugin turns on and production does not."""
    loop = asyncio.get_running_loop()
    debug = loop.get_debug()
    loop.set_debug(False)
    try:
        yield
    finally:
        loop.set_debug(debug)


def _stub_rest_requirements(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the rest integration import without its sensor requirements (notify.rest uses neither)."""
    for name in ("jsonpath", "xmltodict"):
        if importlib.util.find_spec(name) is None:
            stub = types.ModuleType(name)
            stub.jsonpath = stub.parse = lambda *_args, **_kwargs: None  # type: ignore[attr-defined]
            monkeypatch.setitem(sys.modules, name, stub)


async def _setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Add and set up an entry, with the start-up credential check done."""
    hass.config.country = "DE"
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)


async def _sms_alerts_send(hass: HomeAssistant, entry: MockConfigEntry, text: str, targets: list[str]) -> None:
    """sms_alerts.send with the response; every target must be sent."""
    response = await hass.services.async_call(
        DOMAIN,
        "send",
        {"config_entry_id": entry.entry_id, "message": text, "target": targets},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    assert [r["status"] for r in response["results"]] == ["sent"] * len(targets)  # type: ignore[index,union-attr]


async def _setup_rest(
    hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch, command: dict[str, Any], notify: dict[str, Any]
) -> None:
    """Set up a rest_command and a notify.rest service for one device, as a user would write them in YAML."""
    assert await async_setup_component(hass, "rest_command", {"rest_command": command})
    _stub_rest_requirements(monkeypatch)
    assert await async_setup_component(hass, "notify", {"notify": [{"platform": "rest", "method": "POST", **notify}]})
    await hass.async_block_till_done()
    for name in command:
        assert hass.services.has_service("rest_command", name)
    assert hass.services.has_service("notify", notify["name"])


async def _setup_gateway_rest(hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """rest_command.sms and notify.rest_sms for the SMS Gateway (login in the form body)."""
    payload = (
        f"username={GATEWAY_USER}&password={GATEWAY_PASSWORD}"
        "&text={{ message | urlencode }}&to={{ to | urlencode }}&mode=number"
    )
    await _setup_rest(
        hass,
        monkeypatch,
        {"sms": {"url": f"{url}/api.php", "method": "post", "payload": payload, "content_type": FORM}},
        {
            "name": "rest_sms",
            "resource": f"{url}/api.php",
            "message_param_name": "text",
            "target_param_name": "to",
            "data": {"username": GATEWAY_USER, "password": GATEWAY_PASSWORD, "mode": "number"},
        },
    )


async def _setup_wildix_rest(hass: HomeAssistant, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """rest_command.wildix_sms and notify.rest_wildix for the Wildix PBX (Basic login, form body)."""
    resource = f"{url}/api/v1/originate/sms"
    login = {"username": WILDIX_USER, "password": WILDIX_PASSWORD}
    payload = "number={{ number | urlencode }}&message={{ message | urlencode }}"
    await _setup_rest(
        hass,
        monkeypatch,
        {"wildix_sms": {"url": resource, "method": "post", "payload": payload, "content_type": FORM, **login}},
        {
            "name": "rest_wildix",
            "resource": resource,
            "message_param_name": "message",
            "target_param_name": "number",
            **login,
        },
    )


# 1. Per-send latency to one recipient


async def test_send_latency_one_recipient(
    hass: HomeAssistant, remote_sims: dict[str, RemoteSimulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One SMS to one number: raw POST, rest_command, notify.rest, sms_alerts.send, notify.send_message."""
    gateway = remote_sims["sms_gateway"]
    entry = gateway_entry_for(RunningSimulator(sim=None, url=gateway.url), options=STORM_OFF)
    await _setup_gateway_rest(hass, monkeypatch, gateway.url)  # first: notify takes YAML platforms only at setup
    await _setup_entry(hass, entry)
    to = _gateway_number(RECIPIENT)
    api = f"{gateway.url}/api.php"

    async with aiohttp.ClientSession() as session:

        async def raw(text: str) -> None:
            form = {"username": GATEWAY_USER, "password": GATEWAY_PASSWORD, "text": text, "to": to, "mode": "number"}
            async with session.post(api, data=form) as resp:
                assert resp.status == 200
                await resp.read()

        async def rest_command(text: str) -> None:
            await hass.services.async_call("rest_command", "sms", {"message": text, "to": to}, blocking=True)

        async def notify_rest(text: str) -> None:
            await hass.services.async_call("notify", "rest_sms", {"message": text, "target": [to]}, blocking=True)

        async def sms_alerts_send(text: str) -> None:
            await _sms_alerts_send(hass, entry, text, [RECIPIENT])

        async def send_message(text: str) -> None:
            await hass.services.async_call(
                "notify", "send_message", {ATTR_ENTITY_ID: ENTITY, "message": text}, blocking=True
            )

        methods: dict[str, tuple[str, Send]] = {
            "raw": ("raw aiohttp POST /api.php (one session, keep-alive)", raw),
            "rest_command": ("rest_command.sms (form payload template)", rest_command),
            "notify.rest": ("notify.rest_sms (platform rest, method POST)", notify_rest),
            "sms_alerts.send": ("sms_alerts.send, return_response", sms_alerts_send),
            "notify.send_message": (f"notify.send_message on {ENTITY}", send_message),
        }
        samples = await _interleave(methods, SENDS)
        await gateway.set_latency(DEVICE_LATENCY)
        slow = await _interleave(methods, SLOW_SENDS, tag="slow ")
        await gateway.set_latency(0)

    messages = await gateway.messages()
    for key in methods:
        texts = [m["text"] for m in messages if m["to"] == to and f" via {key}:" in m["text"]]
        assert len(texts) == len(set(texts)) == 2 * WARMUP + SENDS + SLOW_SENDS, key
    method = "method (SMS Gateway simulator in its own process, 1 number; sms_alerts storm control off)"
    _latency_table(f"{method}: simulator answering at once, {SENDS} sends each", methods, samples, "≤ 1.3x")
    _latency_table(
        f"{method}: simulator answering in {DEVICE_LATENCY * 1e3:g} ms, {SLOW_SENDS} sends each",
        methods,
        slow,
        "≤ 1.05x",
    )


def _latency_table(
    title: str, methods: dict[str, tuple[str, Send]], samples: dict[str, list[float]], target: str = ""
) -> None:
    """Print the per-send table: medians, p90 and the ratio to the raw request (the target is sms_alerts.send's)."""
    raw_median = statistics.median(samples["raw"])
    rows = []
    for key, (label, _) in methods.items():
        median = statistics.median(samples[key])
        rows.append(
            (
                label,
                f"{median * 1e3:.2f}",
                f"{_p90(samples[key]) * 1e3:.2f}",
                f"{(median - raw_median) * 1e3:+.2f}",
                f"{median / raw_median:.2f}x",
                target if key == "sms_alerts.send" else "",
            )
        )
    _table((title, "median ms", "p90 ms", "median over raw ms", "ratio to raw", "target"), rows)


def _order(keys: list[str], round_: int) -> list[str]:
    """Return the methods of one round in a shuffled order (the same in every run).

    A method slows the one after it (notify.rest by about 0.25 ms on these machines): a rotation
    would give each method the same predecessor in every round, so the order is shuffled instead.
    """
    order = list(keys)
    random.Random(round_).shuffle(order)
    return order


async def _interleave(methods: dict[str, tuple[str, Send]], count: int, tag: str = "") -> dict[str, list[float]]:
    """Time every method `count` times, one send of each per round, in a shuffled order."""
    keys = list(methods)
    samples: dict[str, list[float]] = {key: [] for key in keys}
    with _production_loop():
        for i in range(WARMUP + count):
            for key in _order(keys, i):
                text = f"Freezer alarm {tag}{i} via {key}: plant room at -8 C, door open 12 min"
                start = time.perf_counter()
                await methods[key][1](text)
                elapsed = time.perf_counter() - start
                if i >= WARMUP:
                    samples[key].append(elapsed)
    return samples


# 2. One alert to 100 recipients


async def _fan_out(sim: RemoteSimulator, path: str, methods: dict[str, tuple[str, Send, int]]) -> list[tuple[str, ...]]:
    """Run each method once per round (plus a warm-up round); rows of time, requests and delivered."""
    keys = list(methods)
    times: dict[str, list[float]] = {key: [] for key in keys}
    counts: dict[str, tuple[int, int]] = {}
    with _production_loop():
        for round_ in range(FAN_ROUNDS + 1):
            for key in _order(keys, round_):
                text = f"Evacuate hall {round_} via {key}: fire alarm zone 3, use the west exits"
                before = await sim.stats()
                start = time.perf_counter()
                await methods[key][1](text)
                elapsed = time.perf_counter() - start
                after = await sim.stats()
                made = after["paths"].get(path, 0) - before["paths"].get(path, 0)
                new = (await sim.messages())[before["messages"] :]
                delivered = len({m["to"] for m in new if m["text"] == text})
                assert delivered == methods[key][2], (key, delivered)
                counts[key] = (made, delivered)
                if round_:
                    times[key].append(elapsed)
    base = statistics.median(times["raw"])
    rows = []
    for key, (label, _, _) in methods.items():
        median = statistics.median(times[key])
        made, delivered = counts[key]
        target = "≤ 0.5x, 100/100" if key.startswith("sms_alerts.send") else ""
        rows.append(
            (
                label,
                f"{median * 1e3:.1f} ms",
                str(made),
                f"{delivered}/{FAN_OUT}",
                f"{median / base:.2f}x",
                target,
            )
        )
    return rows


def _print_fan_out(provider: str, rows: list[tuple[str, ...]]) -> None:
    """Print the table of one provider."""
    method = (
        f"method ({provider} simulator in its own process, 1 alert to {FAN_OUT} numbers,"
        f" median of {FAN_ROUNDS} interleaved rounds;"
        " sms_alerts storm control off)"
    )
    _table((method, "time", "requests", "delivered", "ratio to sequential raw", "target"), rows)


async def test_fan_out_wildix(
    hass: HomeAssistant, remote_sims: dict[str, RemoteSimulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One alert to 100 numbers on Wildix: batched by sms_alerts, one by one otherwise."""
    wildix_sim = remote_sims["wildix"]
    entry = MockConfigEntry(
        domain=DOMAIN,
        title="Wildix benchmark",
        data={
            "provider": "wildix",
            "url": wildix_sim.url,
            "username": WILDIX_USER,
            "password": WILDIX_PASSWORD,
            "verify_ssl": True,
        },
        options=STORM_OFF,
    )
    await _setup_wildix_rest(hass, monkeypatch, wildix_sim.url)  # first: notify takes YAML platforms only at setup
    await _setup_entry(hass, entry)
    path = "/api/v1/originate/sms"
    auth = aiohttp.BasicAuth(WILDIX_USER, WILDIX_PASSWORD)

    async with aiohttp.ClientSession() as session:

        async def post(number: str, text: str) -> None:
            async with session.post(
                f"{wildix_sim.url}{path}", data={"number": number, "message": text}, auth=auth
            ) as resp:
                assert (await resp.json())["type"] == "result"

        async def raw(text: str) -> None:
            for number in NUMBERS:
                await post(number, text)

        async def raw_batched(text: str) -> None:
            for start in range(0, FAN_OUT, 50):
                await post(",".join(NUMBERS[start : start + 50]), text)

        async def rest_command(text: str) -> None:
            for number in NUMBERS:
                await hass.services.async_call(
                    "rest_command", "wildix_sms", {"message": text, "number": number}, blocking=True
                )

        async def notify_rest(text: str) -> None:
            await hass.services.async_call("notify", "rest_wildix", {"message": text, "target": NUMBERS}, blocking=True)

        async def sms_alerts_send(text: str) -> None:
            await _sms_alerts_send(hass, entry, text, NUMBERS)

        rows = await _fan_out(
            wildix_sim,
            path,
            {
                "raw": ("sequential raw aiohttp POSTs, one number each", raw, FAN_OUT),
                "raw batched": ("raw aiohttp POSTs, 50 numbers each (reference)", raw_batched, FAN_OUT),
                "rest_command": ("script-like loop: rest_command.wildix_sms x100", rest_command, FAN_OUT),
                "notify.rest": ("notify.rest_wildix with 100 targets", notify_rest, 1),
                "sms_alerts.send": ("sms_alerts.send with 100 targets", sms_alerts_send, FAN_OUT),
            },
        )
    _print_fan_out("Wildix", rows)


def _raw_gateway_senders(session: aiohttp.ClientSession, api: str, numbers: list[str]) -> tuple[Send, Send]:
    """Plain aiohttp POSTs to every number: one after the other, and RAW_PARALLEL at a time."""

    async def post(text: str, to: str) -> None:
        form = {"username": GATEWAY_USER, "password": GATEWAY_PASSWORD, "text": text, "to": to, "mode": "number"}
        async with session.post(api, data=form) as resp:
            assert resp.status == 200
            await resp.read()

    async def raw(text: str) -> None:
        for to in numbers:
            await post(text, to)

    async def raw_parallel(text: str) -> None:
        pending = iter(numbers)

        async def work() -> None:
            for to in pending:
                await post(text, to)

        await asyncio.gather(*(work() for _ in range(RAW_PARALLEL)))

    return raw, raw_parallel


async def test_fan_out_sms_gateway(
    hass: HomeAssistant, remote_sims: dict[str, RemoteSimulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One alert to 100 numbers on the SMS Gateway, which takes one number per request."""
    gateway = remote_sims["sms_gateway"]
    running = RunningSimulator(sim=None, url=gateway.url)
    entry = gateway_entry_for(running, options=STORM_OFF)
    parallel_entries = {
        count: gateway_entry_for(
            running,
            title=f"SMS Gateway, {count} requests at once",
            options={**STORM_OFF, "parallel_requests": count},
            unique_id=f"parallel {count}",
        )
        for count in PARALLEL
    }
    await _setup_gateway_rest(hass, monkeypatch, gateway.url)  # first: notify takes YAML platforms only at setup
    for added in (entry, *parallel_entries.values()):
        await _setup_entry(hass, added)
    api = f"{gateway.url}/api.php"
    numbers = [_gateway_number(n) for n in NUMBERS]

    async with aiohttp.ClientSession() as session:
        raw, raw_parallel = _raw_gateway_senders(session, api, numbers)

        async def rest_command(text: str) -> None:
            for to in numbers:
                await hass.services.async_call("rest_command", "sms", {"message": text, "to": to}, blocking=True)

        async def notify_rest(text: str) -> None:
            await hass.services.async_call("notify", "rest_sms", {"message": text, "target": numbers}, blocking=True)

        async def sms_alerts_send(text: str) -> None:
            await _sms_alerts_send(hass, entry, text, NUMBERS)

        def sms_alerts_parallel(count: int) -> Send:
            async def send(text: str) -> None:
                await _sms_alerts_send(hass, parallel_entries[count], text, NUMBERS)

            return send

        rows = await _fan_out(
            gateway,
            "/api.php",
            {
                "raw": ("sequential raw aiohttp POSTs, one number each", raw, FAN_OUT),
                "raw parallel": (
                    f"raw aiohttp POSTs, {RAW_PARALLEL} at a time (reference: the floor of the client)",
                    raw_parallel,
                    FAN_OUT,
                ),
                "rest_command": ("script-like loop: rest_command.sms x100", rest_command, FAN_OUT),
                "notify.rest": ("notify.rest_sms with 100 targets", notify_rest, 1),
                "sms_alerts.send 1": (
                    "sms_alerts.send with 100 targets (parallel_requests 1, default)",
                    sms_alerts_send,
                    FAN_OUT,
                ),
                **{
                    f"sms_alerts.send {count}": (
                        f"sms_alerts.send with 100 targets (parallel_requests {count})",
                        sms_alerts_parallel(count),
                        FAN_OUT,
                    )
                    for count in PARALLEL
                },
            },
        )
    _print_fan_out("SMS Gateway", rows)


# 3. Import and setup time

PLATFORM_MODULES = ", ".join(
    f"custom_components.sms_alerts.{name}" for name in ("binary_sensor", "config_flow", "notify", "sensor")
)
IMPORTS = {
    "interpreter start: python -c pass": "pass",
    "import homeassistant.components.notify (baseline)": "import homeassistant.components.notify",
    "import custom_components.sms_alerts": "import custom_components.sms_alerts",
    "import custom_components.sms_alerts and its platforms + config flow": f"import {PLATFORM_MODULES}",
}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run this interpreter in the repository."""
    return subprocess.run(  # noqa: S603 - our own interpreter with fixed arguments
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True, check=True, timeout=30
    )


def _import_increments() -> tuple[float, float]:
    """With -X importtime: seconds of sms_alerts' own modules, and of all modules imported beyond notify."""
    stderr = _run("-X", "importtime", "-c", f"import homeassistant.components.notify; import {PLATFORM_MODULES}").stderr
    own = beyond = 0.0
    after_notify = False
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = line.removeprefix("import time:").split("|")
        module = name.strip()
        if after_notify:
            beyond += int(self_us) / 1e6
        if module.startswith("custom_components.sms_alerts"):
            own += int(self_us) / 1e6
        if module == "homeassistant.components.notify":
            after_notify = True
    return own, beyond


@pytest.mark.timeout(300)  # fresh interpreters, many rounds: bounded by the rounds, not the suite's 60 s
def test_import_time() -> None:
    """Fresh interpreters importing the integration against importing notify, median of interleaved rounds."""
    for code in IMPORTS.values():
        _run("-c", code)  # warm the bytecode caches
    times: dict[str, list[float]] = {label: [] for label in IMPORTS}
    owns, beyonds = [], []
    labels = list(IMPORTS)
    for round_ in range(IMPORT_ROUNDS):
        for label in _order(labels, round_):
            code = IMPORTS[label]
            start = time.perf_counter()
            _run("-c", code)
            times[label].append(time.perf_counter() - start)
        own, beyond = _import_increments()
        owns.append(own)
        beyonds.append(beyond)
    base = statistics.median(times["import homeassistant.components.notify (baseline)"])
    rows = [
        (label, f"{statistics.median(values):.3f} s", f"{statistics.median(values) / base:.2f}x")
        for label, values in times.items()
    ]
    rows += [
        ("-X importtime: sms_alerts' own modules (self time)", f"{statistics.median(owns):.3f} s", ""),
        (
            "-X importtime: all modules imported beyond notify (self time, incl. sms_alerts)",
            f"{statistics.median(beyonds):.3f} s",
            f"{statistics.median(beyonds) / base:.2f}x",
        ),
    ]
    measure = f"measure (fresh interpreter, wall time of the subprocess, median of {IMPORT_ROUNDS} interleaved rounds)"
    _table((measure, "median", "ratio to notify"), rows)


async def test_setup_time(hass: HomeAssistant, gateway: RunningSimulator) -> None:
    """Setup of one SMS Gateway entry, unloaded between rounds; the first round loads the platforms."""
    entry = gateway_entry_for(gateway, options=STORM_OFF)
    hass.config.country = "DE"
    entry.add_to_hass(hass)
    setups, settled, unloads = [], [], []
    with _production_loop():
        for _ in range(SETUP_ROUNDS + 1):
            start = time.perf_counter()
            assert await hass.config_entries.async_setup(entry.entry_id)
            setups.append(time.perf_counter() - start)
            await hass.async_block_till_done(wait_background_tasks=True)
            settled.append(time.perf_counter() - start)
            assert hass.states.get(ENTITY) is not None
            start = time.perf_counter()
            assert await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done(wait_background_tasks=True)
            unloads.append(time.perf_counter() - start)
    warm = slice(1, None)
    rows = [
        ("first setup in this Home Assistant instance", f"{setups[0] * 1e3:.1f} ms", f"{settled[0] * 1e3:.1f} ms"),
        (
            f"setup, median of {SETUP_ROUNDS}",
            f"{statistics.median(setups[warm]) * 1e3:.1f} ms",
            f"{statistics.median(settled[warm]) * 1e3:.1f} ms",
        ),
        (f"unload, median of {SETUP_ROUNDS}", f"{statistics.median(unloads[warm]) * 1e3:.1f} ms", ""),
    ]
    _table(
        (
            "measure (SMS Gateway entry with 1 recipient, MockConfigEntry)",
            "async_setup returned",
            "settled (credential check done)",
        ),
        rows,
    )
