"""Bicom PBXware simulator: the action API and the SMS notifications endpoint as the vendor documents them."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .base import ReceivedMessage, Simulator, secret

# The vendor's API documentation ("Handling errors") and the text its Postman collection shows
# The demo keys: one with every right, one that may only send SMS
DEMO_API_KEY = secret("ha-alerts-key")
SMS_ONLY_KEY = secret("sms-only-key")
INVALID_API_KEY = "Invalid API key."
# Error texts from the vendor's SMS Notifications page (seed 004)
SMS_API_DISABLED = "SMS API is disabled"
SMS_NOT_ENABLED = "Action sms_message returned with error: ERR: SMS not enabled for this tenant: "
INVALID_SENDER = "Invalid or missing sender SMS number"
NO_SMS_NUMBER = "Destination does not have an assigned SMS number"
# Assumed texts: the vendor documents none of these
PERMISSION_DENIED = "Permission denied for this action"
TENANT_NOT_ALLOWED = "Tenant not allowed for this API key"
UNKNOWN_TENANT = "Invalid server"
UNKNOWN_ACTION = "Unknown action"
UNKNOWN_EXTENSION = "Extension not found"
INVALID_NUMBER = "to_number must be in +E.164 format"
INVALID_BODY = "body must be Base64 encoded UTF-8 text"
INVALID_REQUEST = "Invalid request: a JSON body with extension and message is required"
MISSING_PARAMETER = "Missing required parameter: {name}"

# What a PHP notice looks like with html_errors on (PHP's default for a web SAPI)
PHP_NOTICE = "<br />\n<b>Notice</b>:  Undefined index: x in /opt/pbxware/pw/api.php on line 12<br />\n"

SEND_ACTION = "pbxware.sms.send_message"
EXT_LIST_ACTION = "pbxware.ext.list"
LICENSE_ACTION = "pbxware.license.info"
# Each action and the key permission it needs
ACTIONS: dict[str, str] = {SEND_ACTION: "sms", EXT_LIST_ACTION: "ext_list", LICENSE_ACTION: "license"}
ALL_RIGHTS = frozenset(ACTIONS.values())

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class _RefusalError(Exception):
    """An error answer: the `error` text, and the status a REST-style endpoint would give it."""

    def __init__(self, text: str, status: int) -> None:
        """Keep the text and the status."""
        super().__init__(text)
        self.text = text
        self.status = status


@dataclass(kw_only=True)
class ApiKey:
    """An API key: the actions it may call, the tenants it may touch, and whether inactivity suspended it."""

    rights: frozenset[str] = ALL_RIGHTS
    tenants: frozenset[str] = frozenset({"1"})
    suspended: bool = False


@dataclass(kw_only=True)
class Tenant:
    """A tenant's SMS Settings -> Notifications, and its extensions with their SMS numbers (None: none assigned)."""

    sms_active: bool = True
    sms_api_enabled: bool = True
    sender_number: str | None = "+14165550100"
    extensions: dict[str, str | None] = field(default_factory=lambda: {"1001": "+14165551234", "1002": None})


