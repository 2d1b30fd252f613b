"""What hassfest and HACS would check, done locally: manifest, pins, translations, services."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol
import yaml
from homeassistant.core import HomeAssistant
from homeassistant.helpers import translation

from custom_components.sms_alerts.api import tls
from custom_components.sms_alerts.config_flow import (
    FORM_ERRORS,
    REAUTH_SCHEMAS,
    RECIPIENT_SCHEMA,
    RECONFIGURE_SCHEMAS,
    SCHEMAS,
)
from custom_components.sms_alerts.const import DOMAIN
from custom_components.sms_alerts.modem_issues import NOT_REGISTERED, REGISTRATION_DENIED
from custom_components.sms_alerts.notify import SEND_MESSAGE_SCHEMA
from custom_components.sms_alerts.outbox import ENTRY_ISSUES
from custom_components.sms_alerts.outbox.notices import EVENT_TYPES, EventKind
from custom_components.sms_alerts.services import SEND_SCHEMA

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "custom_components" / "sms_alerts"
MANIFEST = json.loads((PACKAGE / "manifest.json").read_text())
STRINGS = json.loads((PACKAGE / "translations" / "en.json").read_text())


# Components hassfest lets any integration use without declaring them: the entity platforms this one
# provides, and helpers every installation loads
UNDECLARED_OK = {"binary_sensor", "button", "diagnostics", "event", "notify", "repairs", "sensor", "system_health"}


def _referenced_components() -> set[str]:
    """Every homeassistant.components.<domain> the integration imports, as hassfest collects them."""
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "homeassistant.components":
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("homeassistant.components."):
                found.add((node.module or "").split(".")[2])
            elif isinstance(node, ast.Import):
                found.update(
                    alias.name.split(".")[2]
                    for alias in node.names
                    if alias.name.startswith("homeassistant.components.")
                )
    return found


def test_every_component_used_is_a_dependency() -> None:
    """As hassfest: a component the code imports is in dependencies or after_dependencies."""
    declared = set(MANIFEST.get("dependencies", [])) | set(MANIFEST.get("after_dependencies", []))
    used = _referenced_components()
    assert {"webhook", "cloud", "notify"} <= used  # the collector sees both import forms
    # hassfest (script/hassfest/dependencies.py) also lets a file import the integration it is a platform of
    # (our logbook.py imports logbook)
    platforms = {path.stem for path in PACKAGE.glob("*.py")}
    assert used - UNDECLARED_OK - platforms <= declared
    assert declared <= used | {"http"}, "declared but never used"


def test_manifest_keys_are_sorted_and_complete() -> None:
    """Domain and name first, the rest sorted, with the keys a custom integration needs."""
    keys = list(MANIFEST)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    for key in (
        "codeowners",
        "config_flow",
        "documentation",
        "integration_type",
        "iot_class",
        "requirements",
        "version",
    ):
        assert key in MANIFEST


def test_requirements_are_pinned_and_match_the_test_stacks() -> None:
    """manifest.json and requirements/integration.txt pin the same versions."""
    pinned = {
        line.split("==")[0]: line
        for line in (ROOT / "requirements" / "integration.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert all("==" in req for req in MANIFEST["requirements"])
    assert sorted(MANIFEST["requirements"]) == sorted(pinned.values())


def test_hacs_json() -> None:
    """HACS knows the name and the oldest supported Home Assistant."""
    hacs = json.loads((ROOT / "hacs.json").read_text())
    assert hacs["name"] == "SMS Alerts"
    assert hacs["homeassistant"] == "2025.4.0"


def _fields(services: dict[str, Any]) -> dict[str, Any]:
    """Flatten the fields of services.yaml, sections included."""
    fields: dict[str, Any] = {}
    for name, field in services["send"]["fields"].items():
        if "fields" in field:
            fields.update(field["fields"])
        else:
            fields[name] = field
    return fields


def test_services_yaml_matches_the_action_schema_and_translations() -> None:
    """Every schema key is in services.yaml and translated, and nothing more."""
    services = yaml.safe_load((PACKAGE / "services.yaml").read_text())
    schema_keys = {str(key) for key in SEND_SCHEMA.schema}
    assert set(_fields(services)) == schema_keys
    translated = STRINGS["services"]["send"]["fields"]
    assert set(translated) == schema_keys
    sections = {name for name, field in services["send"]["fields"].items() if "fields" in field}
    assert set(STRINGS["services"]["send"]["sections"]) == sections


def test_entity_action_matches_services_yaml_and_translations() -> None:
    """sms_alerts.send_message targets this integration's notify entities; its fields are listed and translated."""
    action = yaml.safe_load((PACKAGE / "services.yaml").read_text())["send_message"]
    assert action["target"] == {"entity": {"integration": DOMAIN, "domain": "notify"}}
    keys = {str(key) for key in SEND_MESSAGE_SCHEMA}
    assert set(action["fields"]) == keys
    assert set(STRINGS["services"]["send_message"]["fields"]) == keys


