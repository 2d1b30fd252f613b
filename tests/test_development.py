"""The development instance: its configuration loads what the UI saves, and scripts/onboard.py reports honestly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import homeassistant
import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer

from scripts import onboard

REPO = Path(__file__).parent.parent
# default_config integrations of newer releases than the oldest supported one (left out of the shared file)
NEWER = {"file", "usage_prediction"}


class _Loader(yaml.SafeLoader):
    """Reads Home Assistant's `!include NAME` as the string NAME."""


_Loader.add_constructor("!include", lambda loader, node: f"!include {loader.construct_scalar(node)}")


def _configuration() -> dict[str, Any]:
    return yaml.load((REPO / "config" / "configuration.yaml").read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506


def test_what_the_ui_saves_is_loaded() -> None:
    """Automations (e.g. from the blueprint), scripts and scenes made in the UI are read from their files."""
    config = _configuration()
    assert config["automation"] == "!include automations.yaml"
    assert config["script"] == "!include scripts.yaml"
    assert config["scene"] == "!include scenes.yaml"


def test_default_config_without_go2rtc() -> None:
    """default_config's integrations but go2rtc, which fails without its server binary in a container."""
    manifest = Path(homeassistant.__file__).parent / "components" / "default_config" / "manifest.json"
    default = set(json.loads(manifest.read_text(encoding="utf-8"))["dependencies"])
    config = _configuration()
    assert "default_config" not in config
    assert "go2rtc" not in config
    listed = {key for key, value in config.items() if value is None}
    assert listed <= default
    assert default - listed <= {"go2rtc", *NEWER}


def _fake_home_assistant(entries: list[dict[str, Any]]) -> web.Application:
    """The REST API of a Home Assistant whose SMS Alerts flows all end in an error."""

    async def list_entries(request: web.Request) -> web.Response:
        return web.json_response(entries)

    async def start(request: web.Request) -> web.Response:
        return web.json_response({"flow_id": "f1", "type": "menu"})

    async def step(request: web.Request) -> web.Response:
        return web.json_response({"flow_id": "f1", "type": "form", "errors": {"base": "cannot_connect"}})

    app = web.Application()
    app.router.add_get("/api/config/config_entries/entry", list_entries)
    app.router.add_post("/api/config/config_entries/flow", start)
    app.router.add_post("/api/config/config_entries/flow/f1", step)
    return app


@pytest.mark.usefixtures("socket_enabled")
async def test_onboarding_tells_failure_from_presence(tmp_path: Path) -> None:
    """Flows that fail are reported as failures with their reason, not as entries that are already there."""
    server = TestServer(_fake_home_assistant([]), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            # No modem simulator here (whatever runs on this machine): its link is missing
            done = await onboard.configure(
                session, str(server.make_url("")).rstrip("/"), {}, modem_link=tmp_path / "no-modem"
            )
    finally:
        await server.close()
    assert done.added == []
    assert done.existing == []
    assert [line.split(":")[0] for line in done.failed] == ["sms_gateway", "wildix", "pbxware", "ipex"]
    assert all("cannot_connect" in line for line in done.failed)
    summary = onboard.summary(done)
    assert "already there" not in summary
    assert summary.count("COULD NOT ADD") == 4


@pytest.mark.usefixtures("socket_enabled")
async def test_onboarding_names_the_entries_already_there(tmp_path: Path) -> None:
    """Entries from an earlier start are named, and no flow is started again."""
    server = TestServer(_fake_home_assistant([{"title": "On call gateway"}]), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            # No modem simulator here (whatever runs on this machine): its link is missing
            done = await onboard.configure(
                session, str(server.make_url("")).rstrip("/"), {}, modem_link=tmp_path / "no-modem"
            )
    finally:
        await server.close()
    assert (done.added, done.existing, done.failed) == ([], ["On call gateway"], [])
    assert "already there: On call gateway" in onboard.summary(done)


@pytest.mark.usefixtures("socket_enabled")
async def test_onboarding_adds_what_a_configuration_never_had(tmp_path: Path) -> None:
    """A configuration of the four HTTP providers gets the modem's entry once; then the record keeps it away.

    Where the modem simulator runs (its port's link exists) and no entry was ever made for it, its flow is started
    (it fails here, in a Home Assistant whose flows all fail); once recorded, no flow starts again.
    """
    link = tmp_path / "modem"
    link.touch()
    record = tmp_path / "record"
    server = TestServer(_fake_home_assistant([{"title": "On call gateway"}]), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            base = str(server.make_url("")).rstrip("/")
            done = await onboard.configure(session, base, {}, record=record, modem_link=link)
            assert [line.split(":")[0] for line in done.failed] == ["modem"]
            assert set(record.read_text().split()) == set(onboard.BEFORE_THE_RECORD)
            record.write_text("\n".join([*onboard.BEFORE_THE_RECORD, "modem"]))
            again = await onboard.configure(session, base, {}, record=record, modem_link=link)
    finally:
        await server.close()
    assert (again.added, again.failed) == ([], [])
