"""The phones page: every number the simulators sent to, with its messages, refreshing by itself.

GET / is a self-contained HTML page (inline CSS and JavaScript, no external assets) that is rendered
on the server and then kept up to date by fetching GET /messages.json every two seconds.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

import gsm0338  # noqa: F401 - registers the "gsm03.38" codec
from aiohttp import web

from .base import ReceivedMessage, Simulator

GSM7 = "GSM-7"
UCS2 = "UCS-2"
_SIZES = {GSM7: (160, 153), UCS2: (70, 67)}  # one-part limit, limit per part of a long message
_BMP_LAST = 0xFFFF
REFRESH_MS = 2000


def sms_encoding(text: str) -> str:
    """GSM-7 when every character is in GSM 03.38, else UCS-2."""
    try:
        text.encode("gsm03.38")
    except UnicodeEncodeError:
        return UCS2
    return GSM7


def _costs(text: str, encoding: str) -> list[int]:
    """Septets per character (2 for the extension table) or UTF-16 units (2 outside the BMP)."""
    if encoding == GSM7:
        return [len(char.encode("gsm03.38")) for char in text]
    return [2 if ord(char) > _BMP_LAST else 1 for char in text]


def sms_count(text: str) -> tuple[str, int, int]:
    """Count encoding, units (septets or UTF-16 units) and parts; a part never splits an escape or surrogate pair."""
    encoding = sms_encoding(text)
    single, per_part = _SIZES[encoding]
    costs = _costs(text, encoding)
    units = sum(costs)
    if units <= single:
        return encoding, units, 1
    parts, used = 1, 0
    for cost in costs:
        if used + cost > per_part:
            parts, used = parts + 1, 0
        used += cost
    return encoding, units, parts


def _message_data(message: ReceivedMessage) -> dict[str, Any]:
    """One message as the page shows it."""
    encoding, units, parts = sms_count(message.text)
    return {
        "provider": message.provider,
        "text": message.text,
        "encoding": encoding,
        "units": units,
        "parts": parts,
        "time": message.received_at.astimezone().strftime("%H:%M:%S"),
        "received_at": message.received_at.isoformat(),
        "options": {str(key): str(value) for key, value in message.options.items()},
    }


def phone_number(address: str) -> str:
    """Return the phone an address reaches: `0049170…` (as the SMS Gateway is given it) is `+49170…`."""
    return f"+{address[2:]}" if address.startswith("00") and address[2:].isdigit() else address


class PhonesPage:
    """Collects what a set of simulators received, by number, newest first."""

    def __init__(self, sims: Iterable[Simulator]) -> None:
        """Watch these simulators (their message lists are read on every request)."""
        self.sims = list(sims)

    def snapshot(self) -> dict[str, Any]:
        """Every number with its messages, newest first; the number with the newest message first."""
        ordered = sorted(
            ((message.received_at, sim_index, index), message)
            for sim_index, sim in enumerate(self.sims)
            for index, message in enumerate(sim.messages)
        )
        phones: dict[str, list[dict[str, Any]]] = {}
        for _, message in reversed(ordered):
            # One phone, however each provider was given its number; the address as given is shown with it
            number = phone_number(message.to)
            data = _message_data(message)
            if number != message.to:
                data["options"] = {"to": message.to, **data["options"]}
            phones.setdefault(number, []).append(data)
        return {
            "total": len(ordered),
            "phones": [{"number": number, "messages": messages} for number, messages in phones.items()],
        }

    def render(self) -> str:
        """Render the whole page, with the current messages already in it."""
        return PAGE.replace("@@REFRESH_MS@@", str(REFRESH_MS)).replace("@@PHONES@@", render_phones(self.snapshot()))

    def make_app(self) -> web.Application:
        """Build the aiohttp application."""

        async def page(request: web.Request) -> web.Response:
            return web.Response(text=self.render(), content_type="text/html", headers={"Cache-Control": "no-store"})

        async def messages(request: web.Request) -> web.Response:
            return web.json_response(self.snapshot(), headers={"Cache-Control": "no-store"})

        app = web.Application()
        app.add_routes([web.get("/", page), web.get("/messages.json", messages)])
        return app


def _esc(value: object) -> str:
    """Escape for HTML text and attribute values."""
    return html.escape(str(value), quote=True)


def _meta(message: dict[str, Any]) -> str:
    """Describe a message above its text: provider, encoding, size and options (the script builds the same)."""
    plural = "" if message["parts"] == 1 else "s"
    unit = "septet" if message["encoding"] == GSM7 else "UTF-16 unit"
    unit_plural = "" if message["units"] == 1 else "s"
    items = [
        message["provider"],
        message["encoding"],
        f"{message['units']} {unit}{unit_plural}",
        f"{message['parts']} part{plural}",
        *(f"{key}={value}" for key, value in message["options"].items()),
    ]
    return " · ".join(items)


def render_phones(data: dict[str, Any]) -> str:
    """Render the list of phones as HTML, every piece of text escaped."""
    if not data["phones"]:
        return '<p class="empty">No message yet. Send one from Home Assistant.</p>'
    out = []
    for phone in data["phones"]:
        count = len(phone["messages"])
        out.append(
            f'<section class="phone" data-number="{_esc(phone["number"])}">'
            f'<h2><span class="number">{_esc(phone["number"])}</span>'
            f' <span class="count">{count} message{"" if count == 1 else "s"}</span></h2><ol>'
        )
        out.extend(
            f'<li class="sms" data-encoding="{_esc(message["encoding"])}" data-parts="{message["parts"]}">'
            f'<div class="meta"><span>{_esc(_meta(message))}</span>'
            f'<time datetime="{_esc(message["received_at"])}">{_esc(message["time"])}</time></div>'
            f'<div class="text">{_esc(message["text"])}</div></li>'
            for message in phone["messages"]
        )
        out.append("</ol></section>")
    return "".join(out)


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Phones - SMS Alerts simulators</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0; background: #eef1f5; color: #1d2733; }
  header { padding: 12px 20px; background: #1d2733; color: #fff; display: flex; gap: 16px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  #status { font-size: 13px; opacity: 0.8; }
  #status.offline { color: #ffb4a8; opacity: 1; }
  #phones { display: flex; flex-wrap: wrap; gap: 16px; padding: 16px; align-items: flex-start; }
  .phone { background: #fff; border: 8px solid #1d2733; border-radius: 24px; width: 320px;
           max-height: 80vh; overflow-y: auto; box-shadow: 0 2px 8px rgba(0, 0, 0, 0.15); }
  .phone h2 { position: sticky; top: 0; margin: 0; padding: 10px 14px; font-size: 16px; background: #f6f7f9;
              border-bottom: 1px solid #dde1e6; }
  .count { font-weight: normal; font-size: 12px; color: #5b6672; }
  ol { list-style: none; margin: 0; padding: 10px; }
  .sms { margin: 0 0 10px; }
  .meta { display: flex; justify-content: space-between; gap: 8px; font-size: 11px; color: #5b6672; }
  .text { background: #e3ecf7; border-radius: 12px; padding: 8px 10px; white-space: pre-wrap;
          overflow-wrap: anywhere; font-size: 14px; }
  .sms[data-encoding="UCS-2"] .text { background: #f7ecdf; }
  .empty { padding: 8px 4px; color: #5b6672; }
</style>
</head>
<body>
<header><h1>Phones</h1><span id="status">every message the simulators receive</span></header>
<main id="phones" data-source="server">@@PHONES@@</main>
<script>
"use strict";
(function () {
  const REFRESH_MS = @@REFRESH_MS@@;
  const root = document.getElementById("phones");
  const status = document.getElementById("status");
  let last = null;

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    for (const child of children || []) {
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function meta(m) {
    const unit = m.encoding === "GSM-7" ? "septet" : "UTF-16 unit";
    const items = [m.provider, m.encoding, m.units + " " + unit + (m.units === 1 ? "" : "s"),
                   m.parts + " part" + (m.parts === 1 ? "" : "s")];
    for (const [key, value] of Object.entries(m.options)) items.push(key + "=" + value);
    return items.join(" \\u00b7 ");
  }

  function render(data) {
    if (data.phones.length === 0) {
      root.replaceChildren(el("p", {class: "empty"}, ["No message yet. Send one from Home Assistant."]));
    } else {
      root.replaceChildren(...data.phones.map((phone) => {
        const n = phone.messages.length;
        return el("section", {class: "phone", "data-number": phone.number}, [
          el("h2", {}, [el("span", {class: "number"}, [phone.number]), " ",
                        el("span", {class: "count"}, [n + " message" + (n === 1 ? "" : "s")])]),
          el("ol", {}, phone.messages.map((m) =>
            el("li", {class: "sms", "data-encoding": m.encoding, "data-parts": m.parts}, [
              el("div", {class: "meta"}, [el("span", {}, [meta(m)]),
                                          el("time", {datetime: m.received_at}, [m.time])]),
              el("div", {class: "text"}, [m.text]),
            ]))),
        ]);
      }));
    }
    root.dataset.source = "live";
  }

  async function refresh() {
    try {
      const response = await fetch("messages.json", {cache: "no-store"});
      if (!response.ok) throw new Error("HTTP " + response.status);
      const body = await response.text();
      const data = JSON.parse(body);
      if (body !== last) {
        last = body;
        render(data);
      }
      status.className = "";
      status.textContent = "every message the simulators receive \\u2014 " + data.total +
        " so far, updated " + new Date().toLocaleTimeString();
    } catch (error) {
      status.className = "offline";
      status.textContent = "cannot reach the simulators (" + error.message + "), retrying";
    }
    setTimeout(refresh, REFRESH_MS);
  }

  refresh();
})();
</script>
</body>
</html>
"""
