"""The Wildix client against the simulator: request shape, batching, splitting and the classification table."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import AsyncGenerator, Callable
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web

from custom_components.sms_alerts.api import wildix as wildix_module
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
from custom_components.sms_alerts.api.text import utf16_len
from custom_components.sms_alerts.api.wildix import WildixProvider, classify, normalize_gsm, normalize_url
from custom_components.sms_alerts.api.wildix_auth import WildixAuth
from simulators.base import Fault, Simulator
from simulators.wildix import WildixSimulator

from .conftest import RunningSimulator, _serve, serving

USER = "101"
PASSWORD = "sms101api"  # the vendor's example login, the simulator's demo
SEND = "/api/v1/originate/sms"
INFO = "/api/v1/personal/info"
NUMBER = Target(kind=TargetKind.NUMBER, value="+391234567890")


def numbers(count: int) -> list[Target]:
    """Distinct Italian mobile numbers."""
    return [Target(kind=TargetKind.NUMBER, value=f"+39333{index:07d}") for index in range(count)]


class CannedPbx(Simulator):
    """Something at the PBX address that answers every request the same way."""

    name = "canned"

    def __init__(self, status: int, body: str, content_type: str = "application/json", **headers: str) -> None:
        """Keep the answer."""
        super().__init__()
        self.status, self.body, self.content_type, self.headers = status, body, content_type, headers

    def routes(self) -> list[web.RouteDef]:
        """Answer every path."""

        async def answer(request: web.Request) -> web.Response:
            return web.Response(
                status=self.status, text=self.body, content_type=self.content_type, headers=self.headers
            )

        return [web.route("*", "/{tail:.*}", answer)]


@pytest.fixture
async def wildix(socket_enabled: None) -> AsyncGenerator[RunningSimulator]:
    """The Wildix simulator on loopback."""
    async with serving(WildixSimulator()) as running:
        yield running


@pytest.fixture
async def canned(socket_enabled: None) -> AsyncGenerator[Callable[..., Any]]:
    """Start canned answers on loopback; each start returns its URL."""
    runners: list[web.AppRunner] = []

    async def start(status: int, body: str, content_type: str = "application/json", **headers: str) -> str:
        runner, url = await _serve(CannedPbx(status, body, content_type, **headers))
        runners.append(runner)
        return url

    yield start
    for runner in runners:
        await runner.cleanup()


def make(session: aiohttp.ClientSession, url: str, **kwargs: Any) -> WildixProvider:
    """Build a client for the simulator with the demo login unless told otherwise."""
    config = {"url": url, "username": USER, "password": PASSWORD, **kwargs}
    return WildixProvider.from_config(session, config, timeout=float(config.get("timeout", 5)))


def basic(username: str = USER, password: str = PASSWORD) -> str:
    """The Authorization header of a Basic login."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


# Credential check


async def test_validate_reads_the_users_record(wildix: RunningSimulator, session: aiohttp.ClientSession) -> None:
    """GET personal/info with Basic auth; the user's name makes the title; nothing is sent."""
    info = await make(session, wildix.url).async_validate()
    assert info == AccountInfo(unique_id="wildix:101", title="Wildix Alarm Sender")
    request = wildix.sim.requests[-1]
    assert (request.method, request.path, request.query, request.form) == ("GET", INFO, {}, {})
    assert request.headers["Authorization"] == basic()
    assert wildix.sim.messages == []


@pytest.mark.parametrize("failure_status", [401, 200])
async def test_validate_wrong_password(
    wildix: RunningSimulator, session: aiohttp.ClientSession, failure_status: int
) -> None:
    """A refused login is invalid_auth whether the PBX answers 401 or 200 with type error."""
    wildix.sim.auth_failure_status = failure_status
    with pytest.raises(AuthError) as err:
        await make(session, wildix.url, password="Wr0ngPa55").async_validate()
    assert err.value.key == "invalid_auth"
    assert "Wr0ngPa55" not in str(err.value)
    assert len(wildix.sim.requests) == 1