def test_event_types_are_translated() -> None:
    """Every event type an event entity declares has a translated state."""
    for kind, types in EVENT_TYPES.items():
        states = STRINGS["entity"]["event"][kind]["state_attributes"]["event_type"]["state"]
        assert set(states) == set(types)


def _code() -> str:
    """All Python source of the integration."""
    return "\n".join(path.read_text() for path in PACKAGE.rglob("*.py"))


def test_every_raised_translation_key_exists() -> None:
    """translation_key= and MessageError keys in the code have texts; no exception text is unused."""
    code = _code()
    used = set(re.findall(r'translation_key="([a-z_]+)"', code))
    used |= set(re.findall(r'MessageError\(\s*"([a-z_]+)"', code))
    used -= set(STRINGS["issues"]) | set(STRINGS["selector"]) | set(STRINGS["entity"]["sensor"])
    used -= {key for platform in STRINGS["entity"].values() for key in platform}
    exceptions = set(STRINGS["exceptions"])
    assert used <= exceptions, used - exceptions
    assert exceptions <= used, exceptions - used


def test_form_errors_have_texts() -> None:
    """Every form error a flow can show is translated."""
    errors = set(STRINGS["config"]["error"])
    assert FORM_ERRORS | {"unknown", "invalid_url"} <= errors
    recipient_errors = set(STRINGS["config_subentries"]["recipient"]["error"])
    # The recipient form reads targets as the message layer does; the outbox's own checks are the action's
    assert (
        set(re.findall(r'MessageError\(\s*"([a-z_]+)"', (PACKAGE / "message.py").read_text()))
        - {
            "empty_message",
            "no_targets",
        }
        | {"quiet_hours_incomplete", "name_taken", "name_separator"}
        == recipient_errors
    )


def test_icons_cover_services_and_entities() -> None:
    """icons.json names the actions, the sensors, the button, the switch and the event entities."""
    icons = json.loads((PACKAGE / "icons.json").read_text())
    assert set(icons["services"]) == {
        "send",
        "send_message",
        "list_waiting",
        "drop_waiting",
        "acknowledge",
        "snooze",
        "start_maintenance",
    }
    for platform in ("sensor", "button", "switch"):
        assert set(icons["entity"][platform]) == set(STRINGS["entity"][platform])
    # The entry's event entities, and each alert source's
    assert set(icons["entity"]["event"]) == set(STRINGS["entity"]["event"]) == {*EventKind, "alert_transition"}


def test_every_account_refusal_has_a_repair_issue_text() -> None:
    """Each key an EntryRejectedError can carry is a repair issue with a title and a description."""
    api = "\n".join(path.read_text() for path in (PACKAGE / "api").glob("*.py"))
    keys = set(re.findall(r'EntryRejectedError,\s*key="([a-z_]+)"', api))
    keys |= set(re.findall(r'EntryRejectedError\([^)]*?key="([a-z_]+)"', api, re.DOTALL))
    keys |= {tls.UNTRUSTED, tls.WEAK}  # the keys of TlsError, whatever its case
    assert {"no_api_permission", "ssl_error", "sms_api_disabled", "no_sms_api", "sender_not_allowed"} <= keys
    assert keys <= set(ENTRY_ISSUES)
    # Every other issue is raised by its translation key and cleared on its own terms
    others = set(re.findall(r'translation_key="([a-z_]+)"', _code())) & set(STRINGS["issues"])
    assert others == {"daily_budget", "no_external_url", "webhook_url_changed"}
    # The one fixable issue has its fix flow's texts
    reasons = set(re.findall(r'reason="([a-z_]+)"', (PACKAGE / "repairs.py").read_text()))
    assert (
        set(STRINGS["issues"]["webhook_url_changed"]["fix_flow"]["abort"]) == reasons == {"entry_removed", "no_address"}
    )
    # A modem's registration, raised by modem_issues
    others |= {REGISTRATION_DENIED, NOT_REGISTERED}
    assert set(ENTRY_ISSUES) | others == set(STRINGS["issues"])


