"""Wait for the development Home Assistant, create its first user if needed, and say what to do next."""

from __future__ import annotations

import asyncio
import os
import sys

import aiohttp

USER = "dev"
PASSWORD = "dev"  # noqa: S105 - the throwaway login of the local development instance
STARTUP_LIMIT = 900  # the first start installs default_config's packages


async def _wait_for(session: aiohttp.ClientSession, base: str, pid: int) -> None:
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


async def _onboard(session: aiohttp.ClientSession, base: str) -> bool:
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


async def main(base: str, pid: int) -> None:
    """Wait, onboard, and print the next steps."""
    async with aiohttp.ClientSession() as session:
        await _wait_for(session, base, pid)
        created = await _onboard(session, base)
    login = f"user {USER}, password {PASSWORD}" + (" (just created)" if created else "")
    print(
        f"""
Home Assistant is up: {base}  ({login})

Try it:
  1. Settings > Devices & services > Add integration > SMS Alerts > brevis.one SMS Gateway,
     with the gateway address, user and password printed above.
  2. On the new entry: Add recipient, e.g. name "On call", target +49 170 1234567.
  3. Developer tools > Actions: notify.send_message on notify.on_call with a message,
     or sms_alerts.send with "Return response" ticked.
  The message appears below as the simulator receives it. Ctrl+C stops everything.
""",
        flush=True,
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