async def test_validate_unreachable(closed_url: str, session: aiohttp.ClientSession) -> None:
    """Nothing listening is a transient 'cannot_connect'."""
    with pytest.raises(TransientError) as err:
        await make(session, closed_url).async_validate()
    assert err.value.key == "cannot_connect"


async def test_validate_falls_back_to_a_send_without_number(
    wildix: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """If personal/info is refused, 'Number should not be empty' proves the login; nothing is sent."""
    wildix.sim.personal_info_refused = True
    info = await make(session, wildix.url).async_validate()
    assert info.title == "Wildix 101"
    assert [(r.method, r.path) for r in wildix.sim.requests] == [("GET", INFO), ("POST", SEND)]
    assert "number" not in wildix.sim.requests[-1].form
    assert wildix.sim.messages == []


async def test_validate_without_sms_api(wildix: RunningSimulator, session: aiohttp.ClientSession) -> None:
    """A wrong path: both calls answer 404, which is no_sms_api."""
    with pytest.raises(EntryRejectedError) as err:
        await make(session, f"{wildix.url}/pbx").async_validate()
    assert err.value.key == "no_sms_api"


@pytest.mark.parametrize(
    ("status", "body", "error", "key"),
    [
        (200, "<html>Web Collaboration</html>", TargetRejectedError, "unknown"),
        (403, "Forbidden", AuthError, "invalid_auth"),
        (502, "Bad Gateway", TransientError, "server_error"),
    ],
)
async def test_validate_other_answers(
    canned: Callable[..., Any],
    session: aiohttp.ClientSession,
    status: int,
    body: str,
    error: type[Exception],
    key: str,
) -> None:
    """A page that is not the API is 'unknown'; 403 a refused login; 5xx transient."""
    url = await canned(status, body, "text/html")
    with pytest.raises(error) as err:
        await make(session, url).async_validate()
    assert err.value.key == key  # type: ignore[attr-defined]
    assert "<html" not in str(err.value)


# Sending


async def test_send_to_one_number(wildix: RunningSimulator, session: aiohttp.ClientSession) -> None:
    """One POST, form-encoded, with the number in +E.164 and the login in the Authorization header only."""
    receipts = await make(session, wildix.url).async_send(OutboundSms(text="Disk full"), [NUMBER])
    assert [(r.target, r.outcome) for r in receipts] == [(NUMBER, Outcome.SENT)]
    request = wildix.sim.requests[-1]
    assert (request.method, request.path, request.query) == ("POST", SEND, {})
    assert request.form == {"number": "+391234567890", "message": "Disk full"}
    assert request.headers["Authorization"] == basic()
    message = wildix.sim.messages[-1]
    assert (message.provider, message.to, message.text) == ("wildix", "+391234567890", "Disk full")
    assert message.options == {"postpone": None, "gsm": None}


async def test_credentials_travel_only_in_the_header(
    wildix: RunningSimulator, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """The password is never in a URL, a body or the log."""
    provider = make(session, wildix.url)
    await provider.async_validate()
    await provider.async_send(OutboundSms(text="x"), [NUMBER])
    for request in wildix.sim.requests:
        assert PASSWORD not in request.path
        assert PASSWORD not in str(request.query)
        assert PASSWORD not in str(request.form)
        assert request.headers["Authorization"] == basic()
    assert PASSWORD not in caplog.text
    assert "+391234567890" not in caplog.text  # numbers are masked in debug logs


async def test_120_numbers_go_in_three_requests(
    wildix: RunningSimulator, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of at most 50 comma-separated numbers; each chunk's time limit is 10 s + 5 s per number."""
    provider = make(session, wildix.url)
    limits: list[float | None] = []
    request = provider._async_request

    async def spy(method: str, url: str, *, time_limit: float | None = None, **kwargs: Any) -> Any:
        limits.append(time_limit)
        return await request(method, url, time_limit=time_limit, **kwargs)

    monkeypatch.setattr(provider, "_async_request", spy)
    targets = numbers(120)
    receipts = await provider.async_send(OutboundSms(text="Fire alarm"), targets)
    assert [r.target for r in receipts] == targets
    assert {r.outcome for r in receipts} == {Outcome.SENT}
    lists = [r.form["number"] for r in wildix.sim.requests]
    assert lists == [
        ",".join(t.value for t in targets[:50]),
        ",".join(t.value for t in targets[50:100]),
        ",".join(t.value for t in targets[100:]),
    ]
    assert limits == [260.0, 260.0, 110.0]
    assert [m.to for m in wildix.sim.messages] == [t.value for t in targets]


@pytest.mark.parametrize(
    ("lookalike_chars", "arrives"),
    [
        (True, "it\u2019s \u2033hot\u2033 in rack 3\u22154 at C:\u29f5srv"),
        (False, "it s  hot  in rack 3 4 at C: srv"),
    ],
)
async def test_quotes_and_slashes(
    wildix: RunningSimulator, session: aiohttp.ClientSession, lookalike_chars: bool, arrives: str
) -> None:
    """Look-alikes survive the PBX; with the option off the PBX turns them into spaces."""
    provider = make(session, wildix.url, lookalike_chars=lookalike_chars)
    await provider.async_send(OutboundSms(text='it\'s "hot" in rack 3/4 at C:\\srv'), [NUMBER])
    assert wildix.sim.messages[-1].text == arrives


@pytest.mark.parametrize(
    ("max_length", "lookalike_chars", "prefix"),
    [(670, True, "({}\u2215{})"), (300, True, "({}\u2215{})"), (670, False, "({} {})")],
)
async def test_long_text_is_split_into_numbered_parts(
    wildix: RunningSimulator, session: aiohttp.ClientSession, max_length: int, lookalike_chars: bool, prefix: str
) -> None:
    """A 1,500-character alert goes as numbered parts within the limit, in order, to every number.

    The prefix's slash is a look-alike too; with look-alikes off the PBX turns it into a space.
    """
    wildix.sim.max_length = max_length
    text = " ".join(f"sensor{index:04d}" for index in range(137))[:1500]
    assert len(text) == 1500
    count = {670: 3, 300: 6}[max_length]
    targets = numbers(2)
    provider = make(session, wildix.url, max_length=max_length, lookalike_chars=lookalike_chars)
    receipts = await provider.async_send(OutboundSms(text=text), targets)
    assert {r.outcome for r in receipts} == {Outcome.SENT}
    assert len(wildix.sim.requests) == count
    for target in targets:
        parts = [m.text for m in wildix.sim.messages if m.to == target.value]
        assert [p.split(") ", 1)[0] + ")" for p in parts] == [prefix.format(i, count) for i in range(1, count + 1)]
        assert all(utf16_len(p) <= max_length for p in parts)
        assert " ".join(p.split(") ", 1)[1] for p in parts) == text


async def test_a_number_not_queued_gets_no_further_parts(
    wildix: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """A part the PBX could not queue makes that number transient; later parts go to the others only."""
    wildix.sim.warning_numbers = {"+393330000001"}
    targets = numbers(3)
    receipts = await make(session, wildix.url).async_send(OutboundSms(text="word " * 300), targets)
    assert [r.outcome for r in receipts] == [Outcome.SENT, Outcome.TRANSIENT, Outcome.SENT]
    assert [r.form["number"] for r in wildix.sim.requests] == [
        "+393330000000,+393330000001,+393330000002",
        "+393330000000,+393330000002",
        "+393330000000,+393330000002",
    ]


async def test_postpone_is_formatted_in_local_time(wildix: RunningSimulator, session: aiohttp.ClientSession) -> None:
    """An aware datetime (already in Home Assistant's zone) becomes dd/mm/YYYY HH:MM."""
    when = dt.datetime(2030, 7, 14, 15, 35, 59, tzinfo=ZoneInfo("Europe/Rome"))
    await make(session, wildix.url).async_send(OutboundSms(text="x", postpone=when), [NUMBER])
    assert wildix.sim.requests[-1].form["postpone"] == "14/07/2030 15:35"
    assert wildix.sim.messages[-1].options["postpone"] == "14/07/2030 15:35"


@pytest.mark.parametrize(
    ("entry_gsm", "send_gsm", "sent"),
    [
        (None, None, None),
        ("9C-75-14-33-00-01", None, "9c7514330001"),
        ("9c7514330001", "9c:75:14:33:00:02", "9c7514330002"),
        (None, "9C7514330002", "9c7514330002"),
    ],
)
async def test_gsm_gateway(
    wildix: RunningSimulator,
    session: aiohttp.ClientSession,
    entry_gsm: str | None,
    send_gsm: str | None,
    sent: str | None,
) -> None:
    """The entry's gateway is the default, a send's gateway overrides it; both are normalised."""
    wildix.sim.gateways.append("9c7514330002")
    provider = make(session, wildix.url, gsm=entry_gsm)
    receipts = await provider.async_send(OutboundSms(text="x", gsm=send_gsm), [NUMBER])
    assert receipts[0].outcome is Outcome.SENT
    assert wildix.sim.requests[-1].form.get("gsm") == sent
    assert wildix.sim.messages[-1].options["gsm"] == sent


async def test_invalid_gsm(wildix: RunningSimulator, session: aiohttp.ClientSession) -> None:
    """A send's bad MAC refuses its targets; a stored bad MAC is the entry's problem; no request either way."""
    receipts = await make(session, wildix.url).async_send(OutboundSms(text="x", gsm="9c:75:14"), numbers(60))
    assert {(r.outcome, r.error_key) for r in receipts} == {(Outcome.TARGET, "invalid_gsm")}
    receipts = await make(session, wildix.url, gsm="gateway-1").async_send(OutboundSms(text="x"), [NUMBER])
    assert (receipts[0].outcome, receipts[0].error_key) == (Outcome.CONFIG, "invalid_gsm")
    assert wildix.sim.requests == []


async def test_warning_makes_the_listed_numbers_transient(
    wildix: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """The numbers in the warning's result (matched by digits) are retried; the others are sent."""
    wildix.sim.warning_numbers = {"+393330000001", "+393330000003"}
    receipts = await make(session, wildix.url).async_send(OutboundSms(text="x"), numbers(4))
    assert [r.outcome for r in receipts] == [Outcome.SENT, Outcome.TRANSIENT, Outcome.SENT, Outcome.TRANSIENT]
    assert {(r.error, r.error_key) for r in receipts if r.outcome is Outcome.TRANSIENT} == {
        ("Unable to add a SMS to the queue", "queue_warning")
    }


async def test_warning_naming_none_makes_all_transient(
    wildix: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """The vendor's example result ["111"] matches no number: the whole chunk is retried, the raw result kept."""
    wildix.sim.queue_full = True
    receipts = await make(session, wildix.url).async_send(OutboundSms(text="x"), numbers(3))
    assert {r.outcome for r in receipts} == {Outcome.TRANSIENT}
    assert receipts[0].error == 'Unable to add a SMS to the queue (PBX result: ["111"])'


@pytest.mark.parametrize(
    ("setting", "value", "entry_gsm", "reason"),
    [
        ("curl_sms_send_enabled", True, None, "GSM gateway should be specified"),
        ("gateways", ["9c7514330009"], "9c7514330001", "Unknown GSM gateway"),
    ],
)
async def test_error_refuses_the_chunk(
    wildix: RunningSimulator,
    session: aiohttp.ClientSession,
    setting: str,
    value: object,
    entry_gsm: str | None,
    reason: str,
) -> None:
    """A type error refuses every number of the chunk with the PBX's reason; the next chunk is still tried."""
    setattr(wildix.sim, setting, value)
    receipts = await make(session, wildix.url, gsm=entry_gsm).async_send(OutboundSms(text="x"), numbers(51))
    assert {(r.outcome, r.error, r.error_key) for r in receipts} == {(Outcome.TARGET, reason, "target_rejected")}
    assert len(wildix.sim.requests) == 2
    assert wildix.sim.messages == []


async def test_wrong_path_is_a_config_error(wildix: RunningSimulator, session: aiohttp.ClientSession) -> None:
    """404 is no_sms_api for the whole entry: one request, every target failed."""
    receipts = await make(session, f"{wildix.url}/pbx").async_send(OutboundSms(text="x"), numbers(120))
    assert {(r.outcome, r.error_key) for r in receipts} == {(Outcome.CONFIG, "no_sms_api")}
    assert len(wildix.sim.requests) == 1


@pytest.mark.parametrize("failure_status", [401, 200])
async def test_refused_login_stops_the_batch(
    wildix: RunningSimulator, session: aiohttp.ClientSession, failure_status: int
) -> None:
    """An auth failure in either form fails every chunk after one request."""
    wildix.sim.auth_failure_status = failure_status
    receipts = await make(session, wildix.url, password="changed").async_send(OutboundSms(text="x"), numbers(120))
    assert {(r.outcome, r.error_key) for r in receipts} == {(Outcome.AUTH, "invalid_auth")}
    assert len(wildix.sim.requests) == 1


@pytest.mark.allow_traceback  # an unexpected error is logged with its traceback
async def test_a_bug_in_one_chunk_keeps_every_number_for_another_try(
    wildix: RunningSimulator, session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected error in the first of three chunks: all 120 numbers are kept (transient), no further request."""
    provider = make(session, wildix.url)
    calls: list[Any] = []

    def request(*args: Any, **_kwargs: Any) -> Any:
        calls.append(args)
        raise TypeError("Channel.getaddrinfo() takes 3 positional arguments but 4 were given")

    monkeypatch.setattr(session, "request", request)
    receipts = await provider.async_send(OutboundSms(text="x"), numbers(120))
    assert len(receipts) == 120
    assert {(r.outcome, r.error) for r in receipts} == {(Outcome.TRANSIENT, "unexpected error (TypeError)")}
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("status", "body", "content_type", "outcome", "key"),
    [
        (200, "<html><body>Web Collaboration</body></html>", "text/html", Outcome.TARGET, "unexpected_response"),
        (200, '{"type":"notice"}', "application/json", Outcome.TARGET, "unexpected_response"),
        (403, "", "text/plain", Outcome.AUTH, "invalid_auth"),
        (301, "", "text/plain", Outcome.CONFIG, "redirected"),
    ],
)
async def test_other_answers(
    canned: Callable[..., Any],
    session: aiohttp.ClientSession,
    status: int,
    body: str,
    content_type: str,
    outcome: Outcome,
    key: str,
) -> None:
    """A page or an unknown type is unexpected; 403 is auth; a redirect is not followed (it would drop the POST)."""
    url = await canned(status, body, content_type, Location="https://pbx.example.com/api/v1/originate/sms")
    receipts = await make(session, url).async_send(OutboundSms(text="x"), [NUMBER])
    assert (receipts[0].outcome, receipts[0].error_key) == (outcome, key)
    assert "<html" not in (receipts[0].error or "")
    if status == 301:
        assert "https://pbx.example.com" in (receipts[0].error or "")


@pytest.mark.parametrize(
    ("fault", "key", "reason"),
    [
        (Fault.HTTP_503, "server_error", "HTTP 503"),
        (Fault.HTML_500, "server_error", "HTTP 500"),
        (Fault.RESET, "cannot_connect", "cannot reach the device"),
        (Fault.SLOW, "timeout", "a duplicate is possible"),
    ],
)
async def test_faults_are_transient_and_stop_the_batch(
    wildix: RunningSimulator,
    session: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
    fault: Fault,
    key: str,
    reason: str,
) -> None:
    """A PBX in trouble is asked once; the other chunks wait without a request."""
    monkeypatch.setattr(wildix_module, "SEND_TIME_BASE", 0.2)
    monkeypatch.setattr(wildix_module, "SEND_TIME_PER_NUMBER", 0.001)
    wildix.sim.fail(fault, delay=2)
    receipts = await make(session, wildix.url).async_send(OutboundSms(text="x"), numbers(60))
    assert {(r.outcome, r.error_key) for r in receipts} == {(Outcome.TRANSIENT, key)}
    assert reason in (receipts[0].error or "")
    assert "<html" not in (receipts[0].error or "").lower()
    assert len(wildix.sim.requests) == 1
    assert wildix.sim.messages == []


async def test_other_target_kinds_are_refused_without_a_request(
    wildix: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """The PBX sends to numbers only; receipts keep the order of the targets."""
    extension = Target(kind=TargetKind.EXTENSION, value="102")
    receipts = await make(session, wildix.url).async_send(OutboundSms(text="x"), [extension, NUMBER])
    assert [(r.target, r.outcome) for r in receipts] == [(extension, Outcome.TARGET), (NUMBER, Outcome.SENT)]
    assert receipts[0].error_key == "unsupported_target"
    assert wildix.sim.requests[-1].form["number"] == NUMBER.value


async def test_send_one(wildix: RunningSimulator, session: aiohttp.ClientSession) -> None:
    """The single-target form returns a receipt or raises the error of its outcome."""
    provider = make(session, wildix.url)
    assert (await provider.async_send_one(OutboundSms(text="x"), NUMBER)).outcome is Outcome.SENT
    wildix.sim.warning_numbers = {NUMBER.value}
    with pytest.raises(TransientError):
        await provider.async_send_one(OutboundSms(text="x"), NUMBER)


# Pure functions


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("9c:75:14:33:00:01", "9c7514330001"),
        ("9C-75-14-33-00-01", "9c7514330001"),
        ("9c7514330001", "9c7514330001"),
        (" 9C75.1433.0001 ", "9c7514330001"),
    ],
)
def test_normalize_gsm(raw: str, expected: str) -> None:
    """Separators go, letters are lower-cased."""
    assert normalize_gsm(raw) == expected


@pytest.mark.parametrize("raw", ["", "9c:75:14:33:00", "9c:75:14:33:00:01:02", "9g7514330001", "gateway-1"])
def test_normalize_gsm_refuses(raw: str) -> None:
    """Anything but 12 hex digits is a ValueError (the form's invalid_gsm)."""
    with pytest.raises(ValueError, match=r".*"):
        normalize_gsm(raw)


@pytest.mark.parametrize(
    ("status", "body", "error", "key"),
    [
        (200, '{"type":"result","result":"Success"}', None, None),
        (200, '{"type":"result","result":"success"}', None, None),
        (200, '{"type":"result","result":{"login":"101"}}', None, None),
        (200, '{"type":"result","result":"Failed"}', TargetRejectedError, "unexpected_response"),
        (200, '{"type":"result","result":""}', TargetRejectedError, "unexpected_response"),
        (
            200,
            '{"type":"warning","reason":"Unable to add a SMS to the queue","result":["111"]}',
            TransientError,
            "queue_warning",
        ),
        (200, '{"type":"error","reason":"Unauthorized","result":null}', AuthError, "invalid_auth"),
        (401, '{"type":"error","reason":"Unauthorized","result":null}', AuthError, "invalid_auth"),
        (401, "", AuthError, "invalid_auth"),
        (403, "Forbidden", AuthError, "invalid_auth"),
        (
            200,
            '{"type":"error","reason":"Number should not be empty","result":null}',
            TargetRejectedError,
            "target_rejected",
        ),
        (400, '{"type":"error","reason":"Message should not be empty"}', TargetRejectedError, "target_rejected"),
        (404, "Not Found", EntryRejectedError, "no_sms_api"),
        (200, "<html></html>", TargetRejectedError, "unexpected_response"),
        (200, '["Success"]', TargetRejectedError, "unexpected_response"),
        (200, '{"type":"fine"}', TargetRejectedError, "unexpected_response"),
        (400, "Bad Request", TargetRejectedError, "unexpected_response"),
        (302, "", EntryRejectedError, "redirected"),
        (408, "", TransientError, "server_busy"),
        (429, "", TransientError, "server_busy"),
        (500, "<html>boom</html>", TransientError, "server_error"),
        (503, '{"type":"result"}', TransientError, "server_error"),
        (100, "", TransientError, "unexpected_response"),
    ],
)
def test_classification_table(status: int, body: str, error: type | None, key: str | None) -> None:
    """Auth in either form first, then status, then the body's type."""
    rule = classify(status, body)
    assert (rule.error, rule.key) == (error, key)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("192.0.2.10", "https://192.0.2.10/"),
        ("http://192.0.2.10/", "http://192.0.2.10/"),
        ("https://pbx.wildixin.com/api/v1/originate/sms", "https://pbx.wildixin.com/"),
        ("https://pbx.example.com:8443/api/v1/", "https://pbx.example.com:8443/"),
        ("pbx.example.com/wildix/api/v1/personal/info?x=1", "https://pbx.example.com/wildix"),
    ],
)
def test_url_forms(raw: str, expected: str) -> None:
    """An address with or without scheme or API path becomes the base URL."""
    assert str(normalize_url(raw)) == expected


@pytest.mark.parametrize("raw", ["ftp://192.0.2.10", "https://", "http:///api/v1"])
def test_bad_urls(raw: str) -> None:
    """Only http and https with a host are accepted."""
    with pytest.raises(ValueError, match=r".*"):
        normalize_url(raw)


@pytest.mark.parametrize(
    ("url", "unique_id", "title"),
    [
        ("https://192.0.2.10", "wildix:alarm", "Wildix Alarm"),
        ("http://PBX.example.com:80/api/v1", "wildix:alarm", "Wildix Alarm"),
        ("https://192.0.2.10:8443", "wildix:alarm", "Wildix Alarm"),
    ],
)
def test_account_identity(url: str, unique_id: str, title: str) -> None:
    """One account is the sender user, whatever address reaches the PBX: personal/info names no serial [assumed]."""
    auth = WildixAuth.from_config({"username": "Alarm", "password": "x"})
    provider = WildixProvider(None, url=url, auth=auth)  # type: ignore[arg-type]
    assert provider.identity() == AccountInfo(unique_id=unique_id, title=title)


def test_redacted_view_has_no_secret_or_address() -> None:
    """Diagnostics see the scheme, path and send settings only."""
    provider = WildixProvider(
        None,  # type: ignore[arg-type]
        url="https://192.0.2.10",
        auth=WildixAuth.from_config({"username": "101", "password": "p4ss"}),
        gsm="9c7514330001",
        max_length=300,
        lookalike_chars=False,
    )
    view = provider.redacted_view()
    assert "p4ss" not in str(view)
    assert "192.0.2.10" not in str(view)
    assert view == {
        "provider": "wildix",
        "scheme": "https",
        "path": "/api/v1/originate/sms",
        "max_length": 300,
        "lookalike_chars": False,
        "auth": "login",
        "gsm_default": True,
        "timeout": 30.0,
    }


def test_declared_capabilities() -> None:
    """Numbers only; postpone and gsm are the options it uses."""
    assert WildixProvider.key == "wildix"
    assert WildixProvider.target_kinds == frozenset({TargetKind.NUMBER})
    assert WildixProvider.options == frozenset({"postpone", "gsm"})


async def test_warning_listing_a_number_no_target_matches_makes_all_transient(
    wildix: RunningSimulator, session: aiohttp.ClientSession
) -> None:
    """One failed number written as the chunk does not write it: which one it is cannot be told, so none is sent."""
    wildix.sim.warning_numbers = {"+393330000001", "+393330000003"}
    wildix.sim.warning_written = {"+393330000003": "3330000003"}
    receipts = await make(session, wildix.url).async_send(OutboundSms(text="x"), numbers(4))
    assert {r.outcome for r in receipts} == {Outcome.TRANSIENT}
    assert receipts[0].error == 'Unable to add a SMS to the queue (PBX result: ["393330…001", "333000…003"])'


def test_api_key_account_is_the_key_at_any_address() -> None:
    """A Company API key has no user: 16 hex digits of its SHA-256 name the account, never the key itself."""
    auth = WildixAuth.from_config({"api_key": "wsk-v1-abc"})
    first = WildixProvider(None, url="https://192.0.2.10", auth=auth).identity()  # type: ignore[arg-type]
    moved = WildixProvider(None, url="https://pbx.example.com:8443", auth=auth).identity()  # type: ignore[arg-type]
    assert (
        first
        == moved
        == AccountInfo(unique_id="wildix:key:c41e5929cb9edb9d", account="wildix:key", title="Wildix API key")
    )
