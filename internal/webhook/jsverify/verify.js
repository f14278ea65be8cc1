// Verifies webhook deliveries with the official Standard Webhooks JavaScript library, as a
// receiver written in JavaScript would. The Go tests (internal/webhook/jsverify_test.go) run it.
//
// stdin: a JSON array of {"name", "secret" ("whsec_…"), "headers" ({name: value}), "body" (the
// request body, exactly as received)}. stdout: a JSON array, in the same order, of {"name",
// "ok", "type" (the verified event's type), "error" (why it did not verify)}.
"use strict";
const { Webhook } = require("standardwebhooks");

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const out = JSON.parse(input).map(({ name, secret, headers, body }) => {
    try {
      const event = new Webhook(secret).verify(body, headers);
      return { name, ok: true, type: event.type };
    } catch (err) {
      return { name, ok: false, error: String(err && err.message ? err.message : err) };
    }
  });
  process.stdout.write(JSON.stringify(out));
});
