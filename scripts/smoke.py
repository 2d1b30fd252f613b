"""Smoke check of a running Home Assistant: one entry per simulator through the config flow, one SMS each.

Usage: python scripts/smoke.py BASE_URL HASS_PID CONFIG_DIR SIM_PORT_BASE
(the simulators listen on SIM_PORT_BASE+1 .. +5, as `python -m simulators` with those ports; the modem's
serial port is served over TCP on SIM_PORT_BASE+6, which Home Assistant opens as socket://127.0.0.1:port,
since a Home Assistant in a chroot cannot open the host's pseudo-terminals).
Exits 0 when every simulator received its SMS, 1 otherwise, saying which step failed. The modem is
left out, with a line saying so, where its simulator does not run (no pseudo-terminal on the host).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import aiohttp
import onboard

PROVIDERS = ("sms_gateway", "wildix", "pbxware", "ipex", "modem")
MODEM_TCP_OFFSET = 6
# States of an entry on its way to loaded (the last subentry added reloads it)
TRANSITIONAL = {"setup_in_progress", "unload_in_progress", "not_loaded"}
SETTLE_TIME = 20.0


async def _send(session: aiohttp.ClientSession, base: str, headers: dict[str, str], entry_id: str, text: str) -> str:
    """Call sms_alerts.send for an entry's recipients; return the first result's status."""
    async with session.post(
        f"{base}/api/services/sms_alerts/send?return_response",
        json={"config_entry_id": entry_id, "message": text},
        headers=headers,
    ) as resp:
        body = await resp.json(content_type=None)
        if resp.status != 200:
            return f"HTTP {resp.status}: {str(body)[:200]}"
    return str(body["service_response"]["results"][0]["status"])


async def _settled_entries(session: aiohttp.ClientSession, base: str, headers: dict[str, str]) -> list[Any]:
    """Return the entries once none is still reloading after the last subentry (at most SETTLE_TIME seconds)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_TIME
    while True:
        async with session.get(f"{base}/api/config/config_entries/entry?domain=sms_alerts", headers=headers) as resp:
            entries: list[Any] = await resp.json()
        if loop.time() > deadline or not any(entry["state"] in TRANSITIONAL for entry in entries):
            return entries
        await asyncio.sleep(0.2)


async def _modem_runs(session: aiohttp.ClientSession, port: int) -> bool:
    """Tell whether the modem simulator runs (it does not where no pseudo-terminal opens)."""
    try:
        async with session.get(f"{onboard.SIM}:{port}/_sim/messages") as resp:
            return resp.status == 200
    except aiohttp.ClientError:
        return False


async def main(base: str, pid: int, config: Path, port_base: int) -> int:
    """Set up, send, check; print one line per provider."""
    ports = {key: port_base + number for number, key in enumerate(PROVIDERS, start=1)}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        await onboard.wait_for(session, base, pid)
        # The simulators started before Home Assistant, which takes longer
        providers = list(PROVIDERS)
        modem: Path | str = config / "no-modem"
        if await _modem_runs(session, ports["modem"]):
            modem = f"socket://127.0.0.1:{port_base + MODEM_TCP_OFFSET}"
        else:
            providers.remove("modem")
            print("skipped: modem (its simulator needs a pseudo-terminal, which cannot be opened here)")
        await onboard.create_first_user(session, base)
        headers = {"Authorization": f"Bearer {await onboard.login(session, base)}"}
        async with session.get(f"{base}/api/config", headers=headers) as resp:
            version = (await resp.json())["version"]
        done = await onboard.configure(session, base, headers, ports, modem_link=modem)
        for line in done.failed:
            print(f"FAILED to add {line}")
        loaded = await _settled_entries(session, base, headers)
        failures = len(done.failed) + (len(providers) - len(loaded))
        for entry, key in zip(loaded, providers, strict=False):
            text = f"Smoke test of {key} on Home Assistant {version}"
            status = await _send(session, base, headers, entry["entry_id"], text)
            async with session.get(f"{onboard.SIM}:{ports[key]}/_sim/messages") as resp:
                received = [message["text"] for message in await resp.json()]
            arrived = any(text in message for message in received)
            failures += not arrived
            print(f"{'ok' if arrived else 'FAILED'}: {key} ({entry['title']}, {entry['state']}): {status}, ", end="")
            print("the simulator received it" if arrived else f"the simulator has {received}")
    print(
        f"Home Assistant {version}: {len(providers) - failures} of {len(providers)} providers "
        "set up through the flow and sent an SMS"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))))
