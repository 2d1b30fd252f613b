"""A failed TLS connection says which case it is: plain HTTP on the port, untrusted, wrong name, expired, weak.

Real sockets on loopback throughout. The cases are told by OpenSSL's reason (WRONG_VERSION_NUMBER, the
same on OpenSSL 3.0 and 3.6) and X509_V_ERR verify codes (openssl/openssl:include/openssl/x509_vfy.h.in),
never by message texts, which differ between OpenSSL versions.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import logging
import socket
import ssl
from collections.abc import AsyncGenerator, Callable, Coroutine
from pathlib import Path
from typing import Any
from unittest.mock import patch

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from yarl import URL

from custom_components.sms_alerts.api import tls
from custom_components.sms_alerts.api.base import EntryRejectedError, TlsError
from custom_components.sms_alerts.api.brevisone import BrevisOneProvider
from custom_components.sms_alerts.const import DOMAIN
from simulators.brevisone import BrevisOneSimulator

from .conftest import GATEWAY_PASSWORD, GATEWAY_USER, RunningSimulator, _serve, gateway_entry_for, send

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Coroutine[Any, Any, None]]


@pytest.fixture(autouse=True)
def quiet_simulator_server(caplog: pytest.LogCaptureFixture) -> None:
    """Keep the simulator's web server from logging the TLS hello it cannot parse with a traceback (its side)."""
    caplog.set_level(logging.INFO, logger="aiohttp.server")


def make(session: aiohttp.ClientSession, url: str) -> BrevisOneProvider:
    """An api.php client for the simulator with its demo login."""
    config = {"url": url, "username": GATEWAY_USER, "password": GATEWAY_PASSWORD, "api": "legacy"}
    return BrevisOneProvider.from_config(session, config, timeout=5)


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
    """Open the flow at the SMS Gateway form and return its id."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"next_step_id": "sms_gateway"})
    return str(result["flow_id"])


def _pem(directory: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> tuple[Path, Path]:
    """Write a certificate and its key."""
    cert_file, key_file = directory / f"{name}.crt", directory / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


class Authority:
    """A test certificate authority, and server certificates it signs."""

    def __init__(self, directory: Path) -> None:
        """Make the CA certificate."""
        self.directory = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
        now = dt.datetime.now(dt.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.cafile, _ = _pem(directory, "ca", self.cert, self.key)

    def server_context(self, names: list[x509.GeneralName], *, expired: bool = False) -> ssl.SSLContext:
        """A server context with a certificate for these names, signed by this CA."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC) - (dt.timedelta(days=60) if expired else dt.timedelta())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gateway")]))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )  # Python 3.13's VERIFY_X509_STRICT asks for it
            .sign(self.key, hashes.SHA256())
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*_pem(self.directory, "server", cert, key))
        return context

    def client(self) -> aiohttp.ClientSession:
        """A session that trusts this CA (and verifies names), as Home Assistant's does a public one.

        Every host name resolves to 127.0.0.1, so that a name can be tried as well as the address.
        """
        context = ssl.create_default_context(cafile=self.cafile)
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context, resolver=LoopbackResolver()))


class LoopbackResolver(AbstractResolver):
    """Resolve every name to 127.0.0.1 (IPv4 only: the suite's socket guard allows no ::1)."""

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[ResolveResult]:
        """Answer 127.0.0.1 for any name."""
        return [
            ResolveResult(
                hostname=host, host="127.0.0.1", port=port, family=socket.AF_INET, proto=0, flags=socket.AI_NUMERICHOST
            )
        ]

    async def close(self) -> None:
        """Nothing to release."""


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    """A fresh test CA."""
    return Authority(tmp_path)


