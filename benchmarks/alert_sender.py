"""Post a storm of alert bodies to a webhook at a steady pace, as monitoring systems would; print answer times.

Run as `python -m benchmarks.alert_sender AM_URL AM_TOKEN GRAFANA_URL GRAFANA_TOKEN COUNT SECONDS FINGERPRINTS`
(an Alertmanager source and a Grafana source); prints one JSON line:
{"statuses": {...}, "latencies": [...]} (seconds per request, in the order sent).
Every fingerprint fires three times (the first opens it, the repeats are counted) and then resolves, over and
over; even fingerprints come in Alertmanager's shape (webhook version 4), odd ones in Grafana's.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from typing import Any

import aiohttp

BASE = "2026-12-07T03:00:00Z"
IN_FLIGHT = 16
RETRIES = 2


def body(number: int, fingerprints: int) -> dict[str, Any]:
    """Return the body of the number-th post."""
    fingerprint = number % fingerprints
    cycle = number // fingerprints
    episode, step = divmod(cycle, 4)
    status = "resolved" if step == 3 else "firing"
    starts = f"2026-12-07T03:{episode % 60:02d}:{fingerprint % 60:02d}Z"
    ends = (
        f"2026-12-07T04:{episode % 60:02d}:{fingerprint % 60:02d}Z" if status == "resolved" else "0001-01-01T00:00:00Z"
    )
    alert = {
        "status": status,
        "labels": {
            "alertname": f"DiskFull{fingerprint}",
            "instance": f"db{fingerprint}",
            "severity": "critical" if fingerprint % 10 == 0 else "warning",
        },
        "annotations": {"summary": f"/ at {90 + fingerprint % 10}% on db{fingerprint}"},
        "startsAt": starts,
        "endsAt": ends,
        "generatorURL": "http://prometheus.local/graph",
        "fingerprint": f"{fingerprint:016x}",
    }
    common = {
        "receiver": "sms",
        "status": status,
        "groupLabels": {"alertname": alert["labels"]["alertname"]},
        "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager.local",
        "groupKey": f'{{}}:{{alertname="{alert["labels"]["alertname"]}"}}',
    }
    if fingerprint % 2 == 0:
        return {"version": "4", "truncatedAlerts": 0, "alerts": [alert], **common}
    grafana_alert = {
        **alert,
        "values": {"A": 90 + fingerprint % 10},
        "valueString": f"[ var='A' value={90 + fingerprint % 10} ]",
    }
    return {
        "version": "1",
        "orgId": 1,
        "state": "alerting" if status == "firing" else "ok",
        "title": f"[{status.upper()}:1] {alert['labels']['alertname']}",
        "message": alert["annotations"]["summary"],
        "truncatedAlerts": 0,
        "alerts": [grafana_alert],
        **common,
    }


async def main(sources: list[tuple[str, str]], count: int, seconds: float, fingerprints: int) -> None:
    """Post `count` bodies evenly over `seconds`, at most IN_FLIGHT at once; print the answers."""
    latencies: list[float] = [0.0] * count
    statuses: Counter[int] = Counter()
    retried = [0]
    gate = asyncio.Semaphore(IN_FLIGHT)
    payloads = [json.dumps(body(number, fingerprints)).encode() for number in range(count)]
    async with aiohttp.ClientSession() as session:

        async def post(number: int) -> None:
            url, token = sources[number % fingerprints % 2]
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            async with gate:
                start = time.perf_counter()
                for attempt in range(RETRIES + 1):
                    try:
                        async with session.post(url, data=payloads[number], headers=headers) as response:
                            await response.read()
                            statuses[response.status] += 1
                        break
                    except aiohttp.ServerDisconnectedError:
                        # A kept-alive connection the server closed as it was reused: senders post again
                        if attempt == RETRIES:
                            raise
                        retried[0] += 1
                latencies[number] = time.perf_counter() - start

        started = time.perf_counter()
        tasks = []
        for number in range(count):
            delay = started + number * seconds / count - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(post(number)))
        await asyncio.gather(*tasks)
    took = time.perf_counter() - started
    print(json.dumps({"statuses": statuses, "latencies": latencies, "took": took, "retried": retried[0]}))


if __name__ == "__main__":
    am_url, am_token, grafana_url, grafana_token, count, seconds, fingerprints = sys.argv[1:8]
    asyncio.run(main([(am_url, am_token), (grafana_url, grafana_token)], int(count), float(seconds), int(fingerprints)))
