"""The brevis.one client against the simulator: request shape and the classification table."""

from __future__ import annotations

import aiohttp
import pytest

from custom_components.sms_alerts.api.base import (
    AccountInfo,
    AuthError,
    EntryRejectedError,
    OutboundSms,
    Outcome,
    Target,
    TargetKind,
    TargetRejectedError,
    TransientError,
)
from custom_components.sms_alerts.api.brevisone import BrevisOneProvider, classify, normalize_url
from custom_components.sms_alerts.api.brevisone_rest import ApiMissingError
from simulators.base import Fault

from .conftest import GATEWAY_PASSWORD, GATEWAY_USER, RunningSimulator

NUMBER = Target(kind=TargetKind.NUMBER, value="+491701234567")


def make(session: aiohttp.ClientSession, url: str, **kwargs: object) -> BrevisOneProvider:
    """Build an api.php client for the simulator with the demo login unless told otherwise."""
    config = {"url": url, "username": GATEWAY_USER, "password": GATEWAY_PASSWORD, "api": "legacy", **kwargs}
    return BrevisOneProvider.from_config(session, config, timeout=float(str(config.get("timeout", 5))))


async def test_validate_logs_in_without_sending(gateway: RunningSimulator, session: aiohttp.ClientSession) -> None:
    """A credential check passes on 'Parameter miss' and sends nothing."""
    info = await make(session, gateway.url).async_validate()
    assert info.unique_id == "sms_gateway:apiuser"
    assert info.title == "SMS Gateway apiuser"
    assert gateway.sim.messages == []
    request = gateway.sim.requests[-1]
    assert (request.method, request.path, request.query) == ("POST", "/api.php", {})
    assert request.form == {"username": GATEWAY_USER, "password": GATEWAY_PASSWORD}


@pytest.mark.parametrize(
    ("username", "password", "error", "key"),
    [
        ("apiuser", "Wr0ngPa55", AuthError, "invalid_auth"),
        ("nobody", "secret", AuthError, "invalid_auth"),
        ("webuser", "secret", EntryRejectedError, "no_api_permission"),
    ],
)
async def test_validate_refusals(
    gateway: RunningSimulator,
    session: aiohttp.ClientSession,
    username: str,
    password: str,
    error: type[Exception],
    key: str,
) -> None:
    """401 is a wrong login, 403 a user without the API right."""
    provider = make(session, gateway.url, username=username, password=password)
    with pytest.raises(error) as err:
        await provider.async_validate()
    assert err.value.key == key  # type: ignore[attr-defined]
    assert password not in str(err.value)


async def test_validate_unreachable(closed_url: str, session: aiohttp.ClientSession) -> None:
    """Nothing listening is a transient 'cannot_connect'."""
    with pytest.raises(TransientError) as err:
        await make(session, closed_url).async_validate()
    assert err.value.key == "cannot_connect"


async def test_self_signed_certificate_is_an_ssl_error(tls_gateway: RunningSimulator) -> None:
    """With verification on, the gateway's own certificate fails with 'ssl_error'; off, it works."""
    async with aiohttp.ClientSession() as verifying:
        with pytest.raises(EntryRejectedError) as err:
            await make(verifying, tls_gateway.url).async_validate()
    assert err.value.key == "ssl_error"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as lenient:
        info = await make(lenient, tls_gateway.url).async_validate()
    assert info.unique_id == "sms_gateway:apiuser"


