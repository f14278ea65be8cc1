// A client of fileshare written as an integrator writes one: openapi-fetch over the types that
// openapi-typescript generates from api/openapi.yaml. scripts/openapi-lint.sh generates them
// into generated/ and compiles this file with `tsc --noEmit`; it is never run. It stops
// compiling when the document stops typing what a client reads: an error's message, an
// upload's url, a token's state, an upload URL's token and tusUrl, a webhook event's data.
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/openapi";

type Schemas = components["schemas"];

// Type-level checks: a value typed `any` would let everything below compile.
type IsAny<T> = 0 extends 1 & T ? true : false;
function notAny<T>(_value: T & (IsAny<T> extends true ? never : unknown)): void {}

const client = createClient<paths>({
  baseUrl: "http://127.0.0.1:3001",
  headers: { Authorization: "Basic " + btoa("alice@example.com:password") },
});

// A session, a file entry in it, and an upload URL that a browser (tus-js-client) can use.
export async function prepareUpload(): Promise<{ url: string; token: string; tusUrl: string }> {
  const session = await client.POST("/sessions", { body: { ttl: 3600 } });
  if (session.error) {
    notAny(session.error);
    const message: string = session.error.message;
    throw new Error(message);
  }
  const sessionId: string = session.data.id;

  const file = await client.POST("/sessions/{sessionId}/files", {
    params: { path: { sessionId } },
    body: { name: "call.wav", contentType: "audio/wav", size: 48000 },
  });
  if (file.error) {
    // 410 `session expired` is one of these: JSON, like every error of a JSON route.
    notAny(file.error);
    const message: string = file.error.message;
    throw new Error(message);
  }
  const pending: "pending" | "stored" = file.data.state;

  const upload = await client.POST("/sessions/{id}", {
    params: { path: { id: file.data.id } },
    body: { ttl: 600 },
  });
  if (upload.error) {
    notAny(upload.error);
    throw new Error(`${pending} entry: ${upload.error.message}`);
  }
  notAny(upload.data);
  const { url, token, tusUrl, expiresAt } = upload.data;
  const until: string = expiresAt;
  return { url: `${url}#${until}`, token, tusUrl };
}

// A simple upload: its url downloads it until it expires.
export async function simpleUpload(content: Blob): Promise<string> {
  const res = await client.POST("/uploads", {
    body: { file: "", ttl: "3600" },
    bodySerializer(body) {
      const form = new FormData();
      form.set("file", content, "hello.txt");
      if (body.ttl !== undefined) form.set("ttl", body.ttl);
      return form;
    },
  });
  if (res.error) {
    notAny(res.error);
    const message: string = res.error.message;
    throw new Error(message);
  }
  const url: string = res.data.url;
  return url;
}

// What became of the tokens of a file entry.
export async function tokenStates(sessionId: string, fileId: string): Promise<string[]> {
  const res = await client.GET("/sessions/{sessionId}/files/{fileId}/tokens", {
    params: { path: { sessionId, fileId }, query: { limit: 100 } },
  });
  if (res.error) {
    notAny(res.error);
    const message: string = res.error.message;
    throw new Error(message);
  }
  return res.data.map((t) => {
    const state: "unused" | "consumed" | "delivered" | "expired" | "revoked" | "locked" = t.state;
    return `${t.ref}: ${state}`;
  });
}

// A one-time link answers a page to a request that accepts text/html: its errors are JSON or
// HTML, and the type says so.
export async function download(sessionId: string, fileId: string, token: string): Promise<Blob> {
  const res = await client.GET("/sessions/{sessionId}/files/{fileId}/tokens/{token}", {
    params: { path: { sessionId, fileId, token } },
    headers: { Accept: "application/octet-stream" },
    parseAs: "blob",
  });
  if (res.error !== undefined) {
    notAny(res.error);
    const why: string = typeof res.error === "string" ? res.error : res.error.message;
    throw new Error(why);
  }
  return res.data;
}

// The body of a webhook delivery (verify its signature first, with a Standard Webhooks library).
export function describeEvent(body: string): string {
  const event = JSON.parse(body) as Schemas["WebhookEvent"];
  const at: string = event.timestamp;
  switch (event.type) {
    case "upload.stored":
    case "upload.deleted":
    case "upload.expired":
      return `${at} ${event.type} ${event.data.uploadId} ${event.data.name} by ${event.data.login ?? "nobody"}`;
    case "session.deleted":
    case "session.expired":
      return `${at} ${event.type} ${event.data.sessionId} with ${event.data.files ?? 0} files`;
    case "file.stored":
    case "file.deleted":
      return `${at} ${event.type} ${event.data.fileId} from ${event.data.login ?? event.data.uploaderAddress ?? "?"}`;
    case "token.delivered": {
      const sent: number | undefined = event.data.bytesSent;
      return `${at} ${event.data.ref} delivered ${sent ?? 0} of ${event.data.size ?? 0} bytes (sha256 ${event.data.sha256}) to ${event.data.consumerAddress ?? "?"}`;
    }
    case "token.consumed":
    case "token.revoked":
      return `${at} ${event.type} ${event.data.ref}`;
    case "webhook.test":
      return `${at} test event for ${event.data.webhookId}, sent by ${event.data.login ?? "?"}`;
    case "webhook.disabled":
      return `${at} endpoint ${event.data.webhookId} (${event.data.url}) disabled: ${event.data.reason}`;
    default: {
      const unknown: never = event;
      return String(unknown);
    }
  }
}
