"""What current hassfest checks in translations, services, icons and the quality scale: compact checks of our own.

Facts taken from Home Assistant core (no code copied):
- script/hassfest/translations.py @00a70521: the schema of strings (config, config_subentries with a required
  entry_type and initiate_flow.user, options, issues, entity, exceptions, services with fields and sections,
  selector, device) and the rules for every text: no HTML, no placeholder in single quotes, placeholders
  are identifiers (none in entity states), no combined reference, no leading or trailing space, no URL;
  data_description keys are data keys. Keys of services, fields, sections, states and selector options are
  translation keys (lower case, digits, - and _, not at either end, never two in a row).
- helpers/config_validation.py string_with_no_html (`<[a-z].*?>`); the project refuses any `<` before a
  non-space, which the frontend reads as a tag ("Translation error: INVALID_TAG").
- script/hassfest/icons.py @23d4f3ba: every icon starts with mdi:, entity icons by platform and translation
  key with default, state and state_attributes, a state icon never the same as the default. Service icons
  are `{"service": …, "sections": {…}}`, as core's own icons.json in 2026.10.4 (habitica/icons.json).
- script/hassfest/quality_scale.py @008538e8: the 54 rules below and the quality_scale.yaml schema (a rule is
  todo or done, or a mapping of status todo/done with a comment, or status exempt with a comment).
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest
import yaml

from custom_components.sms_alerts.config_flow import SmsAlertsConfigFlow

PACKAGE = Path(__file__).parents[1] / "custom_components" / "sms_alerts"

# script/hassfest/quality_scale.py @008538e822535b1d6155c91f6642127afa184ed1 (ALL_RULES), by tier
RULES = {
    "bronze": [
        "action-setup",
        "appropriate-polling",
        "brands",
        "common-modules",
        "config-flow",
        "config-flow-test-coverage",
        "dependency-transparency",
        "docs-actions",
        "docs-conditions",
        "docs-high-level-description",
        "docs-installation-instructions",
        "docs-removal-instructions",
        "docs-triggers",
        "entity-event-setup",
        "entity-unique-id",
        "has-entity-name",
        "runtime-data",
        "test-before-configure",
        "test-before-setup",
        "unique-config-entry",
    ],
    "silver": [
        "action-exceptions",
        "config-entry-unloading",
        "docs-configuration-parameters",
        "docs-installation-parameters",
        "entity-unavailable",
        "integration-owner",
        "log-when-unavailable",
        "parallel-updates",
        "reauthentication-flow",
        "test-coverage",
    ],
    "gold": [
        "devices",
        "diagnostics",
        "discovery",
        "discovery-update-info",
        "docs-data-update",
        "docs-examples",
        "docs-known-limitations",
        "docs-supported-devices",
        "docs-supported-functions",
        "docs-troubleshooting",
        "docs-use-cases",
        "dynamic-devices",
        "entity-category",
        "entity-device-class",
        "entity-disabled-by-default",
        "entity-translations",
        "exception-translations",
        "icon-translations",
        "reconfiguration-flow",
        "repair-issues",
        "stale-devices",
    ],
    "platinum": ["async-dependency", "inject-websession", "strict-typing"],
}
ALL_RULES = [rule for tier in RULES.values() for rule in tier]

TAG = re.compile(r"<\S")  # stricter than hassfest's <[a-z].*?>: `<id or name>` is refused too
QUOTED_PLACEHOLDER = re.compile(r"'\{\w+\}'")
COMBINED_REFERENCE = re.compile(r"(.+\[%)|(%\].+)")
WEB_ADDRESS = re.compile(
    r"((ftps?|scp|https?|mqtts?|socket|socks5)://|www\.)[a-z0-9]+([-.][a-z0-9]+)*\.[a-z]{2,5}", re.IGNORECASE
)
TRANSLATION_KEY = re.compile(r"^(?!.+[_-]{2})(?![_-])[a-z0-9_-]+(?<![_-])$")
SLUG = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)*$")


# A compact schema: a text, a name, a mapping with fixed keys, or a mapping of any keys of one kind


@dataclass(frozen=True)
class Text:
    """A translated text; `placeholders` False where hassfest allows none (entity states, units)."""

    placeholders: bool = True


NAME = "name"  # hassfest takes field and section names as plain strings; the project still refuses tags


@dataclass(frozen=True)
class Keys:
    """A mapping with these keys (required ones marked), and no other."""

    required: dict[str, Any] = field(default_factory=dict)
    optional: dict[str, Any] = field(default_factory=dict)
    extra: Any = None  # the spec of any other key, where hassfest allows them
    check: Callable[[dict[str, Any]], list[str]] | None = None


@dataclass(frozen=True)
class Each:
    """A mapping whose keys pass `key` and whose values follow `spec`."""

    spec: Any
    key: re.Pattern[str] | None = None


def text_problems(path: str, value: Any, *, placeholders: bool = True) -> list[str]:
    """What hassfest (and the frontend) would refuse in one text."""
    if not isinstance(value, str):
        return [f"{path}: not a string"]
    found = []
    if TAG.search(value):
        found.append(f"{path}: HTML-like text")
    if QUOTED_PLACEHOLDER.search(value):
        found.append(f"{path}: placeholder in single quotes")
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(value) if name is not None]
    except ValueError:
        names, found = [], [*found, f"{path}: unbalanced braces"]
    if names and not placeholders:
        found.append(f"{path}: no placeholders allowed here")
    found += [f"{path}: placeholder {{{name}}} is no identifier" for name in names if not name.isidentifier()]
    if COMBINED_REFERENCE.search(value):
        found.append(f"{path}: combined reference")
    if value != value.strip():
        found.append(f"{path}: leading or trailing space")
    if WEB_ADDRESS.search(value):
        found.append(f"{path}: a URL (hassfest wants a placeholder)")
    return found


def problems(value: Any, spec: Any, path: str = "") -> list[str]:
    """Check a tree against a compact schema; return what is wrong, by path."""
    if isinstance(spec, Text):
        return text_problems(path, value, placeholders=spec.placeholders)
    if spec == NAME:
        return text_problems(path, value) if isinstance(value, str) else [f"{path}: not a string"]
    if not isinstance(value, dict):
        return [f"{path}: not a mapping"]
    found: list[str] = []
    if isinstance(spec, Each):
        for key, item in value.items():
            if spec.key is not None and not spec.key.match(key):
                found.append(f"{path}.{key}: not a valid key")
            found += problems(item, spec.spec, f"{path}.{key}")
        return found
    found += [f"{path}.{key}: missing" for key in spec.required if key not in value]
    for key, item in value.items():
        sub = spec.required.get(key, spec.optional.get(key, spec.extra))
        found += [f"{path}.{key}: not allowed here"] if sub is None else problems(item, sub, f"{path}.{key}")
    if spec.check is not None:
        found += [f"{path}: {problem}" for problem in spec.check(value)]
    return found


def _descriptions_of_data(step: dict[str, Any]) -> list[str]:
    """data_description keys must be data keys."""
    return [
        f"data_description.{key} has no data"
        for key in step.get("data_description", {})
        if key not in step.get("data", {})
    ]


def _one_of_description_or_fix_flow(issue: dict[str, Any]) -> list[str]:
    """An issue has a description or a fix flow, not both."""
    return [] if ("description" in issue) != ("fix_flow" in issue) else ["needs exactly one of description, fix_flow"]


TEXTS = Each(Text())
STEP = Keys(
    optional={
        "title": Text(),
        "description": Text(),
        "data": TEXTS,
        "data_description": TEXTS,
        "menu_options": TEXTS,
        "menu_option_descriptions": TEXTS,
        "submit": Text(),
        "sections": Each(
            Keys(optional={"name": Text(), "description": Text(), "data": TEXTS, "data_description": TEXTS})
        ),
    },
    check=_descriptions_of_data,
)


def flow(*, subentry: bool = False) -> Keys:
    """A config, options, subentry or fix flow."""
    optional: dict[str, Any] = {
        "flow_title": Text(),
        "error": TEXTS,
        "abort": TEXTS,
        "progress": TEXTS,
        "create_entry": TEXTS,
    }
    required: dict[str, Any] = {"step": Each(STEP)}
    if subentry:
        required |= {"entry_type": Text(), "initiate_flow": Keys(required={"user": Text()}, extra=Text())}
    else:
        optional["initiate_flow"] = Keys(required={"user": Text()})
    return Keys(required=required, optional=optional)


STATES = Each(Text(placeholders=False), TRANSLATION_KEY)
STRINGS = Keys(
    optional={
        "title": Text(),
        "config": flow(),
        "config_subentries": Each(flow(subentry=True), SLUG),
        "options": flow(),
        "issues": Each(
            Keys(
                required={"title": Text()},
                optional={"description": Text(), "fix_flow": flow()},
                check=_one_of_description_or_fix_flow,
            )
        ),
        "entity": Each(
            Each(
                Keys(
                    optional={
                        "name": Text(),
                        "state": STATES,
                        "state_attributes": Each(
                            Keys(optional={"name": Text(placeholders=False), "state": STATES}), TRANSLATION_KEY
                        ),
                        "unit_of_measurement": Text(placeholders=False),
                    }
                ),
                TRANSLATION_KEY,
            ),
            SLUG,
        ),
        "device": Each(Keys(optional={"name": Text()}), TRANSLATION_KEY),
        "exceptions": Each(Keys(optional={"message": Text()}), SLUG),
        "services": Each(
            Keys(
                required={"name": Text(), "description": Text()},
                optional={
                    "fields": Each(
                        Keys(required={"name": NAME, "description": Text()}, optional={"example": Text()}),
                        TRANSLATION_KEY,
                    ),
                    "sections": Each(Keys(required={"name": NAME}, optional={"description": Text()}), TRANSLATION_KEY),
                },
            ),
            TRANSLATION_KEY,
        ),
        "selector": Each(
            Keys(
                optional={
                    "options": Each(Text(), TRANSLATION_KEY),
                    "choices": Each(Text(), TRANSLATION_KEY),
                    "unit_of_measurement": Each(Text(), TRANSLATION_KEY),
                    "fields": Each(Keys(required={"name": NAME, "description": Text()}), TRANSLATION_KEY),
                }
            ),
            SLUG,
        ),
    }
)


def _icon_problems(path: str, value: Any) -> list[str]:
    """An icon is a Material Design Icon without HTML."""
    if not isinstance(value, str) or not value.startswith("mdi:"):
        return [f"{path}: not an mdi: icon"]
    return [f"{path}: HTML-like text"] if TAG.search(value) else []


def icons_problems(icons: Any) -> list[str]:
    """Check icons.json as hassfest does for an integration that is not an entity component."""
    if not isinstance(icons, dict):
        return ["icons.json: not a mapping"]
    found = [f"icons.{key}: not allowed here" for key in icons if key not in ("entity", "services")]
    for platform, keys in icons.get("entity", {}).items():
        found += [] if SLUG.match(platform) else [f"icons.entity.{platform}: not a valid key"]
        for key, entry in keys.items():
            found += _entity_icon_problems(f"icons.entity.{platform}.{key}", key, entry)
    for service, entry in icons.get("services", {}).items():
        found += _service_icon_problems(f"icons.services.{service}", service, entry)
    return found


def _entity_icon_problems(path: str, key: str, entry: dict[str, Any]) -> list[str]:
    """One entity's icons: default, by state (never the default again), by attribute."""
    found = [] if TRANSLATION_KEY.match(key) else [f"{path}: not a valid key"]
    found += [
        f"{path}.{name}: not allowed here" for name in entry if name not in ("default", "state", "state_attributes")
    ]
    if "default" in entry:
        found += _icon_problems(f"{path}.default", entry["default"])
    for state, icon in entry.get("state", {}).items():
        found += _icon_problems(f"{path}.state.{state}", icon)
        found += [f"{path}.state.{state}: same as the default"] if icon == entry.get("default") else []
    for attribute, sub in entry.get("state_attributes", {}).items():
        found += _icon_problems(f"{path}.state_attributes.{attribute}.default", sub.get("default"))
        for state, icon in sub.get("state", {}).items():
            found += _icon_problems(f"{path}.state_attributes.{attribute}.state.{state}", icon)
    return found