@pytest.mark.parametrize(
    ("sms", "target", "form", "received_to", "options"),
    [
        (
            OutboundSms(text="Disk full"),
            NUMBER,
            {"to": "00491701234567", "mode": "number"},
            "00491701234567",
            {"mode": "number", "channel": "sms", "ring": False, "flash": False},
        ),
        (
            OutboundSms(text="Disk full", telegram=True),
            NUMBER,
            {"to": "00491701234567", "mode": "telnumber"},
            "00491701234567",
            {"mode": "telnumber", "channel": "telegram, sms fallback", "ring": False, "flash": False},
        ),
        (
            OutboundSms(text="Disk full", telegram_only=True),
            NUMBER,
            {"to": "00491701234567", "mode": "telnumber", "telauto": "false"},
            "00491701234567",
            {"mode": "telnumber", "channel": "telegram", "ring": False, "flash": False},
        ),
        (
            OutboundSms(text="Disk full", ring=True, telegram=True),
            NUMBER,
            {"to": "00491701234567", "mode": "number", "ring": "true"},
            "00491701234567",
            {"mode": "number", "channel": "sms", "ring": True, "flash": False},
        ),
        (
            OutboundSms(text="Disk full", flash=True),
            NUMBER,
            {"to": "00491701234567", "mode": "number", "flash": "true"},
            "00491701234567",
            {"mode": "number", "channel": "sms", "ring": False, "flash": True},
        ),
        (
            OutboundSms(text="Disk full"),
            Target(kind=TargetKind.GROUP, value="Oncall"),
            {"to": "Oncall", "mode": "group"},
            "group:Oncall",
            {"mode": "group", "channel": "sms", "ring": False, "flash": False},
        ),
        (
            OutboundSms(text="Disk full", telegram=True),
            Target(kind=TargetKind.GROUP, value="2"),
            {"to": "2", "mode": "telgroup"},
            "group:Facility",
            {"mode": "telgroup", "channel": "telegram, sms fallback", "ring": False, "flash": False},
        ),
        (
            OutboundSms(text="Disk full"),
            Target(kind=TargetKind.CONTACT, value="Alice"),
            {"to": "Alice", "mode": "user"},
            "user:Alice",
            {"mode": "user", "channel": "sms", "ring": False, "flash": False},
        ),
    ],
)
async def test_send_modes(
    gateway: RunningSimulator,
    session: aiohttp.ClientSession,
    sms: OutboundSms,
    target: Target,
    form: dict[str, str],
    received_to: str,
    options: dict[str, object],
) -> None:
    """Each target kind and option becomes the documented mode and fields, in a POST body."""
    receipts = await make(session, gateway.url).async_send(sms, [target])
    assert [r.outcome for r in receipts] == [Outcome.SENT]
    request = gateway.sim.requests[-1]
    assert request.query == {}
    assert request.form == {"username": GATEWAY_USER, "password": GATEWAY_PASSWORD, "text": "Disk full", **form}
    message = gateway.sim.messages[-1]
    assert (message.to, message.text, message.options) == (received_to, "Disk full", options)


async def test_entry_telegram_default_switches_modes(gateway: RunningSimulator, session: aiohttp.ClientSession) -> None:
    """The entry's 'Telegram first' turns number into telnumber without an option on the send."""
    await make(session, gateway.url, telegram=True).async_send(OutboundSms(text="x"), [NUMBER])
    assert gateway.sim.messages[-1].options["mode"] == "telnumber"


async def test_text_arrives_intact(gateway: RunningSimulator, session: aiohttp.ClientSession) -> None:
    """Unicode, emoji, quotes, slashes, ampersands and newlines survive the form encoding."""
    text = 'Příliš žluťoučký kůň 🚨 it\'s "hot" / 50% & +1 = 2\\n\nline 2 €'
    await make(session, gateway.url).async_send(OutboundSms(text=text), [NUMBER])
    assert gateway.sim.messages[-1].text == text


@pytest.mark.parametrize(
    ("target", "key"),
    [
        (Target(kind=TargetKind.GROUP, value="Nobody"), "target_rejected"),
        (Target(kind=TargetKind.CONTACT, value="99"), "target_rejected"),
    ],
)
async def test_unknown_group_or_contact_is_refused(
    gateway: RunningSimulator, session: aiohttp.ClientSession, target: Target, key: str
) -> None:
    """400 'Error. See Gateway logs' refuses that target only."""
    receipts = await make(session, gateway.url).async_send(OutboundSms(text="x"), [target, NUMBER])
    assert [r.outcome for r in receipts] == [Outcome.TARGET, Outcome.SENT]
    assert receipts[0].error_key == key
    assert receipts[0].error == "HTTP 400: Error. See Gateway logs for more information."


