"""Wait for the development Home Assistant, create its first user if needed, and say what to do next."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

USER = "dev"
PASSWORD = "dev"  # noqa: S105 - the throwaway login of the local development instance
STARTUP_LIMIT = 900  # the first start installs default_config's packages


async def wait_for(session: aiohttp.ClientSession, base: str, pid: int) -> None:
    """Wait until Home Assistant answers, or its process is gone."""
    for waited in range(STARTUP_LIMIT):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            sys.exit("Home Assistant stopped; see config/home-assistant.log")
        try:
            async with session.get(f"{base}/manifest.json") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        if waited and waited % 30 == 0:
            print(f"... still starting ({waited} s; the first start installs packages)", flush=True)
        await asyncio.sleep(1)
    sys.exit("Home Assistant did not start in time; see config/home-assistant.log")


async def create_first_user(session: aiohttp.ClientSession, base: str) -> bool:
    """Create the first user and finish onboarding; False if it was done before."""
    async with session.get(f"{base}/api/onboarding") as resp:
        if resp.status == 404:  # onboarding views are gone once it is done
            return False
        resp.raise_for_status()
        steps = await resp.json()
    if all(step["done"] for step in steps):
        return False
    client_id = f"{base}/"
    async with session.post(
        f"{base}/api/onboarding/users",
        json={"client_id": client_id, "name": "Developer", "username": USER, "password": PASSWORD, "language": "en"},
    ) as resp:
        resp.raise_for_status()
        code = (await resp.json())["auth_code"]
    async with session.post(
        f"{base}/auth/token", data={"grant_type": "authorization_code", "code": code, "client_id": client_id}
    ) as resp:
        resp.raise_for_status()
        token = (await resp.json())["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    for step, body in (
        ("core_config", {}),
        ("analytics", {}),
        ("integration", {"client_id": client_id, "redirect_uri": f"{base}/?auth_callback=1"}),
    ):
        async with session.post(f"{base}/api/onboarding/{step}", json=body, headers=headers) as resp:
            if resp.status >= 400 and resp.status != 403:  # 403: this step was done already
                resp.raise_for_status()
    return True


SIM = "http://127.0.0.1"
CONFIG = Path(__file__).resolve().parent.parent / "config"
# SMS_ALERTS_DEVELOP_ENTRIES=0: add no entries (to go through the forms by hand on a new configuration)
ADD_ENTRIES = os.environ.get("SMS_ALERTS_DEVELOP_ENTRIES", "1") != "0"

# The ports of simulators/__main__.py, and the link to the modem simulator's pseudo-terminal
SIM_PORTS = {"sms_gateway": 8301, "wildix": 8302, "pbxware": 8303, "ipex": 8304}
MODEM_LINK = Path("/tmp/sms-alerts-modem")  # noqa: S108 - simulators/__main__.py's DEFAULT_MODEM_LINK
# The providers a development configuration got entries for (an entry the developer removed is not added again)
ADDED_RECORD = ".sms_alerts_develop"
# Configurations from before the record was kept had entries for these
BEFORE_THE_RECORD = ("sms_gateway", "wildix", "pbxware", "ipex")
Entries = list[tuple[str, list[dict[str, Any]], dict[str, str]]]


def entries(ports: dict[str, int], modem_link: Path | str = MODEM_LINK) -> Entries:
    """One entry per simulator, each with one recipient: provider, the flow's steps, the recipient.

    The modem only where its simulator runs (its port's link exists), or at a URL given as text
    (socket://host:port: its port over TCP, for a Home Assistant that cannot see the pty).
    """
    gateway, wildix, pbxware, ipex = (f"{SIM}:{ports[key]}" for key in ("sms_gateway", "wildix", "pbxware", "ipex"))
    modem: Entries = []
    if isinstance(modem_link, str) or modem_link.exists():
        modem = [
            (
                "modem",
                [{"port": str(modem_link), "baudrate": "115200"}],
                {"name": "Site phone", "target": "+49 170 7654321"},
            )
        ]
    return [
        (
            "sms_gateway",
            [{"url": gateway, "username": "apiuser", "password": "secret", "verify_ssl": True, "telegram": False}],
            {"name": "On call", "target": "+49 170 1234567"},
        ),
        (
            "wildix",
            [{"url": wildix, "username": "101", "password": "sms101api", "verify_ssl": True}],
            {"name": "Wildix phone", "target": "+39 333 123 4567"},
        ),
        (
            "pbxware",
            [{"url": pbxware, "api_key": "ha-alerts-key", "server": "1", "verify_ssl": True}],
            {"name": "Plant room", "target": "ext:1001"},
        ),
        (
            "ipex",
            [
                {
                    "url": ipex,
                    "username": "alerts@example.com",
                    "password": "secret",
                    "auth_url": f"{ipex}/token",
                    "instant_url": f"{ipex}/v1/sms",
                },
                {"sender": "+420777888999"},
            ],
            {"name": "Czech phone", "target": "+420 607 608 609"},
        ),
        *modem,
    ]


async def login(session: aiohttp.ClientSession, base: str) -> str:
    """Log in as the development user."""
    client_id = f"{base}/"
    async with session.post(
        f"{base}/auth/login_flow",
        json={"client_id": client_id, "handler": ["homeassistant", None], "redirect_uri": client_id},
    ) as resp:
        flow = await resp.json()
    async with session.post(
        f"{base}/auth/login_flow/{flow['flow_id']}",
        json={"username": USER, "password": PASSWORD, "client_id": client_id},
    ) as resp:
        code = (await resp.json())["result"]
    async with session.post(
        f"{base}/auth/token", data={"grant_type": "authorization_code", "code": code, "client_id": client_id}
    ) as resp:
        token: str = (await resp.json())["access_token"]
    return token


@dataclass
class Configured:
    """What _configure did: entries added, entries that were there before, and failures with their reason."""

    added: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


async def _step(session: aiohttp.ClientSession, url: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    """Post one step of a flow and return its answer; an answer that is not a flow's JSON raises ValueError."""
    async with session.post(url, json=body, headers=headers) as resp:
        if resp.status >= 400:
            raise ValueError(f"HTTP {resp.status}: {(await resp.text())[:200]}")
        return await resp.json()


async def _add(
    session: aiohttp.ClientSession, base: str, headers: dict[str, str], key: str, steps: list[dict[str, Any]]
) -> dict[str, Any]:
    """Go through the config flow of one provider; return the created entry's answer, or raise ValueError."""
    flows = f"{base}/api/config/config_entries/flow"
    flow = await _step(session, flows, {"handler": "sms_alerts"}, headers)
    for step in [{"next_step_id": key}, *steps]:
        if flow.get("type") != "form" and flow.get("type") != "menu":
            break
        flow = await _step(session, f"{flows}/{flow['flow_id']}", step, headers)
    if flow.get("type") != "create_entry":
        raise ValueError(str(flow.get("errors") or flow.get("reason") or flow.get("type")))
    return dict(flow)


async def configure(
    session: aiohttp.ClientSession,
    base: str,
    headers: dict[str, str],
    ports: dict[str, int] = SIM_PORTS,
    *,
    record: Path | None = None,
    modem_link: Path | str = MODEM_LINK,
) -> Configured:
    """Add an entry with a recipient for each simulator that never had one here.

    `record` lists the providers added before (kept across starts); without it, or before it was kept,
    a configuration with entries had them for the four HTTP providers.
    """
    done = Configured()
    async with session.get(f"{base}/api/config/config_entries/entry?domain=sms_alerts", headers=headers) as resp:
        resp.raise_for_status()
        done.existing = [entry["title"] for entry in await resp.json()]
    known: set[str] = set(BEFORE_THE_RECORD) if done.existing else set()
    recorded = await asyncio.to_thread(lambda: record.read_text() if record is not None and record.exists() else None)
    if recorded is not None:
        known = set(recorded.split())
    subflows = f"{base}/api/config/config_entries/subentries/flow"
    for key, steps, recipient in entries(ports, modem_link):
        if key in known:
            continue
        try:
            flow = await _add(session, base, headers, key, steps)
            entry_id = flow["result"]["entry_id"]
            sub = await _step(session, subflows, {"handler": [entry_id, "recipient"]}, headers)
            sub = await _step(session, f"{subflows}/{sub['flow_id']}", recipient, headers)
        except (aiohttp.ClientError, ValueError, KeyError) as err:
            done.failed.append(f"{key}: {type(err).__name__}: {err}")
            continue
        known.add(key)
        if sub.get("type") != "create_entry":
            done.failed.append(f"{key}: entry {flow['title']} added, but not its recipient: {sub.get('errors')}")
            continue
        done.added.append(f"{flow['title']} with recipient {recipient['name']} ({recipient['target']})")
    if record is not None:
        await asyncio.to_thread(record.write_text, "\n".join(sorted(known)) + "\n")
    return done


async def point_ipex_webhooks(
    session: aiohttp.ClientSession, base: str, config: Path, ipex_port: int = SIM_PORTS["ipex"]
) -> None:
    """Tell the IPEX simulator where inbound SMS go: the webhook of the IPEX entry (read from .storage)."""
    path = config / ".storage" / "core.config_entries"
    for _ in range(30):  # a new entry reaches the file after Home Assistant's delayed write
        text = await asyncio.to_thread(lambda: path.read_text() if path.exists() else "")
        if text:
            entries = json.loads(text)["data"]["entries"]
            ids = [  # the first entry with a webhook: the IPEX one
                e["data"]["webhook_id"] for e in entries if e["domain"] == "sms_alerts" and "webhook_id" in e["data"]
            ]
            if ids:
                url = f"{base}/api/webhook/{ids[0]}"
                async with session.post(f"{SIM}:{ipex_port}/_sim/webhook", params={"url": url}):
                    return
        await asyncio.sleep(1)


def summary(done: Configured) -> str:
    """Say which entries were added, which were there, and which could not be added and why."""
    lines = [f"  - {line}" for line in done.added]
    if done.existing:
        lines.append(f"  - already there: {', '.join(done.existing)}")
    lines += [f"  - COULD NOT ADD {line} (see the log)" for line in done.failed]
    if not lines:
        lines.append("  - none added (SMS_ALERTS_DEVELOP_ENTRIES=0)")
    return "\n".join(lines)


async def main(base: str, pid: int, config: Path, modem: Path | str = MODEM_LINK) -> None:
    """Wait, onboard, configure the simulators, and print the next steps.

    `modem`: the modem simulator's port as Home Assistant opens it (a socket:// URL where it cannot see the pty).
    """
    async with aiohttp.ClientSession() as session:
        await wait_for(session, base, pid)
        created = await create_first_user(session, base)
        token = await login(session, base)
        done = Configured()
        if ADD_ENTRIES:
            done = await configure(
                session, base, {"Authorization": f"Bearer {token}"}, record=config / ADDED_RECORD, modem_link=modem
            )
        await point_ipex_webhooks(session, base, config)
    credentials = f"user {USER}, password {PASSWORD}" + (" (just created)" if created else "")
    print(
        f"""
Home Assistant is up: {base}  ({credentials})
SMS Alerts entries, one per simulator:
{summary(done)}

Try it:
  - Developer tools > Actions: notify.send_message on notify.on_call (or notify.wildix_phone,
    notify.plant_room, notify.czech_phone) with a message, or sms_alerts.send with "Return response".
  - Settings > Automations & scenes > Create automation > "SMS alert when an entity enters a state"
    (the project's blueprint): pick an entity, an entry and recipients, save, and make the state happen.
  - The message appears below as the simulator receives it, and on the phones page printed above.
  - Inbound SMS to Home Assistant (IPEX):
      curl -X POST '{SIM}:8304/_sim/inbound?from=%2B420607608609&to=%2B420777888999&text=ACK'
    and to the GSM modem (notify.site_phone sends through it):
      curl -X POST '{SIM}:8305/_sim/inbound?from=%2B491707654321&text=ACK'
  Ctrl+C stops everything.
""",
        flush=True,
    )


if __name__ == "__main__":
    asyncio.run(
        main(
            sys.argv[1],
            int(sys.argv[2]),
            Path(sys.argv[3]) if len(sys.argv) > 3 else CONFIG,
            sys.argv[4] if len(sys.argv) > 4 else MODEM_LINK,
        )
    )
