"""The subentry flow of an alert source: kind, recipients, routes, a generic source's fields, then its setup text."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import voluptuous as vol
from homeassistant.components import webhook
from homeassistant.config_entries import ConfigSubentry, ConfigSubentryFlow, SubentryFlowResult
from homeassistant.const import CONF_NAME, CONF_WEBHOOK_ID
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TemplateSelector,
    TextSelector,
    TextSelectorConfig,
)

from .alert_source_config import (
    CONF_ANNOUNCE_ACK,
    CONF_ESCALATION,
    CONF_ESCALATION_REPEAT,
    CONF_ESCALATION_SEVERITY,
    CONF_FIELDS,
    CONF_KIND,
    CONF_LOCAL_ONLY,
    CONF_MESSAGE_TEMPLATE,
    CONF_RECIPIENTS,
    CONF_RESOLVED_TEMPLATE,
    CONF_ROUTES,
    CONF_SEND_RESOLVED,
    CONF_TOKEN,
    load_policy,
    policy_data,
    source_url,
)
from .alert_texts import template_error
from .alerts.escalation import MAX_REPEAT, PolicyError, parse_policy, policy_text
from .alerts.generic import FIELD_NAMES, FieldPathError, GenericFields
from .alerts.models import Severity, SourceKind
from .alerts.routing import RouteError, load_routes, parse_lines, route_line
from .alerts.setup import GENERIC_EXAMPLE_FIELDS, setup_text
from .const import SUBENTRY_ALERT_SOURCE
from .recipients import recipient_names

CONF_RESOLVED_VALUES = "resolved"
_PATH = TextSelector()
_FIELD_MARKERS: dict[vol.Marker, Any] = {vol.Required("name"): _PATH}
_FIELD_MARKERS.update({vol.Optional(key): _PATH for key in FIELD_NAMES if key != "name"})
_FIELD_MARKERS[vol.Optional(CONF_RESOLVED_VALUES)] = _PATH
_FIELDS_SCHEMA = vol.Schema(_FIELD_MARKERS)
# Home Assistant templates of a source's SMS, checked when the form is sent
_TEMPLATES = (CONF_MESSAGE_TEMPLATE, CONF_RESOLVED_TEMPLATE)


class _TemplateField(TemplateSelector):
    """The template editor, taking any text: the step checks it and names a bad one with a translated error.

    TemplateSelector itself refuses a bad template before the step sees it, with an untranslated message.
    """

    def __call__(self, data: Any) -> str:
        """Take the text as it is."""
        return str(data)


class AlertSourceSubentryFlow(ConfigSubentryFlow):
    """Add or change an alert source; the address and the secret are shown before it is saved, and when edited."""

    def __init__(self) -> None:
        """Start with nothing chosen."""
        self._data: dict[str, Any] = {}
        self._title = ""

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Name, kind, recipients and routes of a new source."""
        return await self._async_step_source("user", user_input)

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Change a source; its address and secret stay, and are shown with the setup text."""
        return await self._async_step_source("reconfigure", user_input)

    def _current(self) -> ConfigSubentry | None:
        """Return the source being changed, if it is."""
        return self._get_reconfigure_subentry() if self.source == "reconfigure" else None

    def _recipients(self) -> dict[str, str]:
        """Return the entry's recipients: subentry id to name."""
        return recipient_names(self._get_entry())

    def _schema(self) -> vol.Schema:
        """Return the form of a source."""
        recipients = [SelectOptionDict(value=key, label=name) for key, name in self._recipients().items()]
        return vol.Schema(
            {
                vol.Required(CONF_NAME): TextSelector(),
                vol.Required(CONF_KIND, default=SourceKind.ALERTMANAGER.value): SelectSelector(
                    SelectSelectorConfig(
                        options=[kind.value for kind in SourceKind],
                        translation_key="source_kind",
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                ),
                vol.Optional(CONF_RECIPIENTS, default=[]): SelectSelector(
                    SelectSelectorConfig(options=recipients, multiple=True, mode=SelectSelectorMode.DROPDOWN)
                ),
                vol.Required(CONF_SEND_RESOLVED, default=True): BooleanSelector(),
                vol.Optional(CONF_ROUTES): TextSelector(TextSelectorConfig(multiline=True)),
                vol.Required(CONF_LOCAL_ONLY, default=True): BooleanSelector(),
                vol.Optional(CONF_ESCALATION): TextSelector(TextSelectorConfig(multiline=True)),
                vol.Required(CONF_ESCALATION_SEVERITY, default=Severity.CRITICAL.value): SelectSelector(
                    SelectSelectorConfig(
                        options=[severity.value for severity in Severity],
                        translation_key="severity",
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                ),
                vol.Required(CONF_ESCALATION_REPEAT, default=0): NumberSelector(
                    NumberSelectorConfig(min=0, max=MAX_REPEAT, step=1, mode=NumberSelectorMode.BOX)
                ),
                vol.Required(CONF_ANNOUNCE_ACK, default=True): BooleanSelector(),
                vol.Optional(CONF_MESSAGE_TEMPLATE): _TemplateField(),
                vol.Optional(CONF_RESOLVED_TEMPLATE): _TemplateField(),
            }
        )

    async def _async_step_source(self, step_id: str, user_input: dict[str, Any] | None) -> SubentryFlowResult:
        """Check the name and the routes; a generic source goes on to its fields, any other to the setup text."""
        current = self._current()
        errors: dict[str, str] = {}
        problem = {"line": "", "recipient": ""}
        if user_input is not None:
            name = str(user_input[CONF_NAME]).strip()
            taken = any(
                sub.title.casefold() == name.casefold() and sub is not current
                for sub in self._get_entry().subentries.values()
                if sub.subentry_type == SUBENTRY_ALERT_SOURCE
            )
            names = {title: key for key, title in self._recipients().items()}
            try:
                routes = parse_lines(str(user_input.get(CONF_ROUTES) or "").splitlines(), names)
            except RouteError as err:
                errors[CONF_ROUTES] = err.key
                routes = ()
            severity = Severity(user_input[CONF_ESCALATION_SEVERITY])
            repeat = int(user_input[CONF_ESCALATION_REPEAT])
            try:
                policy = parse_policy(
                    str(user_input.get(CONF_ESCALATION) or ""), names, repeat=repeat, severity=severity
                )
            except PolicyError as err:
                errors[CONF_ESCALATION] = err.key
                problem = {"line": str(err.line), "recipient": err.detail}
            templates = {key: str(user_input.get(key) or "").strip() for key in _TEMPLATES}
            errors.update(
                {key: "invalid_template" for key, text in templates.items() if template_error(self.hass, text)}
            )
            if not name:
                errors[CONF_NAME] = "name_required"
            elif taken:
                errors[CONF_NAME] = "name_taken"
            if not errors:
                self._title = name
                self._data = {
                    **(dict(current.data) if current is not None else {}),
                    CONF_KIND: user_input[CONF_KIND],
                    CONF_RECIPIENTS: [key for key in user_input.get(CONF_RECIPIENTS, []) if key in self._recipients()],
                    CONF_SEND_RESOLVED: bool(user_input[CONF_SEND_RESOLVED]),
                    CONF_LOCAL_ONLY: bool(user_input[CONF_LOCAL_ONLY]),
                    CONF_ROUTES: [route.as_dict() for route in routes],
                    CONF_ESCALATION: policy_data(policy),
                    CONF_ESCALATION_SEVERITY: severity.value,
                    CONF_ESCALATION_REPEAT: repeat,
                    CONF_ANNOUNCE_ACK: bool(user_input[CONF_ANNOUNCE_ACK]),
                    **templates,
                }
                self._data.setdefault(CONF_WEBHOOK_ID, webhook.async_generate_id())
                self._data.setdefault(CONF_TOKEN, secrets.token_urlsafe(32))
                if user_input[CONF_KIND] == SourceKind.GENERIC:
                    return await self.async_step_fields()
                self._data.pop(CONF_FIELDS, None)
                return await self._async_finish()
        suggested = user_input or self._suggested(current)
        return self.async_show_form(
            step_id=step_id,
            data_schema=self.add_suggested_values_to_schema(self._schema(), suggested),
            errors=errors,
            description_placeholders={
                **self._placeholders(current.data if current is not None else None),
                **problem,
            },
        )

    def _suggested(self, current: ConfigSubentry | None) -> dict[str, Any]:
        """Return the form's values of a source being changed."""
        if current is None:
            return {}
        names = self._recipients()
        lines = [route_line(route, names) for route in load_routes(current.data.get(CONF_ROUTES))]
        suggested = {**current.data, CONF_NAME: current.title, CONF_ROUTES: "\n".join(lines)}
        try:
            policy = load_policy(current.data, {name: key for key, name in names.items()})
        except ValueError:
            suggested.pop(CONF_ESCALATION, None)
        else:
            suggested[CONF_ESCALATION] = policy_text(policy, names)
        return suggested

    def _placeholders(self, data: Mapping[str, Any] | None) -> dict[str, str]:
        """Return the address, the secret and the setup text of a source (empty before it has them)."""
        if data is None:
            return {"url": "", "token": "", "setup": ""}
        url = source_url(self.hass, data[CONF_WEBHOOK_ID], local_only=bool(data.get(CONF_LOCAL_ONLY, True)))
        token = str(data[CONF_TOKEN])
        return {"url": url, "token": token, "setup": setup_text(data[CONF_KIND], url, token)}

    async def async_step_fields(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Where a generic source's body holds each field (simple JSONPath)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            config: dict[str, Any] = {key: user_input[key].strip() for key in FIELD_NAMES if user_input.get(key)}
            if resolved := str(user_input.get(CONF_RESOLVED_VALUES) or "").strip():
                config[CONF_RESOLVED_VALUES] = [value.strip() for value in resolved.split(",") if value.strip()]
            try:
                GenericFields.from_config(config)
            except FieldPathError:
                errors["base"] = "invalid_field_path"
            else:
                self._data[CONF_FIELDS] = config
                return await self._async_finish()
        stored = dict(self._data.get(CONF_FIELDS) or GENERIC_EXAMPLE_FIELDS)
        if isinstance(stored.get(CONF_RESOLVED_VALUES), list):
            stored[CONF_RESOLVED_VALUES] = ", ".join(stored[CONF_RESOLVED_VALUES])
        return self.async_show_form(
            step_id="fields",
            data_schema=self.add_suggested_values_to_schema(_FIELDS_SCHEMA, user_input or stored),
            errors=errors,
        )

    async def _async_finish(self) -> SubentryFlowResult:
        """Save a changed source, or show a new one's setup text before it is saved."""
        current = self._current()
        if current is not None:
            return self.async_update_and_abort(self._get_entry(), current, title=self._title, data=self._data)
        return await self.async_step_setup()

    async def async_step_setup(self, user_input: dict[str, Any] | None = None) -> SubentryFlowResult:
        """Show the address, the secret and the setup text; submitting saves the source."""
        if user_input is not None:
            return self.async_create_entry(title=self._title, data=self._data, unique_id=self._data[CONF_WEBHOOK_ID])
        return self.async_show_form(
            step_id="setup", data_schema=vol.Schema({}), description_placeholders=self._placeholders(self._data)
        )
