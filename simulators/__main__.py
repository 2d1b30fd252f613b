"""Run every simulator on loopback for scripts/develop and print each message that arrives."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from aiohttp import web

from .base import ReceivedMessage, Simulator
from .brevisone import BrevisOneSimulator

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORTS = {"sms_gateway": 8301}


def _print_message(message: ReceivedMessage) -> None:
    """Show an arriving message in the terminal."""
    stamp = message.received_at.astimezone().strftime("%H:%M:%S")
    options = ", ".join(f"{key}={value}" for key, value in message.options.items())
    print(f"\n📱 {stamp} [{message.provider}] to {message.to} ({options}):", flush=True)
    for line in message.text.splitlines() or [""]:
        print(f"    {line}", flush=True)


def _describe(name: str, url: str, sim: Simulator) -> str:
    """Tell what to type in Home Assistant's config flow for this simulator."""
    if isinstance(sim, BrevisOneSimulator):
        groups = ", ".join(f"{key} ({value})" for key, value in sim.groups.items())
        contacts = ", ".join(f"{key} ({value})" for key, value in sim.contacts.items())
        return (
            f"  {name}: brevis.one SMS Gateway\n"
            f"    Gateway address: {url}\n"
            "    Username: apiuser   Password: secret   (webuser/secret has no API right)\n"
            "    Verify SSL: either (plain http)   Telegram first: either\n"
            f"    Groups: {groups}   Contacts: {contacts}\n"
            f"    Faults: curl -X POST '{url}/_sim/fault?name=http_503&times=1'  (html_500, slow, reset; name=none)"
        )
    return f"  {name}: {url}"


async def _run(host: str, ports: dict[str, int]) -> None:
    """Serve the simulators until interrupted."""
    sims: dict[str, Simulator] = {"sms_gateway": BrevisOneSimulator()}
    runners: list[web.AppRunner] = []
    lines = []
    for name, sim in sims.items():
        sim.listeners.append(_print_message)
        runner = web.AppRunner(sim.make_app(), access_log=None, handler_cancellation=True)
        await runner.setup()
        await web.TCPSite(runner, host, ports[name]).start()
        runners.append(runner)
        lines.append(_describe(name, f"http://{host}:{ports[name]}", sim))
    print("Provider simulators are running:\n" + "\n".join(lines), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for runner in runners:
        await runner.cleanup()


def main() -> None:
    """Parse the command line and run."""
    parser = argparse.ArgumentParser(description="SMS Alerts provider simulators")
    parser.add_argument("--host", default=DEFAULT_HOST, help="loopback address to listen on")
    parser.add_argument("--sms-gateway-port", type=int, default=DEFAULT_PORTS["sms_gateway"])
    args = parser.parse_args()
    if not args.host.startswith("127.") and args.host not in ("localhost", "::1"):
        parser.error("the simulators listen on loopback only")
    asyncio.run(_run(args.host, {"sms_gateway": args.sms_gateway_port}))


if __name__ == "__main__":
    main()
