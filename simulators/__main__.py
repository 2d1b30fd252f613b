"""Run every simulator on loopback for scripts/develop, print each message that arrives and serve the phones page."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from aiohttp import web

from . import tcp_bridge
from .base import ReceivedMessage, Simulator
from .brevisone import BrevisOneSimulator
from .ipex import IpexSimulator
from .modem import ModemSimulator
from .pbxware import PbxwareSimulator
from .phones import PhonesPage
from .wildix import DEMO_API_KEY, WildixSimulator

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORTS = {"sms_gateway": 8301, "wildix": 8302, "pbxware": 8303, "ipex": 8304, "modem": 8305}
DEFAULT_PHONES_PORT = 8300
# The modem's serial port: a pseudo-terminal, reached through this stable link
DEFAULT_MODEM_LINK = "/tmp/sms-alerts-modem"  # noqa: S108 - a link on the developer's own machine


def _print_message(message: ReceivedMessage) -> None:
    """Show an arriving message in the terminal."""
    stamp = message.received_at.astimezone().strftime("%H:%M:%S")
    options = ", ".join(f"{key}={value}" for key, value in message.options.items())
    print(f"\n📱 {stamp} [{message.provider}] to {message.to} ({options}):", flush=True)
    for line in message.text.splitlines() or [""]:
        print(f"    {line}", flush=True)


def _describe(name: str, url: str, sim: Simulator) -> str:
    """Tell what to type in Home Assistant's config flow for this simulator."""
    faults = (
        f"    Faults: curl -X POST '{url}/_sim/fault?name=http_503&times=1'  (html_500, slow, reset,\n"
        "            redirect_302, redirect_307; name=none)\n"
        f"    Slow answers: curl -X POST '{url}/_sim/latency?seconds=0.5'   Counts: curl '{url}/_sim/stats'"
    )
    if isinstance(sim, BrevisOneSimulator):
        groups = ", ".join(f"{key} ({value})" for key, value in sim.groups.items())
        contacts = ", ".join(f"{key} ({value})" for key, value in sim.contacts.items())
        lines = [
            "brevis.one SMS Gateway",
            f"Gateway address: {url}",
            "Username: apiuser   Password: secret   (webuser/secret has no API right)",
            f"Groups: {groups}   Contacts: {contacts}",
            "Firmware 4.x: REST API (/api/signin, /api/messages) and api.php. Firmware 3 (api.php only):",
            f"    curl -X POST '{url}/_sim/apis?rest=0'   (legacy=0 drops api.php; token_lifetime=SECONDS)",
        ]
    elif isinstance(sim, WildixSimulator):
        lines = [
            "Wildix PBX",
            f"PBX address: {url}",
            "Username: 101   Password: sms101api   GSM gateway (optional): 9c:75:14:33:00:01",
            f"Or the Company API key (scope pbx:*): {DEMO_API_KEY}",
            f"A PBX that takes only API keys: curl -X POST '{url}/_sim/basic?enabled=0'",
        ]
    elif isinstance(sim, PbxwareSimulator):
        lines = [
            "Bicom PBXware",
            f"PBXware address: {url}",
            "API key: ha-alerts-key   Tenant ID: 1   Extensions: ext:1001 (has an SMS number), ext:1002 (none)",
            f"A PBX that reads only the query string: curl -X POST '{url}/_sim/query_only?enabled=1'",
        ]
    elif isinstance(sim, ModemSimulator):
        return "\n".join(
            [
                f"  {name}: GSM modem (AT commands in PDU mode on a pseudo-terminal)",
                f"    Serial port: {sim.path}   Baud rate: 115200   No SIM PIN",
                f"    Inbound SMS: curl -X POST '{url}/_sim/inbound?from=%2B491701234567&text=ACK'",
                f"    Faults: curl -X POST '{url}/_sim/modem?fault=no_network'  (no_sim, pin_required, slow_network,",
                "            unplug: the next send pulls the cable; fault=none recovers)",
                f"    The cable: curl -X POST '{url}/_sim/modem?plug=out'  (plug=in puts it back)",
                f"    Another model: curl -X POST '{url}/_sim/modem?profile=mc75i'  (a Cinterion MC75i; sim900 back)",
            ]
        )
    else:
        lines = [
            "IPEX / Voipex",
            f"SMS API address: {url}   Token address: {url}/token   Instant SMS address: {url}/v1/sms",
            "E-mail: alerts@example.com   Password: secret   Sender: +420777888999",
            "REST API login (instant SMS only): firma_api   Password: api-secret   Trunk: 222333444",
            f"Inbound SMS: curl -X POST '{url}/_sim/inbound?from=%2B491701234567&to=%2B420777888999&text=ACK'",
            f"  (scripts/develop points it at the IPEX entry's webhook; by hand: {url}/_sim/webhook?url=<address>)",
        ]
    title, *rest = lines
    return "\n".join([f"  {name}: {title}", *(f"    {line}" for line in rest), faults])