def _service_icon_problems(path: str, service: str, entry: Any) -> list[str]:
    """One action's icons: the action's own and its sections'."""
    found = [] if TRANSLATION_KEY.match(service) else [f"{path}: not a valid key"]
    if not isinstance(entry, dict):
        return [*found, f"{path}: not a mapping of service and sections"]
    found += [f"{path}.{name}: not allowed here" for name in entry if name not in ("service", "sections")]
    found += _icon_problems(f"{path}.service", entry.get("service"))
    for section, icon in entry.get("sections", {}).items():
        found += _icon_problems(f"{path}.sections.{section}", icon)
    return found


class _UniqueKeys(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice (PyYAML keeps the last silently)."""


def _unique_mapping(loader: _UniqueKeys, node: yaml.MappingNode) -> dict[Any, Any]:
    """Build a mapping; a repeated key is an error."""
    keys = [loader.construct_object(key) for key, _ in node.value]
    repeated = sorted({str(key) for key in keys if keys.count(key) > 1})
    if repeated:
        raise yaml.constructor.ConstructorError(None, None, f"repeated keys: {repeated}", node.start_mark)
    return loader.construct_mapping(node)


_UniqueKeys.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def quality_scale_problems(text: str) -> list[str]:
    """Check quality_scale.yaml: each current rule once, with an allowed status; exempt and mapped ones commented."""
    try:
        rules = yaml.load(text, Loader=_UniqueKeys)["rules"]  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        return [str(err).splitlines()[0]]
    found = [f"{rule}: missing" for rule in ALL_RULES if rule not in rules]
    found += [f"{rule}: no such rule" for rule in rules if rule not in ALL_RULES]
    for rule, value in rules.items():
        if isinstance(value, str):
            found += [] if value in ("todo", "done") else [f"{rule}: status {value!r} needs a mapping with a comment"]
        elif not isinstance(value, dict) or set(value) != {"status", "comment"}:
            found.append(f"{rule}: a mapping takes exactly status and comment")
        elif value["status"] not in ("todo", "done", "exempt") or not str(value["comment"]).strip():
            found.append(f"{rule}: status must be todo, done or exempt, with a comment")
    return found


# The checks, on the integration's own files


def _translations(language: str) -> dict[str, Any]:
    """A translation file."""
    return dict(json.loads((PACKAGE / "translations" / f"{language}.json").read_text(encoding="utf-8")))


def _services() -> dict[str, Any]:
    """services.yaml."""
    return dict(yaml.safe_load((PACKAGE / "services.yaml").read_text(encoding="utf-8")))


def _all_strings(node: Any, path: str = "") -> list[tuple[str, str]]:
    """Every string in a tree (YAML or JSON), with its path."""
    if isinstance(node, dict):
        return [found for key, value in node.items() for found in _all_strings(value, f"{path}.{key}")]
    if isinstance(node, list):
        return [found for index, value in enumerate(node) for found in _all_strings(value, f"{path}[{index}]")]
    return [(path, node)] if isinstance(node, str) else []


@pytest.mark.parametrize("language", ["en", "de"])
def test_translations_follow_the_hassfest_schema(language: str) -> None:
    """Every section and text of the translation file passes what hassfest checks."""
    assert problems(_translations(language), STRINGS, language) == []


@pytest.mark.parametrize("language", ["en", "de"])
def test_form_descriptions_have_no_stray_markdown(language: str) -> None:
    """The frontend renders descriptions as markdown: a `~` outside a code span strikes text through (`=~` twice)."""
    stray = [
        path
        for path, text in _all_strings(_translations(language))
        if "description" in path and "~" in re.sub(r"`[^`]*`", "", text)
    ]
    assert stray == []


def test_no_html_like_text_in_services_yaml_or_icons() -> None:
    """services.yaml (names, descriptions, examples, selector options) and icons.json hold no tag either."""
    icons = json.loads((PACKAGE / "icons.json").read_text(encoding="utf-8"))
    tagged = [path for path, text in _all_strings(_services()) + _all_strings(icons) if TAG.search(text)]
    assert tagged == []


def _fields_and_sections(service: dict[str, Any]) -> tuple[set[str], set[str]]:
    """The fields of a service, those in sections included, and its sections."""
    fields: set[str] = set()
    sections: set[str] = set()
    for name, spec in (service.get("fields") or {}).items():
        if isinstance(spec, dict) and "fields" in spec:
            sections.add(name)
            fields |= set(spec["fields"])
        else:
            fields.add(name)
    return fields, sections


@pytest.mark.parametrize("language", ["en", "de"])
def test_services_fields_sections_and_selector_options_are_translated(language: str) -> None:
    """Each action, field and section of services.yaml has its texts; each select option its label."""
    strings = _translations(language)
    services = _services()
    assert set(strings["services"]) == set(services)
    for name, service in services.items():
        fields, sections = _fields_and_sections(service)
        assert set(strings["services"][name].get("fields", {})) == fields, name
        assert set(strings["services"][name].get("sections", {})) == sections, name
        for path, spec in _all_selectors(service):
            key = spec.get("translation_key")
            if key is not None:
                options = {str(option) for option in spec["options"]}
                assert options <= set(strings["selector"][key]["options"]), path


def _all_selectors(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every select selector in a services.yaml tree."""
    if not isinstance(node, dict):
        return []
    found = [(path, node["select"])] if isinstance(node.get("select"), dict) else []
    for key, value in node.items():
        found += _all_selectors(value, f"{path}.{key}")
    return found


@pytest.mark.parametrize("language", ["en", "de"])
def test_config_subentries_match_the_flow(language: str) -> None:
    """Each subentry type the flow offers is translated (entry type, initiate flow), and only those."""
    subentries = _translations(language)["config_subentries"]
    assert set(subentries) == set(SmsAlertsConfigFlow.async_get_supported_subentry_types(MagicMock()))
    for name, texts in subentries.items():
        assert set(texts["initiate_flow"]) <= set(texts["step"]), name


def test_icons_follow_the_hassfest_schema() -> None:
    """icons.json passes the schema; it names every action and section, and only translated entities."""
    icons = json.loads((PACKAGE / "icons.json").read_text(encoding="utf-8"))
    assert icons_problems(icons) == []
    services = _services()
    assert set(icons["services"]) == set(services)
    for name, service in services.items():
        assert set(icons["services"][name].get("sections", {})) == _fields_and_sections(service)[1], name
    entities = _translations("en")["entity"]
    for platform, keys in icons["entity"].items():
        assert set(keys) <= set(entities[platform]), platform


def test_quality_scale_lists_every_current_rule_once() -> None:
    """All 54 rules, each once with an allowed status; exempt ones say why. Platinum: none is todo."""
    assert len(ALL_RULES) == len(set(ALL_RULES)) == 54
    text = (PACKAGE / "quality_scale.yaml").read_text(encoding="utf-8")
    assert quality_scale_problems(text) == []
    rules = yaml.safe_load(text)["rules"]
    todo = [name for name, rule in rules.items() if (rule if isinstance(rule, str) else rule["status"]) == "todo"]
    assert todo == []


# The checks can fail: each refuses what hassfest refuses


def test_the_translation_checks_refuse_what_hassfest_refuses() -> None:
    """Tags, quoted or invalid placeholders, URLs, spaces, missing parts and unknown keys are found."""
    bad = {
        "config": {"step": {"user": {"data": {"a": "A"}, "data_description": {"b": "<id or name>"}}}},
        "config_subentries": {"recipient": {"step": {}, "initiate_flow": {"edit": "Edit"}}},
        "services": {
            "send": {
                "name": "Send",
                "description": " Sends to 'http://example.com/x'",
                "fields": {"target": {"name": "<b>Targets</b>"}},
                "sections": {"Options": {"description": "Put '{this}' here"}},
            }
        },
        "entity": {"sensor": {"state": {"state": {"ok": "{count} sent"}}}},
        "issues": {"a": {"title": "A {bad key}"}},
        "colors": {},
    }
    found = problems(bad, STRINGS, "en")
    for expected in (
        "en.config.step.user.data_description.b: HTML-like text",
        "en.config.step.user: data_description.b has no data",
        "en.config_subentries.recipient.entry_type: missing",
        "en.config_subentries.recipient.initiate_flow.user: missing",
        "en.services.send.description: leading or trailing space",
        "en.services.send.description: a URL (hassfest wants a placeholder)",
        "en.services.send.fields.target.name: HTML-like text",
        "en.services.send.fields.target.description: missing",
        "en.services.send.sections.Options: not a valid key",
        "en.services.send.sections.Options.name: missing",
        "en.services.send.sections.Options.description: placeholder in single quotes",
        "en.entity.sensor.state.state.ok: no placeholders allowed here",
        "en.issues.a.title: placeholder {bad key} is no identifier",
        "en.issues.a: needs exactly one of description, fix_flow",
        "en.colors: not allowed here",
    ):
        assert expected in found, (expected, found)


def test_the_icon_and_quality_scale_checks_refuse_what_hassfest_refuses() -> None:
    """An icon without mdi:, a state icon equal to the default, a flat service icon; a rule missing or twice."""
    icons = {
        "entity": {"sensor": {"queue": {"default": "mdi:tray", "state": {"full": "mdi:tray", "x": "tray"}}}},
        "services": {"send": "mdi:message", "ack": {"service": "mdi:check", "sections": {"more": "<svg>"}}},
    }
    assert icons_problems(icons) == [
        "icons.entity.sensor.queue.state.full: same as the default",
        "icons.entity.sensor.queue.state.x: not an mdi: icon",
        "icons.services.send: not a mapping of service and sections",
        "icons.services.ack.sections.more: not an mdi: icon",
    ]
    rules = "\n".join(f"  {rule}: done" for rule in ALL_RULES if rule != "docs-triggers")
    assert quality_scale_problems(f"rules:\n{rules}\n") == ["docs-triggers: missing"]
    twice = quality_scale_problems(f"rules:\n{rules}\n  docs-triggers: done\n  brands: todo\n")
    assert len(twice) == 1
    assert "repeated keys: ['brands']" in twice[0]
    exempt = f"rules:\n{rules}\n  docs-triggers: exempt\n  silver-lining: done\n"
    assert quality_scale_problems(exempt) == [
        "silver-lining: no such rule",
        "docs-triggers: status 'exempt' needs a mapping with a comment",
    ]


# home-assistant/core:script/hassfest/services.py (the version with CUSTOM_INTEGRATION_SECTION_SCHEMA): for a
# custom integration a service may have description, name, target, fields; a field example, default, required,
# advanced, selector, filter, description, name; a section description, name, collapsed and (required) fields.
# Any other key fails the schema, and a field name may be used once across all sections (unique_field_validator).
SERVICE_KEYS = {"description", "name", "target", "fields"}
FIELD_KEYS = {"example", "default", "required", "advanced", "selector", "filter", "description", "name"}
SECTION_KEYS = {"description", "name", "collapsed", "fields"}


def services_yaml_problems(services: dict[str, Any]) -> list[str]:
    """What hassfest's services.yaml schema refuses, as messages."""
    problems: list[str] = []
    for service, spec in services.items():
        if spec is None:
            continue
        problems += [f"{service}: unknown key {key}" for key in set(spec) - SERVICE_KEYS]
        seen: set[str] = set()
        for name, field_spec in (spec.get("fields") or {}).items():
            if "fields" in field_spec:
                problems += [f"{service}.{name}: unknown section key {key}" for key in set(field_spec) - SECTION_KEYS]
                inner = field_spec["fields"]
            else:
                inner = {name: field_spec}
            for inner_name, inner_spec in inner.items():
                if inner_name in seen:
                    problems.append(f"{service}.{inner_name}: field used twice")
                seen.add(inner_name)
                keys = set(inner_spec or {})
                problems += [f"{service}.{inner_name}: unknown field key {key}" for key in keys - FIELD_KEYS]
    return problems


def test_services_yaml_has_only_keys_hassfest_knows() -> None:
    """No unknown key in a service, section or field of services.yaml."""
    services = yaml.safe_load((PACKAGE / "services.yaml").read_text())
    assert services_yaml_problems(services) == []
    broken = {"send": {"bogus": 1, "fields": {"message": {"wrong": True}, "s": {"fields": {"message": {}}}}}}
    assert len(services_yaml_problems(broken)) == 3
