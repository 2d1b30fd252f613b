"""The phones page: what the simulators received, by number, newest first, escaped, and live in a browser."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import AsyncGenerator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from simulators.base import ReceivedMessage, Simulator
from simulators.brevisone import BrevisOneSimulator
from simulators.phones import GSM7, UCS2, PhonesPage, sms_count
from simulators.wildix import WildixSimulator

from .conftest import RunningSimulator, send

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=5000",
    "--dump-dom",
]
CHROMIUM_TIMEOUT = 45.0
NO_CHROMIUM = "Chromium is not installed (Debian package chromium): the phones page was not checked in a browser"

CZECH = "Příliš žluťoučký kůň úpěl ďábelské ódy"
INJECTION = '<script>alert(1)</script><img src=x onerror="alert(2)"> & </main>'
T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


class _Dom(HTMLParser):
    """The elements of a page, and the text of its numbers and messages, unescaped."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.numbers: list[str] = []
        self.texts: list[str] = []
        self._into: list[str] | None = None
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        css = dict(attrs).get("class")
        if css == "number":
            self._into = self.numbers
            self.numbers.append("")
        elif css == "text":
            self._into = self.texts
            self.texts.append("")

    def handle_endtag(self, tag: str) -> None:
        self._into = None

    def handle_data(self, data: str) -> None:
        if self._into is not None:
            self._into[-1] += data

    def main(self) -> dict[str, str | None]:
        """The attributes of <main id="phones">."""
        return next(attrs for tag, attrs in self.tags if tag == "main")

    def sms(self) -> list[dict[str, str | None]]:
        """The attributes of every message, in page order."""
        return [attrs for tag, attrs in self.tags if tag == "li"]


async def _serve_app(app: web.Application) -> tuple[web.AppRunner, str]:
    """Serve an application on a free loopback port, as conftest's _serve does for a simulator."""
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


def _receive(sim: Simulator, to: str, text: str, minutes: int, **options: Any) -> None:
    """Record a message as if the simulator had taken it `minutes` after T0."""
    sim.record_message(
        ReceivedMessage(
            provider=sim.name, to=to, text=text, options=options, received_at=T0 + dt.timedelta(minutes=minutes)
        )
    )


@pytest.fixture
def sims() -> list[Simulator]:
    """Two simulators that are not served: the page only reads their message lists."""
    return [BrevisOneSimulator(), WildixSimulator()]


@pytest.fixture
async def phones(socket_enabled: None, sims: list[Simulator]) -> AsyncGenerator[str]:
    """The phones page for those simulators, on loopback."""
    runner, url = await _serve_app(PhonesPage(sims).make_app())
    yield url
    await runner.cleanup()


async def _get(url: str) -> tuple[int, str, str]:
    """GET a URL: status, content type, body."""
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, resp.content_type, await resp.text()


async def _json(url: str) -> Any:
    """GET /messages.json."""
    async with aiohttp.ClientSession() as session, session.get(f"{url}/messages.json") as resp:
        assert resp.status == 200
        return await resp.json()


@pytest.mark.parametrize(
    ("text", "encoding", "units", "parts"),
    [
        ("Grüße", GSM7, 5, 1),
        (CZECH, UCS2, len(CZECH), 1),
        ("x" * 160, GSM7, 160, 1),
        ("x" * 161, GSM7, 161, 2),
        ("x" * 200, GSM7, 200, 2),
        ("€" * 80, GSM7, 160, 1),  # extension characters take two septets
        ("€" * 81, GSM7, 162, 2),
        ("x" * 152 + "€" + "x" * 10, GSM7, 164, 2),
        ("x" * 306 + "y", GSM7, 307, 3),
        ("ř" * 70, UCS2, 70, 1),
        ("ř" * 71, UCS2, 71, 2),
        ("🚨" * 35, UCS2, 70, 1),  # outside the BMP: a surrogate pair each
        ("🚨" * 36, UCS2, 72, 2),
        ("", GSM7, 0, 1),
    ],
)
def test_counter(text: str, encoding: str, units: int, parts: int) -> None:
    """160/153 septets with extension characters counting 2; 70/67 UTF-16 units."""
    assert sms_count(text) == (encoding, units, parts)


async def test_empty(phones: str) -> None:
    """Before any message the page says so and the data is empty."""
    status, content_type, page = await _get(f"{phones}/")
    assert (status, content_type) == (200, "text/html")
    assert "No message yet" in page
    assert await _json(phones) == {"total": 0, "phones": []}


async def test_messages_json_by_number_newest_first(phones: str, sims: list[Simulator]) -> None:
    """Every number once, the one with the newest message first; its messages newest first, across simulators."""
    gateway, wildix = sims
    _receive(gateway, "+491701111111", "Grüße", 1, flash="true")
    _receive(gateway, "+420777222333", CZECH, 2)
    _receive(wildix, "+491701111111", "x" * 200, 3)
    data = await _json(phones)
    assert data["total"] == 3
    assert [phone["number"] for phone in data["phones"]] == ["+491701111111", "+420777222333"]
    first, second = data["phones"]
    assert [(m["provider"], m["encoding"], m["units"], m["parts"]) for m in first["messages"]] == [
        ("wildix", GSM7, 200, 2),
        ("sms_gateway", GSM7, 5, 1),
    ]
    oldest = first["messages"][1]
    assert oldest["text"] == "Grüße"
    assert oldest["options"] == {"flash": "true"}
    assert dt.datetime.fromisoformat(oldest["received_at"]) == T0 + dt.timedelta(minutes=1)
    assert oldest["time"] == (T0 + dt.timedelta(minutes=1)).astimezone().strftime("%H:%M:%S")
    assert [(m["text"], m["encoding"], m["parts"]) for m in second["messages"]] == [(CZECH, UCS2, 1)]


