// Runs Uptime Kuma's own webhook notification (server/notification-providers/webhook.js of the npm package
// uptime-kuma, installed by scripts/senders) once: Webhook.send(notification, msg, monitorJSON, heartbeatJSON).
// Usage: node uptime_kuma_send.js <the package's folder>   with {notification, msg, monitor, heartbeat} on stdin.
// Prints what send() returned, or its error, as one JSON line; exits 1 on an error.
"use strict";

const path = require("path");

async function main() {
    const chunks = [];
    for await (const chunk of process.stdin) {
        chunks.push(chunk);
    }
    const call = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    const Webhook = require(path.join(process.argv[2], "server", "notification-providers", "webhook.js"));
    const provider = new Webhook();
    const answer = await provider.send(call.notification, call.msg, call.monitor, call.heartbeat);
    process.stdout.write(JSON.stringify({ ok: true, answer, provider: provider.name }) + "\n");
}

main().catch((error) => {
    process.stdout.write(JSON.stringify({ ok: false, error: String(error && error.message ? error.message : error) }) + "\n");
    process.exit(1);
});
