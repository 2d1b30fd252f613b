"""Real senders post to a source's webhook over loopback; the SMS arrive at the SMS Gateway simulator.

The senders: Uptime Kuma's own webhook notification code (from its npm package) and the Prometheus Alertmanager
binary (Debian); scripts/senders installs both (scripts/setup and scripts/test call it), and where one is missing
its tests skip with the reason. Each sender is configured with the setup text the integration shows for its kind
(alerts/setup.py). These run on the host's oldest environment; inside the Debian testing root there is no node
and no Alertmanager, so they skip there.

Facts from the senders (each with its source):
- KUMA-PKG: the npm package uptime-kuma 2.0.0-dev.0 (sha1 2811ddbc7a3c800747d0f38062b020e7cb05d16e; its
  repository louislam/uptime-kuma), server/notification-providers/webhook.js: `send(notification, msg,
  monitorJSON, heartbeatJSON)` posts {heartbeat, monitor, msg} with axios (0.27, its package.json's range) to
  `notification.webhookURL`; `webhookContentType` "json" (src/components/notifications/Webhook.vue: the
  application/json preset) sends that object as JSON; `webhookAdditionalHeaders` is a JSON object merged into the
  request's headers; a non-2xx answer throws "Error: ..." (notification-provider.js, throwGeneralAxiosError).
- KUMA-MONITOR: the same package, server/model/monitor.js `sendNotification`: msg is `[<name>] [🔴 Down] <beat
  msg>` or `[<name>] [✅ Up] <beat msg>`, heartbeatJSON is the beat's toJSON() (server/model/heartbeat.js:
  monitorID, status, time, msg, ping, important, duration) plus timezone, timezoneOffset, localDateTime; the
  monitor and beats used here are those of tests/fixtures/alerts/uptime_kuma_{down,up}.json (their source is named
  in test_alert_sources_parse.py).
- AM-DEB: Debian 12's prometheus-alertmanager 0.25.0 (/usr/bin/prometheus-alertmanager). Its API v2 takes
  `POST /api/v2/alerts` with a list of {labels, annotations, startsAt, endsAt, generatorURL}; startsAt and endsAt
  are optional, endsAt set when the end is known (prometheus.io/docs/alerting/latest/clients/); one whose endsAt
  has passed is resolved, as Prometheus re-sends a resolved alert with a past endsAt (prometheus/prometheus
  discussion 9458; seen with 0.25.0 here). The route's group_wait and group_interval set when a group is flushed to
  the receiver (prometheus.io/docs/alerting/latest/configuration/#route); `--cluster.listen-address=` (empty) turns
  off the cluster port (alertmanager --help); `/-/ready` answers 200 once it serves.
- GRAFANA: no registry this project uses has a runnable Grafana (Debian 12 main has none; the `grafana` names on
  PyPI and npm are clients and libraries, and Grafana itself is AGPL-3.0), so Grafana stays with its documented
  payloads in test_alert_sources.py and test_alert_sources_parse.py (GRAFANA-DOC there).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import os
import shutil
import socket
from collections.abc import AsyncGenerator, Awaitable, Callable
from pathlib import Path
from typing import Any, BinaryIO

import aiohttp
import pytest
import yaml
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.sms_alerts.alerts.setup import setup_text

from .conftest import RECIPIENT, RunningSimulator, shown_state
from .test_alert_sources import HOOK, TOKEN, entry_with, load, setup, source_subentry, texts

SENDERS = Path(__file__).parent / "senders"
CACHE = Path(
    os.environ.get("SMS_ALERTS_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sms-alerts"
)
KUMA_VERSION = json.loads((SENDERS / "package.json").read_text())["uptimeKuma"]["version"]
# A sender's whole round trip, past which the test fails rather than waits for pytest's timeout
DEADLINE = 20


def kuma_folder() -> Path:
    """The Uptime Kuma package scripts/senders installs (the same hash of tests/senders' two files)."""
    spec = (SENDERS / "package.json").read_bytes() + (SENDERS / "package-lock.json").read_bytes()
    return CACHE / "senders" / f"uptime-kuma-{hashlib.sha256(spec).hexdigest()[:12]}"


@pytest.fixture
def kuma() -> Path:
    """Uptime Kuma's package folder, or a skip naming what is missing."""
    if shutil.which("node") is None:
        pytest.skip("no node here: Uptime Kuma's webhook notification cannot run")
    folder = kuma_folder()
    if not (folder / ".ready").is_file():
        pytest.skip(f"Uptime Kuma {KUMA_VERSION} is not installed in {folder}: run scripts/senders")
    return folder / "uptime-kuma"


async def webhook_url(hass_client_no_auth: ClientSessionGenerator) -> str:
    """The source's webhook on Home Assistant's test server, a real loopback port other processes can reach."""
    client = await hass_client_no_auth()
    return str(client.make_url(f"/api/webhook/{HOOK}"))


def setup_block(kind: str, url: str, fence: str) -> str:
    """The first fenced block of a kind's setup text, as the user copies it."""
    text = setup_text(kind, url, TOKEN)
    return text.split(f"```{fence}\n", 1)[1].split("\n```", 1)[0]


async def kuma_send(package: Path, notification: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Run Uptime Kuma's Webhook.send under node for one heartbeat (tests/senders/uptime_kuma_send.js)."""
    call = {
        "notification": notification,
        "msg": body["msg"],
        "monitor": body["monitor"],
        "heartbeat": body["heartbeat"],
    }
    process = await asyncio.create_subprocess_exec(
        "node",
        str(SENDERS / "uptime_kuma_send.js"),
        str(package),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(DEADLINE):
        out, err = await process.communicate(json.dumps(call).encode())
    assert out, f"node printed nothing: {err.decode(errors='replace')}"
    answer: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return answer


async def until_sent(gateway: RunningSimulator, count: int, what: str) -> None:
    """Wait in real time (another process is sending) until the simulator has `count` messages."""
    try:
        async with asyncio.timeout(DEADLINE):
            while len(gateway.sim.messages) < count:  # noqa: ASYNC110 - another process sends: nothing to await
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"never happened: {what}; sent: {texts(gateway)}") from None


async def test_uptime_kuma_webhook_notification_down_then_up(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    kuma: Path,
) -> None:
    """Uptime Kuma's own send(), configured as our setup text says, pages on DOWN and sends RESOLVED on UP."""
    await setup(hass, entry_with(gateway, source_subentry(kind="uptime_kuma")))
    url = await webhook_url(hass_client_no_auth)
    headers = setup_block("uptime_kuma", url, "json")
    assert json.loads(headers) == {"Authorization": f"Bearer {TOKEN}"}
    # KUMA-PKG: the notification's fields as its form stores them (the application/json preset)
    notification = {
        "name": "SMS Alerts",
        "type": "webhook",
        "webhookURL": url,
        "webhookContentType": "json",
        "webhookAdditionalHeaders": headers,
    }
    down, up = load("uptime_kuma_down"), load("uptime_kuma_up")
    assert await kuma_send(kuma, notification, down) == {
        "ok": True,
        "answer": "Sent Successfully.",
        "provider": "webhook",
    }
    await until_sent(gateway, 1, "the SMS for DOWN")
    assert texts(gateway)[0][0].endswith(RECIPIENT.removeprefix("+"))
    assert texts(gateway)[0][1].startswith("FIRING")
    assert "Test" in texts(gateway)[0][1]
    assert (await kuma_send(kuma, notification, up))["ok"] is True
    await until_sent(gateway, 2, "the RESOLVED for UP")
    assert texts(gateway)[1][0] == texts(gateway)[0][0]
    assert texts(gateway)[1][1].startswith("RESOLVED")
    assert "Test" in texts(gateway)[1][1]


async def test_uptime_kuma_without_the_header_is_refused(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    kuma: Path,
) -> None:
    """Without the Additional Headers, Uptime Kuma's send() fails on our 401 (its error names it), and no SMS."""
    await setup(hass, entry_with(gateway, source_subentry(kind="uptime_kuma")))
    notification = {"webhookURL": await webhook_url(hass_client_no_auth), "webhookContentType": "json"}
    answer = await kuma_send(kuma, notification, load("uptime_kuma_down"))
    assert answer["ok"] is False
    assert "status code 401" in answer["error"]
    assert gateway.sim.messages == []


def alertmanager_binary() -> str | None:
    """Debian's prometheus-alertmanager, or an alertmanager on the PATH."""
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


StartAlertmanager = Callable[[str], Awaitable[str]]


@pytest.fixture
async def alertmanager(socket_enabled: None, tmp_path: Path) -> AsyncGenerator[StartAlertmanager]:
    """Start the real Alertmanager with our setup text's receiver for a webhook address; yields its base URL."""
    binary = alertmanager_binary()
    if binary is None:
        pytest.skip("no prometheus-alertmanager here: run scripts/senders (apt-get as root)")
    processes: list[asyncio.subprocess.Process] = []
    logs: list[BinaryIO] = []

    async def start(url: str) -> str:
        config = yaml.safe_load(setup_block("alertmanager", url, "yaml"))
        # AM-DEB: flush a new group after 1 s and a changed one (the resolution) 1 s after the last flush
        config["route"].update(group_by=["alertname"], group_wait="1s", group_interval="1s", repeat_interval="1h")
        (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
        base = f"http://127.0.0.1:{free_port()}"
        log = (tmp_path / "alertmanager.log").open("wb")
        logs.append(log)
        process = await asyncio.create_subprocess_exec(
            binary,
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address={base.removeprefix('http://')}",
            "--cluster.listen-address=",
            "--log.level=warn",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log,
        )
        processes.append(process)
        async with aiohttp.ClientSession() as session, asyncio.timeout(DEADLINE):
            while True:
                try:
                    async with session.get(f"{base}/-/ready") as response:
                        if response.status == 200:
                            return base
                except aiohttp.ClientConnectionError:
                    pass
                if process.returncode is not None:
                    raise AssertionError(f"Alertmanager exited: {(tmp_path / 'alertmanager.log').read_text()}")
                await asyncio.sleep(0.05)

    yield start
    for process in processes:
        if process.returncode is None:
            process.terminate()
            await process.wait()
    for log in logs:
        log.close()


async def post_alerts(base: str, alerts: list[dict[str, Any]]) -> None:
    """Post alerts to Alertmanager's API v2, as Prometheus does."""
    async with aiohttp.ClientSession() as session, session.post(f"{base}/api/v2/alerts", json=alerts) as response:
        assert response.status == 200, await response.text()


def am_alert(name: str, instance: str, ends_at: dt.datetime | None = None) -> dict[str, Any]:
    """An alert as Prometheus posts it (AM-DEB), ended at `ends_at` if given."""
    alert: dict[str, Any] = {
        "labels": {"alertname": name, "severity": "critical", "instance": instance},
        "annotations": {"summary": f"{instance}: / at 97%"},
        "startsAt": (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat(),
        "generatorURL": "http://prometheus.example/graph",
    }
    if ends_at is not None:
        alert["endsAt"] = ends_at.isoformat()
    return alert


async def test_alertmanager_fires_and_resolves_through_the_webhook(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    gateway: RunningSimulator,
    alertmanager: StartAlertmanager,
) -> None:
    """Alertmanager, its receiver copied from our setup text, delivers a firing alert and then its resolution."""
    entry: MockConfigEntry = entry_with(gateway, source_subentry())
    await setup(hass, entry)
    base = await alertmanager(await webhook_url(hass_client_no_auth))
    await post_alerts(base, [am_alert("DiskFull", "db1")])
    await until_sent(gateway, 1, "the firing SMS")
    assert texts(gateway)[0][0].endswith(RECIPIENT.removeprefix("+"))
    assert texts(gateway)[0][1].startswith("FIRING critical DiskFull")
    await post_alerts(base, [am_alert("DiskFull", "db1", ends_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))])
    await until_sent(gateway, 2, "the RESOLVED")
    assert texts(gateway)[1][0] == texts(gateway)[0][0]
    assert texts(gateway)[1][1].startswith("RESOLVED")
    assert "DiskFull" in texts(gateway)[1][1]
    state = await shown_state(hass, "sensor.prometheus_open_alerts")
    assert state is not None
    assert state.state == "0"
