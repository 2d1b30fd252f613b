"""Copy-ready setup text for each source kind: where the address and the secret go in that system; pure.

Facts (each snippet names its source):
- Alertmanager: `webhook_configs` with `url`, `send_resolved` and `http_config.authorization` (`type`,
  `credentials`) (prometheus.io/docs/alerting/latest/configuration/#webhook_config, #http_config).
- Grafana: the webhook contact point's URL, HTTP method and Authorization header scheme and credentials
  (grafana.com/docs/grafana/latest/alerting/configure-notifications/manage-contact-points/integrations/
  webhook-notifier/); the same in file provisioning as `authorization_scheme` and `authorization_credentials`.
- Uptime Kuma: the webhook notification's Additional Headers are JSON merged into the request's headers
  (louislam/uptime-kuma:server/notification-providers/webhook.js, `webhookAdditionalHeaders`).
- Zabbix: a webhook media type runs JavaScript with `HttpRequest` (`addHeader`, `post`) and its parameters in
  `value` (zabbix.com/documentation/current/en/manual/config/notifications/media/webhook).
"""

from __future__ import annotations

from collections.abc import Callable

from .models import SourceKind

# The paths the generic snippet posts, as the generic source's fields read them
GENERIC_EXAMPLE_FIELDS = {
    "name": "name",
    "status": "status",
    "severity": "severity",
    "message": "message",
    "dedup_key": "dedup_key",
}


def _alertmanager(url: str, token: str) -> str:
    """Write an Alertmanager receiver (alertmanager.yml), and its route."""
    return "\n".join(
        (
            "```yaml",
            "route:",
            "  receiver: sms_alerts",
            "receivers:",
            "  - name: sms_alerts",
            "    webhook_configs:",
            f"      - url: {url}",
            "        send_resolved: true",
            "        http_config:",
            "          authorization:",
            "            type: Bearer",
            f"            credentials: {token}",
            "```",
        )
    )


def _grafana(url: str, token: str) -> str:
    """Write a Grafana webhook contact point, in the UI and as file provisioning."""
    return "\n".join(
        (
            "- Integration: Webhook",
            f"- URL: `{url}`",
            "- HTTP Method: POST",
            "- Authorization Header - Scheme: `Bearer`",
            f"- Authorization Header - Credentials: `{token}`",
            "",
            "```yaml",
            "# provisioning/alerting/sms_alerts.yaml",
            "apiVersion: 1",
            "contactPoints:",
            "  - orgId: 1",
            "    name: SMS Alerts",
            "    receivers:",
            "      - uid: sms_alerts",
            "        type: webhook",
            "        settings:",
            f"          url: {url}",
            "          httpMethod: POST",
            "          authorization_scheme: Bearer",
            f"          authorization_credentials: {token}",
            "```",
        )
    )


def _uptime_kuma(url: str, token: str) -> str:
    """Write an Uptime Kuma webhook notification with the secret as an additional header."""
    return "\n".join(
        (
            "- Notification Type: Webhook",
            f"- Post URL: `{url}`",
            "- Request Body: Preset - application/json",
            "- Additional Headers:",
            "```json",
            f'{{"Authorization": "Bearer {token}"}}',
            "```",
        )
    )


def _generic(url: str, token: str) -> str:
    """Write for any sender: a curl call, and a Zabbix webhook media type's script."""
    return "\n".join(
        (
            "```sh",
            f"curl -X POST {url} \\",
            f'  -H "Authorization: Bearer {token}" \\',
            '  -H "Content-Type: application/json" \\',
            (
                """  -d '{"name": "DiskFull db1", "status": "firing", "severity": "critical", """
                """"message": "/ at 97%", "dedup_key": "db1-disk"}'"""
            ),
            "```",
            "```js",
            "// Zabbix media type Webhook; parameters: url, token, name={EVENT.NAME}, status={EVENT.VALUE},",
            "// severity={EVENT.SEVERITY}, message={ALERT.MESSAGE}, dedup_key={EVENT.ID}",
            "var p = JSON.parse(value), request = new HttpRequest();",
            "request.addHeader('Content-Type: application/json');",
            "request.addHeader('Authorization: Bearer ' + p.token);",
            (
                "request.post(p.url, JSON.stringify({name: p.name, status: p.status, "
                "severity: p.severity, message: p.message, dedup_key: p.dedup_key}));"
            ),
            "if (request.getStatus() != 200) { throw 'SMS Alerts answered ' + request.getStatus(); }",
            "return 'OK';",
            "```",
            f"- url: `{url}`",
            f"- token: `{token}`",
        )
    )


_WRITERS: dict[SourceKind, Callable[[str, str], str]] = {
    SourceKind.ALERTMANAGER: _alertmanager,
    SourceKind.GRAFANA: _grafana,
    SourceKind.UPTIME_KUMA: _uptime_kuma,
    SourceKind.GENERIC: _generic,
}


def setup_text(kind: SourceKind | str, url: str, token: str) -> str:
    """Return the Markdown setup text for a source of this kind, with its address and secret filled in."""
    return _WRITERS[SourceKind(kind)](url, token)