async def test_extension_is_refused_without_a_request(
    gateway: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """The gateway has no extensions."""
    receipts = await make(session, gateway.url).async_send(
        OutboundSms(text="x"), [Target(kind=TargetKind.EXTENSION, value="1001")]
    )
    assert receipts[0].outcome is Outcome.TARGET
    assert gateway.sim.requests == []


@pytest.mark.parametrize(
    ("fault", "key", "reason"),
    [
        (Fault.HTTP_503, "server_error", "HTTP 503: Service Unavailable"),
        (Fault.HTML_500, "server_error", "HTTP 500 from the SMS Gateway"),
        (Fault.RESET, "cannot_connect", "cannot reach the device"),
        (Fault.SLOW, "timeout", "a duplicate is possible"),
    ],
)
async def test_faults_are_transient_and_stop_the_batch(
    gateway: RunningSimulator, session: aiohttp.ClientSession, fault: Fault, key: str, reason: str
) -> None:
    """A device in trouble is asked once; the other targets wait without a request."""
    gateway.sim.fail(fault, delay=2)
    provider = make(session, gateway.url, timeout=0.3)
    receipts = await provider.async_send(OutboundSms(text="x"), [NUMBER, Target(kind=TargetKind.GROUP, value="Oncall")])
    assert [r.outcome for r in receipts] == [Outcome.TRANSIENT, Outcome.TRANSIENT]
    assert [r.error_key for r in receipts] == [key, key]
    assert reason in (receipts[0].error or "")
    assert "<html" not in (receipts[0].error or "").lower()
    assert len(gateway.sim.requests) == 1
    assert gateway.sim.messages == []


async def test_gateway_408_is_transient(gateway: RunningSimulator, session: aiohttp.ClientSession) -> None:
    """408 'FAILED - Timeout' may be retried (a duplicate is possible)."""
    gateway.sim.answer_408 = True
    receipts = await make(session, gateway.url).async_send(OutboundSms(text="x"), [NUMBER])
    assert receipts[0].outcome is Outcome.TRANSIENT
    assert receipts[0].error_key == "gateway_timeout"


async def test_refused_login_stops_the_batch(gateway: RunningSimulator, session: aiohttp.ClientSession) -> None:
    """401 refuses every remaining target without asking again."""
    provider = make(session, gateway.url, password="changed")
    receipts = await provider.async_send(OutboundSms(text="x"), [NUMBER, NUMBER])
    assert [r.outcome for r in receipts] == [Outcome.AUTH, Outcome.AUTH]
    assert len(gateway.sim.requests) == 1


@pytest.mark.parametrize(
    ("status", "body", "error", "key"),
    [
        (200, "", None, None),
        (201, "<html>ok</html>", None, None),
        (400, "Error: Parameter miss", TargetRejectedError, "parameter_miss"),
        (400, "Error. See Gateway logs for more information.", TargetRejectedError, "target_rejected"),
        (401, "401 Unauthorized - Username or Password wrong", AuthError, "invalid_auth"),
        (403, "403 Forbidden - Your User has no right to send SMS over API", EntryRejectedError, "no_api_permission"),
        (404, "Not Found", ApiMissingError, "api_missing"),
        (405, "Method Not Allowed", ApiMissingError, "api_missing"),
        (409, "Conflict", TargetRejectedError, "target_rejected"),
        (408, "FAILED - Timeout or see Gateway logs for more information.", TransientError, "gateway_timeout"),
        (500, "<html>boom</html>", TransientError, "server_error"),
        (502, "", TransientError, "server_error"),
        (302, "", TransientError, "unexpected_response"),
    ],
)
def test_classification_table(status: int, body: str, error: type | None, key: str | None) -> None:
    """Status first, body second; an unknown answer is retried, never dropped."""
    rule = classify(status, body)
    assert (rule.error, rule.key) == (error, key)


async def test_parameter_miss_on_send_is_logged_as_our_bug(
    gateway: RunningSimulator, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """An empty text slipping through is reported as a bug, not hidden."""
    receipts = await make(session, gateway.url).async_send(OutboundSms(text=""), [NUMBER])
    assert receipts[0].error_key == "parameter_miss"
    assert "bug in SMS Alerts" in caplog.text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("192.0.2.10", "https://192.0.2.10/"),
        ("http://192.0.2.10/", "http://192.0.2.10/"),
        ("https://gw.example.com:8443/api.php", "https://gw.example.com:8443/"),
        ("https://gw.example.com/sms/api.php?x=1", "https://gw.example.com/sms"),
    ],
)
def test_url_forms(raw: str, expected: str) -> None:
    """An address with or without scheme or api.php becomes the base URL."""
    assert str(normalize_url(raw)) == expected


@pytest.mark.parametrize("raw", ["ftp://192.0.2.10", "https://", "http:///api.php"])
def test_bad_urls(raw: str) -> None:
    """Only http and https with a host are accepted."""
    with pytest.raises(ValueError, match=r".*"):
        normalize_url(raw)


def test_redacted_view_has_no_secret_or_address() -> None:
    """Diagnostics see the scheme and path only."""
    provider = BrevisOneProvider(
        None,  # type: ignore[arg-type]
        url="https://192.0.2.10",
        username="apiuser",
        password="p4ss",
    )
    view = str(provider.redacted_view())
    assert "p4ss" not in view
    assert "192.0.2.10" not in view


@pytest.mark.parametrize(
    ("url", "unique_id", "title"),
    [
        ("https://192.0.2.10", "sms_gateway:apiuser", "SMS Gateway ApiUser"),
        ("http://GW.example.com:80/api.php", "sms_gateway:apiuser", "SMS Gateway ApiUser"),
        ("https://192.0.2.10:8443", "sms_gateway:apiuser", "SMS Gateway ApiUser"),
    ],
)
def test_account_identity(url: str, unique_id: str, title: str) -> None:
    """One account is the API user, whatever address reaches the gateway: no API tells a serial [assumed]."""
    provider = BrevisOneProvider(None, url=url, username="ApiUser", password="x")  # type: ignore[arg-type]
    assert provider.identity() == AccountInfo(unique_id=unique_id, title=title, data={"api": "legacy"})