def test_brand_images() -> None:
    """Icons are square (256 and 512 px), logos 128 and 256 px high, light and dark (Home Assistant 2026.3+)."""
    from PIL import Image  # noqa: PLC0415 - Pillow comes with Home Assistant

    brand = PACKAGE / "brand"
    for prefix in ("", "dark_"):
        for name, size in (("icon.png", (256, 256)), ("icon@2x.png", (512, 512))):
            with Image.open(brand / f"{prefix}{name}") as image:
                assert image.size == size
        for name, height in (("logo.png", 128), ("logo@2x.png", 256)):
            with Image.open(brand / f"{prefix}{name}") as image:
                assert image.size[1] == height
                assert image.size[0] >= height


def test_quality_scale_is_complete() -> None:
    """Every rule is done or exempt with a reason."""
    rules = yaml.safe_load((PACKAGE / "quality_scale.yaml").read_text())["rules"]
    for name, rule in rules.items():
        status = rule if isinstance(rule, str) else rule["status"]
        assert status in ("done", "exempt"), name
        if status == "exempt":
            assert rule["comment"], name


def test_every_config_flow_field_has_a_label_and_a_description() -> None:
    """Setup, reconfigure, reauthentication and recipient forms: each field has both texts; none is left over."""
    steps = STRINGS["config"]["step"]

    def fields(schema: vol.Schema) -> set[str]:
        return {str(key) for key in schema.schema}

    def covers(step: dict[str, Any], shown: set[str]) -> None:
        assert shown <= set(step["data"]), shown - set(step["data"])
        assert shown <= set(step["data_description"]), shown - set(step["data_description"])

    every: set[str] = set()
    for key, schema in SCHEMAS.items():
        covers(steps[str(key)], fields(schema))
        covers(steps["reconfigure"], fields(RECONFIGURE_SCHEMAS[key]))
        assert fields(schema) == set(steps[str(key)]["data"]), key
        every |= fields(RECONFIGURE_SCHEMAS[key])
    assert every == set(steps["reconfigure"]["data"]) == set(steps["reconfigure"]["data_description"])
    reauth = set().union(*(fields(schema) for schema in REAUTH_SCHEMAS.values()))
    covers(steps["reauth_confirm"], reauth)
    assert reauth == set(steps["reauth_confirm"]["data"]) == set(steps["reauth_confirm"]["data_description"])
    for step in STRINGS["config_subentries"]["recipient"]["step"].values():
        covers(step, fields(RECIPIENT_SCHEMA))
        assert set(step["data"]) == fields(RECIPIENT_SCHEMA)


def _leaves(tree: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], str]:
    """Every text of a translation file by its key path."""
    if isinstance(tree, dict):
        found: dict[tuple[str, ...], str] = {}
        for key, value in tree.items():
            found.update(_leaves(value, (*path, key)))
        return found
    return {path: tree}


@pytest.mark.parametrize(
    "language", sorted(p.stem for p in (PACKAGE / "translations").glob("*.json") if p.stem != "en")
)
def test_translations_match_the_english_keys_and_placeholders(language: str) -> None:
    """A translation has every text the English file has, no other, with the same {placeholders}, translated."""
    english = _leaves(STRINGS)
    other = _leaves(json.loads((PACKAGE / "translations" / f"{language}.json").read_text()))
    assert set(other) == set(english)
    for path, text in english.items():
        assert set(re.findall(r"{(\w+)}", other[path])) == set(re.findall(r"{(\w+)}", text)), path
        assert other[path].strip(), path
    names = {"brevis.one SMS Gateway", "IPEX / Voipex SMS API"}  # product names stay as they are
    same = [path for path, text in english.items() if other[path] == text and len(text) > 20 and text not in names]
    assert not same, f"left in English: {same}"