async def _start_modem(
    host: str, link: str | None, tcp_port: int | None
) -> tuple[ModemSimulator | None, asyncio.Server | None]:
    """Start the modem on a pty where one opens, and its port over TCP if asked; (None, None) otherwise."""
    if link is None:
        return None, None
    modem = ModemSimulator(link=link)
    try:
        await modem.start()
    except OSError as err:
        print(f"No modem simulator: a pseudo-terminal cannot be opened here ({err.strerror})", flush=True)
        return None, None
    if tcp_port is None:
        return modem, None
    bridge = await tcp_bridge.serve(link, host, tcp_port)
    print(f"Modem port over TCP: socket://{host}:{tcp_port}", flush=True)
    return modem, bridge


async def _run(
    host: str,
    ports: dict[str, int],
    phones_port: int,
    *,
    modem_link: str | None = DEFAULT_MODEM_LINK,
    modem_tcp_port: int | None = None,
    quiet: bool = False,
) -> None:
    """Serve the simulators and the phones page until interrupted."""
    sims: dict[str, Simulator] = {
        "sms_gateway": BrevisOneSimulator(),
        "wildix": WildixSimulator(),
        "pbxware": PbxwareSimulator(),
        "ipex": IpexSimulator(),
    }
    modem, bridge = await _start_modem(host, modem_link, modem_tcp_port)
    if modem is not None:
        sims["modem"] = modem
    phones = web.AppRunner(PhonesPage(sims.values()).make_app(), access_log=None, handler_cancellation=True)
    await phones.setup()
    await web.TCPSite(phones, host, phones_port).start()
    runners: list[web.AppRunner] = [phones]
    print(f"Phones: http://{host}:{phones_port} — every message the simulators receive", flush=True)
    lines = []
    for name, sim in sims.items():
        if not quiet:
            sim.listeners.append(_print_message)
        runner = web.AppRunner(sim.make_app(), access_log=None, handler_cancellation=True)
        await runner.setup()
        await web.TCPSite(runner, host, ports[name]).start()
        runners.append(runner)
        lines.append(_describe(name, f"http://{host}:{ports[name]}", sim))
    print(
        "Provider simulators are running (add each in Home Assistant with these values):\n" + "\n".join(lines),
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    if bridge is not None:
        bridge.close()
    for runner in runners:
        await runner.cleanup()
    if modem is not None:
        await modem.stop()


def main() -> None:
    """Parse the command line and run."""
    parser = argparse.ArgumentParser(description="SMS Alerts provider simulators")
    parser.add_argument("--host", default=DEFAULT_HOST, help="loopback address to listen on")
    for name, port in DEFAULT_PORTS.items():
        parser.add_argument(f"--{name.replace('_', '-')}-port", type=int, default=port)
    parser.add_argument("--phones-port", type=int, default=DEFAULT_PHONES_PORT, help="port of the phones page")
    parser.add_argument("--quiet", action="store_true", help="do not print each message that arrives")
    parser.add_argument("--modem-link", default=DEFAULT_MODEM_LINK, help="the modem's serial port (a link to its pty)")
    parser.add_argument("--no-modem", action="store_true", help="run no modem simulator")
    parser.add_argument(
        "--modem-tcp-port", type=int, help="also serve the modem's port over TCP (pyserial's socket://host:port)"
    )
    args = parser.parse_args()
    if not args.host.startswith("127.") and args.host not in ("localhost", "::1"):
        parser.error("the simulators listen on loopback only")
    ports = {name: getattr(args, f"{name}_port") for name in DEFAULT_PORTS}
    modem_link = None if args.no_modem else args.modem_link
    asyncio.run(
        _run(
            args.host,
            ports,
            args.phones_port,
            modem_link=modem_link,
            modem_tcp_port=args.modem_tcp_port,
            quiet=args.quiet,
        )
    )


if __name__ == "__main__":
    main()
