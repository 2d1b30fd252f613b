"""A storm at the alert source webhooks: 10,000 alerts within 60 s across 50 fingerprints, with resolutions.

An Alertmanager source and a Grafana source of one SMS Gateway entry (the simulator in a process of its
own, storm control at its defaults) take the bodies that `benchmarks/alert_sender.py` posts from another
process, as the monitoring systems would: every fingerprint fires three times, then resolves, over and over.
Measured: the answer times, how long Home Assistant's event loop is blocked at a time, the SMS the device got
(within the rate limit, with summaries), memory, and that every transition was acted on and nothing failed.
"""

# ruff: noqa: SLF001 - reads the outbox's queue to wait for it

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import resource
import statistics
import sys
from collections import Counter

import pytest
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from benchmarks import sized
from benchmarks.alert_sender import body
from benchmarks.conftest import REPO, RemoteSimulator
from benchmarks.test_loop_benchmark import LoopMonitor
from benchmarks.test_send_benchmark import _production_loop, _setup_entry
from custom_components.sms_alerts import storm
from custom_components.sms_alerts.const import DOMAIN
from tests.conftest import RunningSimulator, gateway_entry_for

# The smoke run: two episodes (firing, two repeats, resolved) of 12 fingerprints, critical ones (0, 10) among them,
# in both shapes, posted no faster than the full storm posts one fingerprint's bodies
ALERTS = sized(10_000, 96)
SECONDS = sized(60.0, 3.0)
FINGERPRINTS = sized(50, 12)
NUMBERS = ("+491701000001", "+491701000002")
DRAIN_TIMEOUT = 180.0
RATE_LIMIT = 10
# The rate limit's window: the smoke run shortens it, still longer than its storm, so that alerts are held past the
# storm and go out as summaries within seconds
RATE_WINDOW = sized(storm.RATE_WINDOW, 5.0)


def _source(kind: str, hook: str, token: str) -> dict[str, object]:
    """Return an alert source subentry to every recipient."""
    return {
        "data": {
            "kind": kind,
            "recipients": [],
            "send_resolved": True,
            "local_only": True,
            "routes": [],
            "webhook_id": hook,
            "token": token,
        },
        "subentry_type": "alert_source",
        "title": kind,
        "unique_id": hook,
        "subentry_id": f"src-{kind}",
    }


def _entry(url: str) -> MockConfigEntry:
    """Return the SMS Gateway entry with two recipients and the two sources."""
    base = gateway_entry_for(RunningSimulator(sim=None, url=url))
    recipients = [
        {"data": {"target": number}, "subentry_type": "recipient", "title": f"On call {n}", "unique_id": number}
        for n, number in enumerate(NUMBERS)
    ]
    return MockConfigEntry(
        domain=DOMAIN,
        title=base.title,
        unique_id=base.unique_id,
        data=dict(base.data),
        options={**base.options, "rate_limit": RATE_LIMIT},
        subentries_data=[
            *recipients,
            _source("alertmanager", "storm-am", "am-token"),
            _source("grafana", "storm-grafana", "grafana-token"),
        ],
    )


def _expected() -> Counter[str]:
    """Count the transitions the bodies make: a fingerprint opens on its first firing, closes on its resolution."""
    expected: Counter[str] = Counter()
    for number in range(ALERTS):
        status = body(number, FINGERPRINTS)["status"]
        cycle = number // FINGERPRINTS
        if status == "resolved":
            expected["resolved"] += 1
        elif cycle % 4 == 0:
            expected["firing"] += 1
    return expected


def _about_a_critical_alert(text: str) -> bool:
    """Tell whether an SMS names an alert of a critical fingerprint (every tenth: DiskFull0, DiskFull10, ...)."""
    return any(int(number) % 10 == 0 for number in re.findall(r"DiskFull(\d+)", text))


def _most_in_a_minute(times: list[dt.datetime]) -> int:
    """Return the most SMS one number got within any 60 seconds."""
    times = sorted(times)
    most = start = 0
    for end, when in enumerate(times):
        while when - times[start] >= dt.timedelta(seconds=60):
            start += 1
        most = max(most, end - start + 1)
    return most


