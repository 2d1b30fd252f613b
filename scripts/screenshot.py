"""Screenshots of the development instance in headless Chromium, logged in as scripts/develop's user.

    python scripts/screenshot.py OUT.png PATH [--click TEXT ...] [--wait SECONDS] [--width W --height H]

PATH is a frontend path (e.g. /config/integrations/integration/sms_alerts). Each --click clicks, in
order, the first visible element (searched through the frontend's shadow roots) whose text is TEXT
(TEXT#N: the N-th of them);
--fill NAME=VALUE types into the form field called NAME; --type TEXT types into whatever has the
focus, as a keyboard does (a picker's search box after a --click opened it). Uses the Debian package chromium through
the DevTools protocol; nothing else to install.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

BASE = "http://127.0.0.1:8123"
USER = "dev"
PASSWORD = "dev"  # noqa: S105 - the throwaway login scripts/onboard.py creates

# Finds an element by its visible text through every shadow root, and clicks it
_CLICK = r"""
(wanted) => {
  // "TEXT#N" clicks the N-th visible element with that text (1 is the first)
  const hash = wanted.match(/^(.*)#(\d+)$/);
  const text = hash ? hash[1] : wanted;
  const nth = hash ? Number(hash[2]) - 1 : 0;
  const seen = [];
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) walk(el.shadowRoot);
      const own = [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join('').trim();
      const label = (el.getAttribute && (el.getAttribute('label') || el.getAttribute('aria-label'))) || el.label;
      if (own === text || label === text) seen.push(el);
    }
  };
  walk(document);
  const target = seen.filter(el => el.getClientRects().length > 0)[nth];
  if (!target) return false;
  target.scrollIntoView({block: 'center'});
  target.click();
  return true;
}
"""
# Types into the form field whose name is NAME (ha-form renders each field with its name)
_FILL = """
([name, value]) => {
  const walk = (root) => {
    for (const el of root.querySelectorAll('*')) {
      if (el.tagName === 'INPUT' && el.name === name) return el;
      if (el.shadowRoot) { const found = walk(el.shadowRoot); if (found) return found; }
    }
    return null;
  };
  const input = walk(document);
  if (!input) return false;
  input.focus();
  input.value = value;
  input.dispatchEvent(new Event('input', {bubbles: true, composed: true}));
  input.dispatchEvent(new Event('change', {bubbles: true, composed: true}));
  return true;
}
"""


async def _tokens(session: aiohttp.ClientSession) -> dict[str, Any]:
    """Log in through Home Assistant's login flow and return its tokens."""
    client_id = f"{BASE}/"
    flow_body = {"client_id": client_id, "handler": ["homeassistant", None], "redirect_uri": f"{BASE}/?auth_callback=1"}
    async with session.post(f"{BASE}/auth/login_flow", json=flow_body) as resp:
        flow = await resp.json()
    login = {"username": USER, "password": PASSWORD, "client_id": client_id}
    async with session.post(f"{BASE}/auth/login_flow/{flow['flow_id']}", json=login) as resp:
        code = (await resp.json())["result"]
    form = {"grant_type": "authorization_code", "code": code, "client_id": client_id}
    async with session.post(f"{BASE}/auth/token", data=form) as resp:
        tokens: dict[str, Any] = await resp.json()
    return tokens


class _Page:
    """One Chromium tab driven through the DevTools protocol."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._next = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its answer (events in between are skipped)."""
        self._next += 1
        await self._ws.send_json({"id": self._next, "method": method, "params": params})
        while True:
            message = json.loads((await self._ws.receive()).data)
            if message.get("id") == self._next:
                result: dict[str, Any] = message.get("result", {})
                return result

    async def run(self, function: str, argument: Any) -> Any:
        """Call a JavaScript function with one argument and return its value."""
        expression = f"({function})({json.dumps(argument)})"
        answer = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return answer.get("result", {}).get("value")


async def main(args: argparse.Namespace) -> bytes:
    """Log in, open the page, click and fill as asked, and return the screenshot."""
    browser = shutil.which("chromium") or "/usr/bin/chromium"
    profile = tempfile.mkdtemp()
    process = await asyncio.create_subprocess_exec(
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--remote-debugging-port=9333",
        f"--user-data-dir={profile}",
        f"--window-size={args.width},{args.height}",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with aiohttp.ClientSession() as session:
            tokens = await _tokens(session)
            for _ in range(50):
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get("http://127.0.0.1:9333/json") as resp:
                        tabs = await resp.json()
                        break
                await asyncio.sleep(0.2)
            tab = next(t for t in tabs if t.get("type") == "page")
            async with session.ws_connect(tab["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                page = _Page(ws)
                await page.call("Page.enable")
                await page.call("Page.navigate", url=f"{BASE}/manifest.json")
                await asyncio.sleep(1)
                stored = {**tokens, "hassUrl": BASE, "clientId": f"{BASE}/", "expires": 0}
                await page.run(
                    "(t) => { t.expires = Date.now() + t.expires_in * 1000; "
                    "localStorage.setItem('hassTokens', JSON.stringify(t)); return true; }",
                    stored,
                )
                await page.call("Page.navigate", url=f"{BASE}{args.path}")
                await asyncio.sleep(args.wait)
                for action in args.actions:
                    kind, value = action
                    if kind == "click":
                        if not await page.run(_CLICK, value):
                            raise SystemExit(f"nothing to click called {value!r}")
                    elif kind == "type":
                        await page.call("Input.insertText", text=value)
                    else:
                        name, _, text = value.partition("=")
                        if not await page.run(_FILL, [name, text]):
                            raise SystemExit(f"no field called {name!r}")
                    await asyncio.sleep(args.wait)
                shot = await page.call("Page.captureScreenshot", format="png")
    finally:
        process.terminate()
        await process.wait()
        shutil.rmtree(profile, ignore_errors=True)
    return base64.b64decode(shot["data"])


class _Ordered(argparse.Action):
    """Keep --click, --fill and --type in the order given."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: Any = None
    ) -> None:
        namespace.actions.append((self.dest, values))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("path")
    parser.add_argument("--click", dest="click", action=_Ordered)
    parser.add_argument("--fill", dest="fill", action=_Ordered)
    parser.add_argument("--type", dest="type", action=_Ordered)
    parser.add_argument("--wait", type=float, default=3.0)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1000)
    parser.set_defaults(actions=[])
    arguments = parser.parse_args()
    Path(arguments.out).write_bytes(asyncio.run(main(arguments)))
    print(arguments.out)