async def test_a_number_given_as_00_is_the_same_phone_as_its_plus_form(phones: str, sims: list[Simulator]) -> None:
    """The SMS Gateway is given 0049…, IPEX +49…: one phone, the address as given shown with its message."""
    gateway, wildix = sims
    _receive(gateway, "00491701111111", "through the gateway", 1)
    _receive(wildix, "+491701111111", "through the PBX", 2)
    _receive(wildix, "0049x", "not a number", 3)
    data = await _json(phones)
    assert [phone["number"] for phone in data["phones"]] == ["0049x", "+491701111111"]
    assert [(m["text"], m["options"]) for m in data["phones"][1]["messages"]] == [
        ("through the PBX", {}),
        ("through the gateway", {"to": "00491701111111"}),
    ]


async def test_same_time_keeps_arrival_order(phones: str, sims: list[Simulator]) -> None:
    """Messages with one timestamp still come newest (last received) first."""
    for number in range(3):
        _receive(sims[0], "+491701111111", f"message {number}", 0)
    data = await _json(phones)
    assert [m["text"] for m in data["phones"][0]["messages"]] == ["message 2", "message 1", "message 0"]


async def test_html_shows_numbers_encodings_and_parts_newest_first(phones: str, sims: list[Simulator]) -> None:
    """The served page has the messages in it already, with encoding, size, parts and time."""
    gateway, wildix = sims
    _receive(gateway, "+491701111111", "Grüße", 1)
    _receive(gateway, "+420777222333", CZECH, 2)
    _receive(wildix, "+491701111111", "x" * 200, 3)
    _, _, page = await _get(f"{phones}/")
    dom = _Dom(page)
    assert dom.main()["data-source"] == "server"
    assert dom.numbers == ["+491701111111", "+420777222333"]
    assert dom.texts == ["x" * 200, "Grüße", CZECH]
    assert [(li["data-encoding"], li["data-parts"]) for li in dom.sms()] == [(GSM7, "2"), (GSM7, "1"), (UCS2, "1")]
    assert "wildix · GSM-7 · 200 septets · 2 parts" in page
    assert f"sms_gateway · UCS-2 · {len(CZECH)} UTF-16 units · 1 part<" in page
    assert (T0 + dt.timedelta(minutes=3)).astimezone().strftime("%H:%M:%S") in page


async def test_html_escapes_message_text_number_and_options(phones: str, sims: list[Simulator]) -> None:
    """HTML in an SMS (or in a number or option) is shown as text and adds no element to the page."""
    _receive(sims[0], '+49"><b>1', INJECTION, 0, sender="<i>NAS</i>")
    _, _, page = await _get(f"{phones}/")
    dom = _Dom(page)
    assert dom.texts == [INJECTION]
    assert dom.numbers == ['+49"><b>1']
    tags = [tag for tag, _ in dom.tags]
    assert tags.count("script") == 1  # the page's own
    assert tags.count("main") == 1
    assert not {"img", "b", "i"} & set(tags)
    assert "sender=&lt;i&gt;NAS&lt;/i&gt;" in page
    data = await _json(phones)
    assert data["phones"][0]["messages"][0]["text"] == INJECTION


async def test_page_is_self_contained(phones: str) -> None:
    """No external asset: no src or href anywhere, style and script inline; it polls messages.json."""
    _, _, page = await _get(f"{phones}/")
    dom = _Dom(page)
    assert not [attrs for _, attrs in dom.tags if "src" in attrs or "href" in attrs]
    assert 'fetch("messages.json"' in page
    assert "REFRESH_MS = 2000" in page


@pytest.mark.skipif(not CHROMIUM.exists(), reason=NO_CHROMIUM)
async def test_message_from_home_assistant_appears_live_in_chromium(
    hass: HomeAssistant, loaded_gateway: MockConfigEntry, gateway: RunningSimulator, tmp_path: Path
) -> None:
    """A message sent through Home Assistant after Chromium got the page is rendered there by the page's script."""
    text = "Pump 3 <b>failed</b> & alarm"
    served: list[str] = []

    @web.middleware
    async def send_after_serving(request: web.Request, handler: Any) -> web.StreamResponse:
        """Render the page first, then send through Home Assistant: only the page's polling can show it."""
        response = await handler(request)
        if request.path == "/" and not served:
            assert isinstance(response, web.Response)
            assert response.text is not None
            served.append(response.text)
            await send(hass, loaded_gateway, message=text)
        return response

    app = PhonesPage([gateway.sim]).make_app()
    app.middlewares.append(send_after_serving)
    runner, url = await _serve_app(app)
    try:
        proc = await asyncio.create_subprocess_exec(
            str(CHROMIUM),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'chromium'}",
            f"{url}/",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "HOME": str(tmp_path)},
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), CHROMIUM_TIMEOUT)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            pytest.fail(f"Chromium did not finish within {CHROMIUM_TIMEOUT:.0f} s")
    finally:
        await runner.cleanup()

    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    assert [(m.to, m.text) for m in gateway.sim.messages] == [("00491701234567", text)]
    assert len(served) == 1
    assert "No message yet" in served[0]
    assert "Pump 3" not in served[0]
    dom = _Dom(out.decode())
    assert dom.main()["data-source"] == "live", out.decode()[-2000:]
    assert dom.numbers == ["+491701234567"]
    assert dom.texts == [text]
    assert not {"b", "img"} & {tag for tag, _ in dom.tags}
    assert [(li["data-encoding"], li["data-parts"]) for li in dom.sms()] == [(GSM7, "1")]
    assert "sms_gateway · GSM-7 · 28 septets · 1 part · to=00491701234567" in out.decode()