@dataclass(kw_only=True)
class PbxwareSimulator(Simulator):
    """A PBXware server with API keys, tenants and the SMS notifications settings."""

    name = "pbxware"
    api_keys: dict[str, ApiKey] = field(
        default_factory=lambda: {
            DEMO_API_KEY: ApiKey(),
            SMS_ONLY_KEY: ApiKey(rights=frozenset({"sms"})),
        }
    )
    tenants: dict[str, Tenant] = field(default_factory=lambda: {"1": Tenant()})
    # False: the PBX predates /api/sms/notifications/voicemail and answers 404
    ext_endpoint: bool = True
    # True: the JSON endpoint answers errors with REST statuses (401, 403, 400, 415, 422) instead of 200
    ext_error_status: bool = False
    # True: a PHP notice precedes every JSON answer
    php_notice: bool = False
    # True: the answer is the PHP notice alone, without JSON
    notice_without_json: bool = False
    # Where each API request carried its key: "query", "form", "header" or "missing"
    key_sources: list[str] = field(default_factory=list)
    # True: the action API reads only the query string (PHP's $_GET), as a PBX may; a key or a field sent
    # in a POST body is then not seen. False: query string and body both count, the body winning ($_REQUEST)
    query_only: bool = False

    def __post_init__(self) -> None:
        """Set up the logs of the base class."""
        Simulator.__init__(self)
        self._next_id = 1

    def routes(self) -> list[web.RouteDef]:
        """Serve the action API at / and /index.php (GET or POST), and the JSON notifications endpoint."""
        return [
            web.route("*", "/", self.action_api),
            web.route("*", "/index.php", self.action_api),
            web.post("/api/sms/notifications/voicemail", self.voicemail_notification),
            web.post("/_sim/query_only", self.set_query_only),
        ]

    async def set_query_only(self, request: web.Request) -> web.Response:
        """Switch between a PBX that reads only the query string and one that also reads a POST body."""
        self.query_only = request.query.get("enabled", "1") not in ("0", "false", "off")
        return web.Response(text=f"query string only: {'on' if self.query_only else 'off'}\n")

    async def action_api(self, request: web.Request) -> web.Response:
        """Run one action; every error is HTTP 200 with an `error` key, as PBXware answers."""
        params = dict(request.query)
        form: dict[str, str] = {}
        if request.method == "POST":
            form = {key: str(value) for key, value in (await request.post()).items()}
            if not self.query_only:
                params.update(form)
        self.key_sources.append(_source(request.query, form))
        try:
            return self._answer(self._run_action(params))
        except _RefusalError as refusal:
            return self._answer({"error": refusal.text})

    def _run_action(self, params: dict[str, str]) -> dict[str, Any] | list[Any]:
        """Check the key, the action's permission and the tenant, then do the action."""
        action = params.get("action", "")
        key = self._authorise(params.get("apikey"), ACTIONS.get(action))
        if action == LICENSE_ACTION:
            # The fields the vendor's Postman collection checks (strings all)
            return {"Edition": "Business", "Version": "7.2.0", "Channels": "30", "Tenants": str(len(self.tenants))}
        if not params.get("server"):
            raise _RefusalError(MISSING_PARAMETER.format(name="server"), 400)
        tenant = self._tenant(key, params["server"])
        if action == SEND_ACTION:
            return self._send(tenant, params)
        listing = {str(index): _extension(ext) for index, ext in enumerate(tenant.extensions, 101)}
        return listing or []

    def _authorise(self, value: str | None, right: str | None) -> ApiKey:
        """Return the key if it exists, is not suspended and has the right (None: an unknown action)."""
        key = self.api_keys.get(value or "")
        # A key suspended after inactivity is assumed to answer like an unknown one
        if key is None or key.suspended:
            raise _RefusalError(INVALID_API_KEY, 401)
        if right is None:
            raise _RefusalError(UNKNOWN_ACTION, 400)
        if right not in key.rights:
            raise _RefusalError(PERMISSION_DENIED, 403)
        return key

    def _tenant(self, key: ApiKey, server: str) -> Tenant:
        """Return the tenant the `server` parameter names, if the key may touch it."""
        tenant = self.tenants.get(server)
        if tenant is None:
            raise _RefusalError(UNKNOWN_TENANT, 400)
        if server not in key.tenants:
            raise _RefusalError(TENANT_NOT_ALLOWED, 403)
        return tenant

    def _send(self, tenant: Tenant, params: dict[str, str]) -> dict[str, Any]:
        """pbxware.sms.send_message: the API switch, the parameters, then the notification settings."""
        _check_api(tenant)
        for name in ("to_number", "body"):
            if not params.get(name):
                raise _RefusalError(MISSING_PARAMETER.format(name=name), 400)
        to_number = params["to_number"]
        if not _E164.match(to_number):
            raise _RefusalError(INVALID_NUMBER, 400)
        text = _decode_body(params["body"])
        if text is None:
            raise _RefusalError(INVALID_BODY, 400)
        _check_settings(tenant)
        return self._deliver(to_number, text, {"from": tenant.sender_number})

    async def voicemail_notification(self, request: web.Request) -> web.Response:
        """POST /api/sms/notifications/voicemail: an SMS to the number assigned to an extension."""
        if not self.ext_endpoint:
            return web.Response(status=404, text="404: Not Found")
        api_key = request.headers.get("X-API-Key")
        self.key_sources.append(_source(request.query, {}, header=api_key is not None))
        try:
            key = self._authorise(api_key, "sms")
            answer = self._notify(key, request.content_type, await request.text())
        except _RefusalError as refusal:
            return self._answer({"error": refusal.text}, status=refusal.status if self.ext_error_status else 200)
        return self._answer(answer)

    def _notify(self, key: ApiKey, content_type: str, body: str) -> dict[str, Any]:
        """Check the request, the tenant's settings and the extension's SMS number, then send."""
        if content_type != "application/json":
            raise _RefusalError(INVALID_REQUEST, 415)
        extension, message = _notification(body)
        tenant = self._extension_tenant(key, extension)
        _check_api(tenant)
        _check_settings(tenant)
        number = tenant.extensions[extension]
        if number is None:
            raise _RefusalError(NO_SMS_NUMBER, 400)
        return self._deliver(number, message, {"extension": extension})

    def _extension_tenant(self, key: ApiKey, extension: str) -> Tenant:
        """Find the extension among the key's tenants (the seed does not say how the endpoint picks one)."""
        for server in sorted(key.tenants):
            tenant = self.tenants.get(server)
            if tenant is not None and extension in tenant.extensions:
                return tenant
        raise _RefusalError(UNKNOWN_EXTENSION, 422)

    def _deliver(self, to: str, text: str, options: dict[str, Any]) -> dict[str, Any]:
        """Record a message the PBX took and answer like its other actions do (assumed: undocumented)."""
        message_id = str(self._next_id)
        self._next_id += 1
        self.record_message(ReceivedMessage(provider=self.name, to=to, text=text, options=options))
        return {"success": "SMS sent", "id": message_id}

    def _answer(self, payload: dict[str, Any] | list[Any], *, status: int = 200) -> web.Response:
        """Serialise an answer, with PHP's notice before it when switched on."""
        if self.notice_without_json:
            return web.Response(status=status, text=PHP_NOTICE, content_type="text/html")
        if self.php_notice:
            return web.Response(status=status, text=PHP_NOTICE + json.dumps(payload), content_type="text/html")
        return web.json_response(payload, status=status)


