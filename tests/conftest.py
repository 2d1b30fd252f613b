"""Shared fixtures: simulators on loopback, an entry per provider, and guards on the log."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import socket
import ssl
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import MATCH_ALL
from homeassistant.core import Event, HomeAssistant, State, callback
from homeassistant.data_entry_flow import FlowHandler
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.util import dt as dt_util
from hypothesis import settings as hypothesis_settings
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

# Import our package now, or Home Assistant finds the test library's own custom_components
import custom_components.sms_alerts  # noqa: F401
from custom_components.sms_alerts import message, outbox_store
from custom_components.sms_alerts.const import DOMAIN, SIGNAL_QUEUE_CHANGED
from custom_components.sms_alerts.journal import parse, replay
from custom_components.sms_alerts.sensor import REPORT_WRITE_INTERVAL
from simulators import base as simulator_base
from simulators.base import Simulator
from simulators.brevisone import BrevisOneSimulator
from simulators.ipex import IpexSimulator
from simulators.pbxware import PbxwareSimulator
from simulators.wildix import WildixSimulator

# Property tests draw the same examples every run (a coverage figure that does not move); scripts/soak
# and a test's own settings may still ask for random ones
hypothesis_settings.register_profile("sms_alerts", derandomize=True)
hypothesis_settings.load_profile("sms_alerts")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

GATEWAY_USER = "apiuser"
GATEWAY_PASSWORD = "secret"  # the simulator's demo login
RECIPIENT = "+491701234567"


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load custom_components.sms_alerts."""


# Secrets the tests give the integration, besides the simulators' (simulators.base.SECRETS): no log line at any
# level may carry one ("secret", the demo password of two simulators, is too common a word to look for)
TEST_SECRETS = frozenset({"s3cret-token-for-tests", "tok-EN_123", "alert-model-token"})
LOGIN_SECRETS = frozenset(simulator_base.SECRETS)


def assert_no_secret(text: str, where: str) -> None:
    """Fail if the text carries a secret of the tests or of the simulators (named by its first letters only)."""
    leaked = [f"{value[:3]}..." for value in TEST_SECRETS | simulator_base.SECRETS if value in text]
    assert not leaked, f"a secret ({', '.join(leaked)}) in {where}"


# What a form may show on purpose: an alert source's own secret, to be copied into the monitoring system
SHOWN_ON_PURPOSE = frozenset({"token", "setup"})


@pytest.fixture(autouse=True)
def shown_guard(monkeypatch: pytest.MonkeyPatch) -> Generator[None]:
    """Fail a test in which an error raised to a user, or a form, carried a secret."""
    shown: list[tuple[str, str]] = []
    raised_init = HomeAssistantError.__init__
    show_form = FlowHandler.async_show_form
    abort = FlowHandler.async_abort

    def keep_raised(error: HomeAssistantError, *args: Any, **kwargs: Any) -> None:
        shown.append((f"a raised {type(error).__name__}", repr((args, kwargs.get("translation_placeholders")))))
        raised_init(error, *args, **kwargs)

    def keep_form(flow: FlowHandler, **kwargs: Any) -> Any:
        placeholders = {
            key: value
            for key, value in (kwargs.get("description_placeholders") or {}).items()
            if key not in SHOWN_ON_PURPOSE
        }
        shown.append((f"the form {kwargs.get('step_id')}", repr((placeholders, kwargs.get("errors")))))
        return show_form(flow, **kwargs)

    def keep_abort(flow: FlowHandler, **kwargs: Any) -> Any:
        shown.append((f"the abort {kwargs.get('reason')}", repr(kwargs.get("description_placeholders"))))
        return abort(flow, **kwargs)

    monkeypatch.setattr(HomeAssistantError, "__init__", keep_raised)
    monkeypatch.setattr(FlowHandler, "async_show_form", keep_form)
    monkeypatch.setattr(FlowHandler, "async_abort", keep_abort)
    yield
    for where, text in shown:
        assert_no_secret(text, where)


@pytest.fixture(autouse=True)
def event_guard(request: pytest.FixtureRequest) -> Generator[None]:
    """Fail a test in which an event or a repair issue carried a secret (tests with a Home Assistant only)."""
    if "hass" not in request.fixturenames:
        yield
        return
    hass: HomeAssistant = request.getfixturevalue("hass")
    carried: list[str] = []

    @callback
    def keep(event: Event) -> None:
        carried.append(f"{event.event_type} {event.data!r}")

    unsubscribe = hass.bus.async_listen(MATCH_ALL, keep)
    yield
    unsubscribe()
    for text in carried:
        assert_no_secret(text, "an event")
    for issue in ir.async_get(hass).issues.values():
        assert_no_secret(f"{issue.translation_placeholders!r} {issue.data!r}", f"the repair issue {issue.issue_id}")