@pytest.fixture
async def served(socket_enabled: None) -> AsyncGenerator[Callable[[ssl.SSLContext], Coroutine[Any, Any, str]]]:
    """Serve the SMS Gateway simulator over TLS with a given server context; return its https address."""
    loop = asyncio.get_running_loop()
    handler = loop.get_exception_handler()

    def quiet_refused_handshakes(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Drop the server side of a handshake the client refused, as a real gateway would."""
        if "transport creation for incoming connection" not in context.get("message", ""):
            if handler is None:
                loop.default_exception_handler(context)
            else:
                handler(loop, context)

    loop.set_exception_handler(quiet_refused_handshakes)
    runners = []

    async def serve(context: ssl.SSLContext) -> str:
        runner, url = await _serve(BrevisOneSimulator(), context)
        runners.append(runner)
        return url

    yield serve
    for runner in runners:
        await runner.cleanup()
    loop.set_exception_handler(handler)


@pytest.fixture
async def raw_server(socket_enabled: None) -> AsyncGenerator[Callable[[Handler], Coroutine[Any, Any, int]]]:
    """Serve a raw TCP handler on loopback; return its port."""
    servers: list[asyncio.Server] = []

    async def serve(handler: Handler) -> int:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield serve
    for server in servers:
        server.close()
        await server.wait_closed()


async def _answer_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> None:
    """Answer an HTTP request as a device's web server does, then close."""
    if request.split(b" ", 1)[0] in (b"GET", b"HEAD", b"POST"):
        writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
    writer.close()


async def _waits_for_a_full_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A web server that reads up to the blank line before it answers: a TLS hello leaves it waiting."""
    try:
        request = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        writer.close()
        return
    await _answer_http(reader, writer, request)


async def _drops_what_is_not_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A web server that closes at once on bytes that are no HTTP request (a TLS hello starts with 0x16)."""
    first = await reader.read(4)
    if first[:1] == b"\x16":
        writer.transport.abort()
        return
    await _answer_http(reader, writer, first + await reader.readuntil(b"\r\n\r\n"))


# Plain HTTP on the port of an https address


async def test_plain_http_on_an_https_address_is_named_at_send(
    gateway: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """The simulator speaks plain HTTP; asked over https, the error says so and not "self-signed"."""
    with pytest.raises(TlsError) as err:
        await make(session, gateway.url.replace("http://", "https://")).async_validate()
    assert err.value.case == tls.PLAIN_HTTP
    assert err.value.key == "ssl_error"  # the repair issue of any TLS failure; its text carries the reason
    assert "plain HTTP" in err.value.reason
    assert "Verify SSL" not in err.value.reason


async def test_an_address_typed_without_http_is_told_to_add_it(hass: HomeAssistant, gateway: RunningSimulator) -> None:
    """`127.0.0.1:port` is taken as https; the form says the device answers plain HTTP, http:// then works."""
    flow_id = await start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, form(gateway.url.removeprefix("http://")))
    assert result["errors"] == {"base": "plain_http"}
    result = await hass.config_entries.flow.async_configure(flow_id, form(gateway.url))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.mark.parametrize("handler", [_waits_for_a_full_request, _drops_what_is_not_http])
async def test_a_device_that_holds_or_drops_the_handshake_is_asked_in_plain_http(
    hass: HomeAssistant,
    raw_server: Callable[[Handler], Coroutine[Any, Any, int]],
    handler: Handler,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No OpenSSL reason to go by (a timeout, a reset): the flow asks the port in plain HTTP and names that."""
    monkeypatch.setattr("custom_components.sms_alerts.config_flow.VALIDATE_TIMEOUT", 0.5)
    monkeypatch.setattr("custom_components.sms_alerts.config_flow.PROBE_TIMEOUT", 0.5)
    port = await raw_server(handler)
    flow_id = await start(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, form(f"127.0.0.1:{port}"))
    assert result["errors"] == {"base": "plain_http"}


async def test_the_probe_does_not_take_a_tls_port_for_plain_http(
    tls_gateway: RunningSimulator, closed_url: str, gateway: RunningSimulator
) -> None:
    """A port that completes a handshake, or where nothing listens, is no plain HTTP port; the simulator's is."""
    assert not await tls.async_answers_plain_http(URL(tls_gateway.url), 2)
    assert not await tls.async_answers_plain_http(URL(closed_url.replace("http://", "https://")), 2)
    assert not await tls.async_answers_plain_http(URL(gateway.url), 2)  # http:// is asked for nothing
    assert await tls.async_answers_plain_http(URL(gateway.url.replace("http://", "https://")), 2)


# Certificates


async def test_self_signed_certificate_is_untrusted(tls_gateway: RunningSimulator) -> None:
    """The gateway's own self-signed certificate: ssl_error, whose advice is to untick Verify SSL."""
    async with aiohttp.ClientSession() as verifying:
        with pytest.raises(TlsError) as err:
            await make(verifying, tls_gateway.url).async_validate()
    assert (err.value.case, err.value.key) == (tls.UNTRUSTED, "ssl_error")
    assert "self-signed" in err.value.reason


@pytest.mark.parametrize("host", ["127.0.0.1", "device.example"])
async def test_certificate_for_another_name(
    authority: Authority, served: Callable[[ssl.SSLContext], Coroutine[Any, Any, str]], host: str
) -> None:
    """A trusted certificate made for another name: the host (verify code 62) or IP (64) mismatch is named."""
    url = await served(authority.server_context([x509.DNSName("gateway.example")]))
    url = url.replace("127.0.0.1", host)
    async with authority.client() as client:
        with pytest.raises(TlsError) as err:
            await make(client, url).async_validate()
    assert err.value.case == tls.NAME_MISMATCH
    assert "another name" in err.value.reason


async def test_certificate_for_this_address_passes(
    authority: Authority, served: Callable[[ssl.SSLContext], Coroutine[Any, Any, str]]
) -> None:
    """The same CA with the right name: the check passes (so the cases above fail for the named cause)."""
    url = await served(authority.server_context([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]))
    async with authority.client() as client:
        info = await make(client, url).async_validate()
    assert info.unique_id == f"sms_gateway:{GATEWAY_USER}"


async def test_expired_certificate(
    authority: Authority, served: Callable[[ssl.SSLContext], Coroutine[Any, Any, str]]
) -> None:
    """A trusted certificate for this address that has expired (verify code 10)."""
    url = await served(authority.server_context([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))], expired=True))
    async with authority.client() as client:
        with pytest.raises(TlsError) as err:
            await make(client, url).async_validate()
    assert err.value.case == tls.EXPIRED