async def test_home_assistant_reads_the_german_texts(hass: HomeAssistant) -> None:
    """Home Assistant loads de.json for a user whose language is German."""
    texts = await translation.async_get_translations(hass, "de", "issues", [DOMAIN])
    assert texts[f"component.{DOMAIN}.issues.webhook_url_changed.title"] == (
        "{entry}: SMS Chat ruft eine Adresse auf, die Home Assistant nicht mehr erreicht"
    )
    config = await translation.async_get_translations(hass, "de", "config", [DOMAIN])
    assert config[f"component.{DOMAIN}.config.step.user.title"] == "Wähle deinen SMS-Anbieter"


def _strings(node: Any, path: str = "") -> list[tuple[str, str]]:
    """Every string of a translation file, with its path."""
    if isinstance(node, dict):
        return [found for key, value in node.items() for found in _strings(value, f"{path}.{key}")]
    return [(path, node)] if isinstance(node, str) else []


@pytest.mark.parametrize("language", ["en", "de"])
def test_no_html_like_text_in_translations(language: str) -> None:
    """The frontend reads `<…>` as a tag and shows "Translation error: INVALID_TAG"; hassfest refuses it too."""
    path = Path(__file__).parents[1] / f"custom_components/{DOMAIN}/translations/{language}.json"
    tagged = [key for key, text in _strings(json.loads(path.read_text(encoding="utf-8"))) if re.search(r"<\S", text)]
    assert tagged == []


# home-assistant/core:script/hassfest/manifest.py @7d56dcb02e6cfa1cb6a876c64c128b309d658d4a: the custom
# integration manifest schema refuses unknown keys (vol.Schema default), and usb vid/pid must be upper case
# (verify_uppercase). Keys of INTEGRATION_MANIFEST_SCHEMA plus version and import_executor.
MANIFEST_KEYS = {
    "after_dependencies", "bluetooth", "codeowners", "config_flow", "dependencies", "dhcp", "disabled",
    "documentation", "domain", "homekit", "import_executor", "integration_type", "iot_class", "issue_tracker",
    "loggers", "mqtt", "name", "quality_scale", "requirements", "single_config_entry", "ssdp", "usb",
    "version", "zeroconf",
}  # fmt: skip
USB_KEYS = {"vid", "pid", "serial_number", "manufacturer", "description", "known_devices"}


def test_manifest_has_only_keys_hassfest_knows() -> None:
    """An unknown manifest key, or a lower-case USB id, fails hassfest's manifest schema."""
    assert set(MANIFEST) <= MANIFEST_KEYS, set(MANIFEST) - MANIFEST_KEYS
    for matcher in MANIFEST["usb"]:
        assert set(matcher) <= USB_KEYS, matcher
        assert all(matcher[key] == matcher[key].upper() for key in ("vid", "pid") if key in matcher), matcher


# hacs/integration:custom_components/hacs/utils/validate.py @3249355704d1a716e637d4d044b6cb4ae72dc271:
# HACS_MANIFEST_JSON_SCHEMA (extra=PREVENT_EXTRA, name required) is what validate/hacsjson.py applies;
# INTEGRATION_MANIFEST_JSON_SCHEMA (codeowners list; documentation, issue_tracker URLs; domain, name, version)
# is what validate/integration_manifest.py applies; validate/brands.py passes on a local brand/icon.png.
HACS_JSON_SCHEMA = vol.Schema(
    {
        vol.Optional("content_in_root"): bool,
        vol.Optional("country"): vol.Any(str, [str]),
        vol.Optional("filename"): str,
        vol.Optional("hacs"): str,
        vol.Optional("hide_default_branch"): bool,
        vol.Optional("homeassistant"): str,
        vol.Optional("persistent_directory"): str,
        vol.Optional("render_readme"): bool,
        vol.Optional("zip_release"): bool,
        vol.Required("name"): str,
    }
)


def test_hacs_validation_schemas() -> None:
    """hacs.json and the manifest pass the checks of the HACS action that need no GitHub API."""
    hacs = json.loads((ROOT / "hacs.json").read_text())
    HACS_JSON_SCHEMA(hacs)
    assert not hacs.get("zip_release") or hacs.get("filename")
    assert isinstance(MANIFEST["codeowners"], list)
    for key in ("documentation", "issue_tracker"):
        assert re.fullmatch(r"https?://\S+", MANIFEST[key]), key
    for key in ("domain", "name", "version"):
        assert isinstance(MANIFEST[key], str)
        assert MANIFEST[key]
    assert (PACKAGE / "brand" / "icon.png").is_file()
    assert any((ROOT / name).is_file() for name in ("README.md", "info.md"))
