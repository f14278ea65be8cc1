// A stock tus client, as an application would use it: tus-js-client uploads one file to
// fileshare's /tus in chunks, retrying and resuming on its own when a request fails. The Go
// tests (cmd/fileshare/tus_test.go) run it against `fileshare serve` and break things on the
// way; they read what happens from the JSON lines this script writes to stdout.
//
//   node upload.js CONFIG_JSON
//
// CONFIG_JSON: {"endpoint", "file", "chunkSize", "metadata": {…}, "headers": {…},
//               "retryDelays": [ms, …]}
"use strict";

const fs = require("fs");
const tus = require("tus-js-client");

function emit(event, fields) {
  process.stdout.write(JSON.stringify(Object.assign({ event }, fields)) + "\n");
}

const cfg = JSON.parse(process.argv[2]);
const data = fs.readFileSync(cfg.file);

const upload = new tus.Upload(data, {
  endpoint: cfg.endpoint,
  chunkSize: cfg.chunkSize,
  metadata: cfg.metadata || {},
  headers: cfg.headers || {},
  retryDelays: cfg.retryDelays || [0, 250, 500, 1000, 2000, 3000, 5000],
  // Every failure is reported, and retried the way the library does by default.
  onShouldRetry(err, attempt, options) {
    const status = err.originalResponse ? err.originalResponse.getStatus() : 0;
    emit("retry", { attempt, status, message: String(err.message).split("\n")[0] });
    return status === 0 || status === 409 || status === 423 || status >= 500;
  },
  onAfterResponse(req, res) {
    emit("response", {
      method: req.getMethod(),
      status: res.getStatus(),
      offset: res.getHeader("Upload-Offset") || null,
    });
  },
  onChunkComplete(chunkSize, accepted, total) {
    emit("chunk", { accepted, total });
  },
  onSuccess() {
    emit("success", { url: upload.url });
    process.exit(0);
  },
  onError(err) {
    emit("error", { message: String(err.message).split("\n")[0] });
    process.exit(1);
  },
});

emit("start", { size: data.length });
upload.start();