@pytest.fixture(autouse=True)
def log_guard(caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest) -> Generator[None]:
    """Fail a test whose log has a secret at any level, a traceback, or Home Assistant's report of this integration."""
    caplog.set_level(logging.DEBUG, logger="custom_components.sms_alerts")
    simulator_base.SECRETS.intersection_update(LOGIN_SECRETS)  # the tokens of earlier tests are gone
    yield
    for record in caplog.get_records("call"):
        if record.name.startswith("simulators") or record.name == "aiohttp.access":
            continue  # the simulators' own lines (a device logs what it is sent)
        assert_no_secret(record.getMessage(), f"a {record.levelname} line of {record.name}")
    if request.node.get_closest_marker("allow_traceback"):
        return
    for record in caplog.get_records("call"):
        message = record.getMessage()
        if record.name == "asyncio":
            continue  # the event loop's own debug records of refused TLS handshakes
        if record.levelno <= logging.DEBUG and message == "Full error:":
            continue  # 2026.x coordinators add a debug traceback to every failed update
        if record.name == "aiohttp.access" and message == "Error in logging":
            continue  # aiohttp's own access log, formatting a request's duration of None in a test that freezes time
        assert not record.exc_info, f"traceback in the log: {message}"
        assert "sms_alerts" not in message or "report it" not in message, f"reported: {message}"
        assert "Detected that custom integration 'sms_alerts'" not in message, f"reported: {message}"


@pytest.fixture(autouse=True)
def fresh_number_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start each test with no number warned about: the log names an unknown number once per process."""
    monkeypatch.setattr(message, "_WARNED_NUMBERS", set())


@pytest.fixture(autouse=True)
def journal_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep each test's outbox journals in a folder of its own: the test library's config folder is shared."""
    folder = tmp_path_factory.mktemp("storage")
    monkeypatch.setattr(outbox_store, "journal_folder", lambda _hass: folder)

    async def write_at_once(_store: outbox_store.OutboxStore, job: Callable[[], None]) -> None:
        """Write in the event loop, as the suite's Store writes to memory at once: timings as before the journal."""
        job()

    monkeypatch.setattr(outbox_store.OutboxStore, "_run", write_at_once)
    return folder


def on_disk(hass_storage: dict[str, Any], entry_id: str) -> dict[str, Any]:
    """What an entry's outbox holds on disk, as a crash would leave it: its file with the journal replayed."""
    snapshot = hass_storage.get(outbox_store.storage_key(entry_id), {}).get("data")
    path = outbox_store.journal_path(None, entry_id)  # type: ignore[arg-type] # the folder of journal_folder
    records, _whole = parse(path.read_bytes()) if path.exists() else ([], 0)
    data = replay(snapshot, records)
    return data if isinstance(data, dict) else {}


def pytest_configure(config: pytest.Config) -> None:
    """Register our markers."""
    config.addinivalue_line("markers", "allow_traceback: the test expects a logged traceback")