async def test_name_mismatch_is_its_own_form_error(
    hass: HomeAssistant, authority: Authority, served: Callable[[ssl.SSLContext], Coroutine[Any, Any, str]]
) -> None:
    """In the form: a name mismatch is ssl_name_mismatch, not the self-signed text; unticking Verify SSL works."""
    url = await served(authority.server_context([x509.DNSName("gateway.example")]))
    flow_id = await start(hass)
    async with authority.client() as client:
        with patch("custom_components.sms_alerts.config_flow.async_entry_session", return_value=client):
            result = await hass.config_entries.flow.async_configure(flow_id, form(url))
    assert result["errors"] == {"base": "ssl_name_mismatch"}
    result = await hass.config_entries.flow.async_configure(flow_id, form(url, verify_ssl=False))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)


def test_each_case_has_a_form_error_text_in_both_languages() -> None:
    """Every case is a form error with its own sentence; none but the untrusted one says self-signed."""
    root = Path(__file__).parents[1] / "custom_components" / DOMAIN / "translations"
    errors = {
        language: json.loads((root / f"{language}.json").read_text(encoding="utf-8"))["config"]["error"]
        for language in ("en", "de")
    }
    for texts in errors.values():
        assert len({texts[case] for case in tls.CASES}) == len(tls.CASES)
        assert "http://" in texts["plain_http"]
    assert [case for case in tls.CASES if "self-signed" in errors["en"][case]] == [tls.UNTRUSTED]


def test_a_tls_error_is_an_entry_refusal() -> None:
    """Every case stops the entry (a repair issue), as an untrusted certificate always did."""
    assert all(isinstance(TlsError(case), EntryRejectedError) for case in tls.CASES)
    assert {TlsError(case).key for case in tls.CASES} == {"ssl_error", "weak_tls"}


async def test_a_send_to_a_plain_http_device_by_https_says_so(
    hass: HomeAssistant, gateway: RunningSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """An entry whose address is https:// on a plain HTTP port: the result, the log and the repair issue say so."""
    https = RunningSimulator(sim=gateway.sim, url=gateway.url.replace("http://", "https://"), gate=gateway.gate)
    entry = gateway_entry_for(https)
    hass.config.country = "DE"
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    with pytest.raises(HomeAssistantError, match="plain HTTP") as err:
        await send(hass, entry, message="Freezer warm", target=["+491701234567"])
    await hass.async_block_till_done(wait_background_tasks=True)
    assert "self-signed" not in str(err.value)
    assert "plain HTTP" in caplog.text
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"{entry.entry_id}_ssl_error")
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert "plain HTTP" in issue.translation_placeholders["error"]
    assert gateway.sim.messages == []
