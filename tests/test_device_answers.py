"""Answers no device should send, which a proxy, a broken firmware or a hostile host may: read, never a traceback.

Python's JSON parser raises RecursionError for a body nested deeper than its stack, float() OverflowError for
an integer of hundreds of digits, and aiohttp LookupError for a charset that names no text codec. Each is an
answer the client cannot read (as an HTML page is): a typed error of the provider, or the send that went, and
no ERROR line. On IPEX, a send the API took (HTTP 200) is sent whatever its id looks like: taken for a failure,
it would be sent again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from custom_components.sms_alerts.api.answers import ascii_digits, finite_number, parse_json, raw_decode
from custom_components.sms_alerts.api.base import OutboundSms, Outcome, Target, TargetKind
from custom_components.sms_alerts.api.ipex import IpexProvider
from custom_components.sms_alerts.api.pbxware import PbxwareProvider, parse_payload
from simulators.base import Simulator

from .conftest import _serve
from .test_wildix import CannedPbx, make

NUMBER = Target(kind=TargetKind.NUMBER, value="+420777123456")
DEEP = "[" * 100_000 + "]" * 100_000
IPEX_CHAT = {"api_token": "tok-EN_123", "sender": "+420777000111"}


@pytest.fixture
async def answering(socket_enabled: None) -> AsyncGenerator[Callable[..., Any]]:
    """Serve one answer to every request on loopback; each start returns its URL."""
    runners: list[web.AppRunner] = []

    async def start(status: int, body: str) -> str:
        runner, url = await _serve(CannedPbx(status, body))
        runners.append(runner)
        return url

    yield start
    for runner in runners:
        await runner.cleanup()


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The integration's ERROR lines."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("custom_components.sms_alerts") and record.levelno >= logging.ERROR
    ]


def test_the_readers_refuse_what_they_cannot_read_with_a_value_error() -> None:
    """Too deep is a ValueError as any other unreadable JSON; numbers past float's range are no number."""
    with pytest.raises(ValueError, match="nested too deep"):
        parse_json(DEEP)
    with pytest.raises(ValueError, match="nested too deep"):
        raw_decode(json.JSONDecoder(), "x " + DEEP, 2)
    assert parse_json('{"id": 7}') == {"id": 7}
    assert raw_decode(json.JSONDecoder(), 'PHP Notice {"a": 1} tail', 11) == {"a": 1}
    assert finite_number(10**400) is None
    assert finite_number(float("nan")) is None
    assert finite_number(True) is None
    assert finite_number("5") is None
    assert finite_number(5) == 5.0
    assert ascii_digits("123")
    assert not ascii_digits("²")
    assert not ascii_digits("")


@pytest.mark.parametrize("body", [DEEP, '{"type": "error", "reason": ' + DEEP + "}"])
async def test_wildix_answer_nested_past_the_parsers_stack(
    answering: Callable[..., Any], session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture, body: str
) -> None:
    """A Wildix answer nested too deep is an answer it cannot read: a typed error, no traceback."""
    url = await answering(200, body)
    [receipt] = await make(session, url).async_send(OutboundSms(text="x"), [NUMBER])
    assert receipt.outcome is not Outcome.SENT
    assert receipt.error_key != "unexpected_error", receipt
    assert not errors(caplog)


async def test_pbxware_answer_nested_past_the_parsers_stack(
    answering: Callable[..., Any], session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """PBXware's reader (which also looks past PHP notices for the JSON) reads no answer there."""
    assert parse_payload(f"PHP Notice: x in y on line 1 {DEEP}") is None
    url = await answering(200, DEEP)
    provider = PbxwareProvider.from_config(session, {"url": url, "api_key": "s3cret-token-for-tests", "server": "1"})
    [receipt] = await provider.async_send(OutboundSms(text="x"), [NUMBER])
    assert receipt.error_key != "unexpected_error", receipt
    assert not errors(caplog)


async def test_ipex_a_send_taken_with_an_id_nested_too_deep_is_sent_once(
    answering: Callable[..., Any], session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    """HTTP 200 from SMS Chat: the SMS went. An id it cannot read leaves the id out; sent, not tried again."""
    url = await answering(200, '{"id": ' + DEEP + "}")
    provider = IpexProvider.from_config(session, {"url": url, **IPEX_CHAT}, timeout=5)
    [receipt] = await provider.async_send(OutboundSms(text="x"), [NUMBER])
    assert (receipt.outcome, receipt.message_id) == (Outcome.SENT, None)
    assert not errors(caplog)


@pytest.mark.parametrize("lifetime", ["9" * 400, "1e999", '"3600"'])
async def test_ipex_a_token_lifetime_it_cannot_read_is_the_default(
    answering: Callable[..., Any], session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture, lifetime: str
) -> None:
    """A login answer whose expires_in is past float's range (or not a number): the token is used, its life unknown."""
    url = await answering(200, '{"access_token": "a", "expires_in": ' + lifetime + ', "id": "m1"}')
    config = {"url": url, "auth_url": f"{url}/token", "username": "u", "password": "p", "sender": "+420777000111"}
    provider = IpexProvider.from_config(session, config, timeout=5)
    [receipt] = await provider.async_send(OutboundSms(text="x"), [NUMBER])
    assert receipt.outcome is Outcome.SENT, receipt
    assert not errors(caplog)


class BytesCharset(Simulator):
    """Answers every request 200 with a body whose charset is a codec of bytes, not of text."""

    name = "charset"

    def __init__(self, charset: str) -> None:
        """Keep the charset to name."""
        super().__init__()
        self.charset = charset

    def routes(self) -> list[web.RouteDef]:
        """Answer every path."""

        async def answer(_request: web.Request) -> web.Response:
            return web.Response(body=b"OK", headers={"Content-Type": f"text/plain; charset={self.charset}"})

        return [web.route("*", "/{tail:.*}", answer)]


@pytest.mark.parametrize("charset", ["base64", "zlib", "no-such-codec"])
async def test_an_answer_in_a_charset_that_is_no_text_codec_is_read_as_utf8(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture, socket_enabled: None, charset: str
) -> None:
    """`charset=base64` names a codec Python has, but not one for text: the body is read as UTF-8, no traceback."""
    runner, url = await _serve(BytesCharset(charset))
    try:
        provider = PbxwareProvider.from_config(
            session, {"url": url, "api_key": "s3cret-token-for-tests", "server": "1"}
        )
        [receipt] = await provider.async_send(OutboundSms(text="x"), [NUMBER])
    finally:
        await runner.cleanup()
    assert receipt.error_key != "unexpected_error", receipt
    assert not errors(caplog)