class RequestGate:
    """Holds a simulator's next requests at its door until the test lets them in; tells when they arrive.

    A request held here is under way for the client but not yet seen by the simulator. Tests wait on
    `until_held` instead of sleeping, and `release` decides the moment the device answers.
    """

    def __init__(self) -> None:
        """Let every request through."""
        self._to_hold = 0
        self._answer: int | None = None
        self._when: Callable[[dict[str, str]], bool] | None = None
        self._open = asyncio.Event()
        self._changed = asyncio.Condition()
        self.held = 0
        # The form fields of every request held so far
        self.forms: list[dict[str, str]] = []

    def hold(
        self, times: int = 1, *, answer: int | None = None, when: Callable[[dict[str, str]], bool] | None = None
    ) -> None:
        """Hold the next `times` requests (whose form fields pass `when`, if given).

        Once released they get `answer` (e.g. 504), or else the simulator's own.
        """
        self._to_hold, self._answer, self._when = times, answer, when
        self._open.clear()

    def release(self) -> None:
        """Let the held requests in."""
        self._open.set()

    async def until_held(self, count: int = 1) -> None:
        """Wait until `count` requests wait at the door (a hang guard only, no deadline on speed)."""
        async with asyncio.timeout(10), self._changed:
            await self._changed.wait_for(lambda: self.held >= count)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Hold a request while the gate is shut; answer it as told once released."""
        if self._to_hold <= 0 or request.path.startswith("/_sim/"):
            return await handler(request)
        form: dict[str, str] = {}
        if request.content_type == "application/x-www-form-urlencoded":
            form = {key: str(value) for key, value in (await request.post()).items()}
        if self._when is not None and not self._when(form):
            return await handler(request)
        self._to_hold -= 1
        answer = self._answer
        self.forms.append(form)
        async with self._changed:
            self.held += 1
            self._changed.notify_all()
        try:
            await self._open.wait()
        finally:
            self.held -= 1
        if answer is not None:
            return web.Response(status=answer, text="Gateway Timeout" if answer == 504 else "")
        return await handler(request)


@dataclass
class RunningSimulator:
    """A simulator served on 127.0.0.1, behind a gate that can hold its requests."""

    sim: Any
    url: str
    gate: RequestGate = field(default_factory=RequestGate)


async def _serve(sim: Simulator, ssl_context: Any = None, gate: RequestGate | None = None) -> tuple[web.AppRunner, str]:
    """Serve a simulator on a free loopback port, its requests passing a gate first."""
    app = sim.make_app()
    if gate is not None:
        app.middlewares.insert(0, gate.middleware)
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = runner.addresses[0][1]
    scheme = "https" if ssl_context else "http"
    return runner, f"{scheme}://127.0.0.1:{port}"


@contextlib.asynccontextmanager
async def serving(sim: Simulator) -> AsyncGenerator[RunningSimulator]:
    """Run a simulator on loopback for the duration of a block."""
    gate = RequestGate()
    runner, url = await _serve(sim, gate=gate)
    try:
        yield RunningSimulator(sim=sim, url=url, gate=gate)
    finally:
        gate.release()
        await runner.cleanup()


@pytest.fixture
async def gateway(socket_enabled: None) -> AsyncGenerator[RunningSimulator]:
    """The brevis.one simulator on loopback."""
    async with serving(BrevisOneSimulator()) as running:
        yield running


@pytest.fixture
async def second_gateway(socket_enabled: None) -> AsyncGenerator[RunningSimulator]:
    """Another brevis.one simulator, for fallbacks."""
    async with serving(BrevisOneSimulator()) as running:
        yield running


def gateway_entry_for(
    sim: RunningSimulator,
    *,
    title: str = "SMS Gateway 127.0.0.1",
    options: dict[str, Any] | None = None,
    unique_id: str | None = None,
) -> MockConfigEntry:
    """An SMS Gateway entry with one recipient, pointing at a simulator."""
    return MockConfigEntry(
        domain=DOMAIN,
        title=title,
        unique_id=unique_id or f"{GATEWAY_USER}@{sim.url.removeprefix('http://')}",
        options=options or {},
        data={
            "provider": "sms_gateway",
            "url": sim.url,
            "username": GATEWAY_USER,
            "password": GATEWAY_PASSWORD,
            "verify_ssl": True,
            "telegram": False,
        },
        subentries_data=[
            {
                "data": {"target": RECIPIENT},
                "subentry_type": "recipient",
                "title": "On call",
                "unique_id": RECIPIENT,
            }
        ],
    )


@pytest.fixture
def gateway_entry(gateway: RunningSimulator) -> MockConfigEntry:
    """An SMS Gateway entry with one recipient, pointing at the simulator."""
    return gateway_entry_for(gateway)


@pytest.fixture
async def loaded_gateway(hass: HomeAssistant, gateway_entry: MockConfigEntry) -> MockConfigEntry:
    """The SMS Gateway entry, set up (with the start-up credential check done)."""
    hass.config.country = "DE"
    gateway_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(gateway_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    return gateway_entry


def _self_signed_context(directory: Path) -> ssl.SSLContext:
    """Make a server TLS context with a fresh self-signed certificate for a name that is not 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "braintower-sms-gateway")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("braintower-sms-gateway")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