@pytest.mark.timeout(SECONDS + DRAIN_TIMEOUT + 60)
async def test_alert_storm_at_the_webhooks(
    hass: HomeAssistant,
    remote_sims: dict[str, RemoteSimulator],
    hass_client_no_auth: ClientSessionGenerator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """10,000 alerts in 60 s at two sources: every post answered 200, every transition acted on, no SMS lost."""
    monkeypatch.setattr(storm, "RATE_WINDOW", RATE_WINDOW)
    gateway = remote_sims["sms_gateway"]
    entry = _entry(gateway.url)
    await _setup_entry(hass, entry)
    client = await hass_client_no_auth()
    events = async_capture_events(hass, "sms_alerts_alert")
    failed = async_capture_events(hass, "sms_alerts_failed")
    # As in production: no access log line per request
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    monitor = LoopMonitor()
    with _production_loop(), monitor.installed():
        monitor.start("storm: 10,000 alerts posted within 60 s")
        sender = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.alert_sender",
            str(client.make_url("/api/webhook/storm-am")),
            "am-token",
            str(client.make_url("/api/webhook/storm-grafana")),
            "grafana-token",
            str(ALERTS),
            str(SECONDS),
            str(FINGERPRINTS),
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE,
        )
        output, _ = await sender.communicate()
        monitor.start("after the storm: held alerts and summaries drain")
        outbox = entry.runtime_data.outbox
        async with asyncio.timeout(DRAIN_TIMEOUT):
            while outbox._queue.items:  # noqa: ASYNC110 - the outbox drains in tasks of its own
                await asyncio.sleep(0.5)
        await hass.async_block_till_done(wait_background_tasks=True)
        monitor.start(None)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = json.loads(output)
    latencies = sorted(result["latencies"])
    p50 = statistics.median(latencies) * 1e3
    p99 = statistics.quantiles(latencies, n=100)[-1] * 1e3
    transitions = Counter(event.data["status"] for event in events)
    messages = await gateway.messages()
    per_number = {
        number: [dt.datetime.fromisoformat(m["received_at"]) for m in messages if m["to"].endswith(number[3:])]
        for number in NUMBERS
    }
    calm = {
        number: [
            dt.datetime.fromisoformat(m["received_at"])
            for m in messages
            if m["to"].endswith(number[3:]) and not _about_a_critical_alert(m["text"])
        ]
        for number in NUMBERS
    }
    summaries = sum(1 for m in messages if " alerts: " in m["text"])
    expected = _expected()
    firing_text = f"{transitions['firing']:,} / {transitions['resolved']:,}"
    loop_rows = [
        (
            f"event loop, {row[0]}: callbacks, p99, longest (without garbage collection), longest collection",
            f"{row[1]}, {row[2]} ms, {row[3]} ms: {row[4]} ({row[5]} ms: {row[6]}), {row[7]} ms",
        )
        for row in monitor.rows()
    ]
    pauses = [pause for phase in monitor.phases.values() for pause in phase.gc_pauses]
    rows = [
        ("posts answered", ", ".join(f"{count:,} x {status}" for status, count in sorted(result["statuses"].items()))),
        (
            "posting took (posts sent again after a dropped keep-alive connection)",
            f"{result['took']:.1f} s ({result['retried']})",
        ),
        ("answer time p50 / p99 / max", f"{p50:.1f} / {p99:.1f} / {latencies[-1] * 1e3:.1f} ms (target p99 ≤ 50 ms)"),
        *loop_rows,
        ("garbage collections: how many, of them over 20 ms", f"{len(pauses):,}, {sum(p > 0.02 for p in pauses)}"),
        (
            "transitions firing / resolved (expected)",
            f"{firing_text} ({expected['firing']:,} / {expected['resolved']:,})",
        ),
        ("SMS at the device (of them summaries)", f"{len(messages):,} ({summaries:,})"),
        (
            "most SMS to one number within 60 s: all / about alerts not critical",
            (
                f"{max(map(_most_in_a_minute, per_number.values()))} / {max(map(_most_in_a_minute, calm.values()))} "
                f"(rate limit {RATE_LIMIT} a minute; critical alerts pass it, their resolutions do not)"
            ),
        ),
        ("sms_alerts_failed events", str(len(failed))),
        ("peak memory of the process, before → after", f"{rss_before / 1024:.0f} → {rss_after / 1024:.0f} MB"),
        ("open alerts kept at the end", str(len(entry.runtime_data.alert_sources.book.open))),
    ]
    print("\n| alert storm at the webhooks | result |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    assert result["statuses"] == {"200": ALERTS}
    assert transitions["firing"] == _expected()["firing"]
    assert transitions["resolved"] == _expected()["resolved"]
    assert failed == []
    assert not outbox._queue.items