def _extension(ext: str) -> dict[str, str]:
    """One row of pbxware.ext.list, keyed by the extension's id: the fields the vendor's collection checks."""
    return {
        "name": f"Extension {ext}",
        "email": f"ext{ext}@example.com",
        "protocol": "sip",
        "ext": ext,
        "location": "1",
        "ua_id": "50",
        "ua_name": "Generic SIP",
        "ua_fullname": "Generic SIP Device",
        "status": "1",
        "linenum": "1",
        "user_location": "1",
    }


def _check_api(tenant: Tenant) -> None:
    """Check the tenant's Enable SMS API switch."""
    if not tenant.sms_api_enabled:
        raise _RefusalError(SMS_API_DISABLED, 400)


def _check_settings(tenant: Tenant) -> None:
    """Check Active and the sender number, as the tenant's SMS Notifications settings require."""
    if not tenant.sms_active:
        raise _RefusalError(SMS_NOT_ENABLED, 400)
    if not tenant.sender_number:
        raise _RefusalError(INVALID_SENDER, 400)


def _notification(body: str) -> tuple[str, str]:
    """Read `extension` and `message` from the JSON body."""
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise _RefusalError(INVALID_REQUEST, 400)
    extension, message = payload.get("extension"), payload.get("message")
    if not isinstance(extension, str) or not isinstance(message, str) or not extension or not message:
        raise _RefusalError(INVALID_REQUEST, 400)
    return extension, message


def _decode_body(body: str) -> str | None:
    """Decode standard Base64 (padding included) of UTF-8 text; None if it is not."""
    try:
        return base64.b64decode(body, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def _source(query: Mapping[str, str], form: dict[str, str], *, header: bool = False) -> str:
    """Say where a request carried its API key; the query string wins, as it is the leak tests look for."""
    if "apikey" in query:
        return "query"
    if "apikey" in form:
        return "form"
    return "header" if header else "missing"