@pytest.fixture
async def tls_gateway(socket_enabled: None, tmp_path: Path) -> AsyncGenerator[RunningSimulator]:
    """The brevis.one simulator over HTTPS with the kind of self-signed certificate gateways ship."""
    loop = asyncio.get_running_loop()
    handler = loop.get_exception_handler()

    def quiet_refused_handshakes(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Drop the server side of a handshake the client refused, as a real gateway would."""
        if "transport creation for incoming connection" in context.get("message", ""):
            return
        if handler is None:
            loop.default_exception_handler(context)
        else:
            handler(loop, context)

    loop.set_exception_handler(quiet_refused_handshakes)
    sim = BrevisOneSimulator()
    gate = RequestGate()
    runner, url = await _serve(sim, _self_signed_context(tmp_path), gate)
    yield RunningSimulator(sim=sim, url=url, gate=gate)
    gate.release()
    await runner.cleanup()
    loop.set_exception_handler(handler)


@pytest.fixture
def closed_url(socket_enabled: None) -> str:
    """An address on loopback where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def send(hass: HomeAssistant, entry: ConfigEntry, **data: Any) -> dict[str, Any]:
    """Call sms_alerts.send for an entry and return its response."""
    response = await hass.services.async_call(
        DOMAIN,
        "send",
        {"config_entry_id": entry.entry_id, **data},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    return dict(response)


async def advance(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float) -> None:
    """Let simulated time pass and run what fell due."""
    freezer.tick(dt.timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


async def show_reports(hass: HomeAssistant) -> None:
    """Let the sensors that write once a second (Last send status, open alerts) write what came meanwhile."""
    async_fire_time_changed(hass, dt_util.utcnow() + dt.timedelta(seconds=REPORT_WRITE_INTERVAL))
    await hass.async_block_till_done()


async def shown_state(hass: HomeAssistant, entity_id: str) -> State | None:
    """Return an entity's state once the sensors that write once a second have written what came meanwhile."""
    await show_reports(hass)
    return hass.states.get(entity_id)


@pytest.fixture
async def session(socket_enabled: None) -> AsyncGenerator[aiohttp.ClientSession]:
    """A plain aiohttp session for talking to simulators on loopback."""
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def client(session: aiohttp.ClientSession) -> aiohttp.ClientSession:
    """The same session, under the name the conformance and simulator tests use."""
    return session


@pytest.fixture
async def wildix_sim(socket_enabled: None) -> AsyncGenerator[RunningSimulator]:
    """The Wildix PBX simulator on loopback."""
    async with serving(WildixSimulator()) as running:
        yield running


@pytest.fixture
async def pbxware_sim(socket_enabled: None) -> AsyncGenerator[RunningSimulator]:
    """The PBXware simulator on loopback."""
    async with serving(PbxwareSimulator()) as running:
        yield running


@pytest.fixture
async def ipex_sim(socket_enabled: None) -> AsyncGenerator[RunningSimulator]:
    """The IPEX simulator (token, SMS Chat and instant SMS hosts in one) on loopback."""
    async with serving(IpexSimulator()) as running:
        yield running


def start_send(hass: HomeAssistant, entry: ConfigEntry, **data: Any) -> asyncio.Task[dict[str, Any]]:
    """Call sms_alerts.send in a task Home Assistant does not track: async_block_till_done runs past a held request."""
    return asyncio.get_running_loop().create_task(send(hass, entry, **data))


async def until(condition: Callable[[], Any], what: str) -> None:
    """Let the event loop run until a condition holds that no signal announces (a hang guard, no deadline)."""
    try:
        async with asyncio.timeout(10):
            while not condition():  # noqa: ASYNC110 - nothing announces it: yield to the loop, never wait on the clock
                await asyncio.sleep(0)
    except TimeoutError:
        raise AssertionError(f"never happened: {what}") from None


async def until_queue(hass: HomeAssistant, entry: ConfigEntry, condition: Callable[[], Any], what: str) -> None:
    """Wait for the entry's outbox to announce a change of its queue until a condition holds (a hang guard only)."""
    changed = asyncio.Event()

    @callback
    def on_change(_count: int) -> None:
        """Wake the waiting test."""
        changed.set()

    unsubscribe = async_dispatcher_connect(hass, SIGNAL_QUEUE_CHANGED.format(entry.entry_id), on_change)
    try:
        async with asyncio.timeout(10):
            while not condition():
                await changed.wait()
                changed.clear()
    except TimeoutError:
        raise AssertionError(f"never happened: {what}") from None
    finally:
        unsubscribe()
