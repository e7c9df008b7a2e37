/**
 * fromFetchHandler: the URL, method, headers and body a fetch handler sees,
 * its response streamed back, close() cancelling its stream; a fetch
 * handler mounted inside `mount`, and a WSGI app inside a fetch-handler
 * router through `toFetchHandler`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Application, toFetchHandler } from "../mod.ts";
import { fromFetchHandler } from "../fetch.ts";
import { mount } from "../mount.ts";
import { Client } from "../testing.ts";
import { collector } from "./_helpers.ts";

/** Answers with what it saw of the request, as JSON. */
const mirror = fromFetchHandler(async (request, info) =>
  Response.json({
    url: request.url,
    method: request.method,
    headers: Object.fromEntries(request.headers),
    body: request.body === null ? null : await request.text(),
    remote: info?.remoteAddr,
  })
);

interface Mirrored {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | null;
  remote?: { hostname: string };
}

Deno.test("fromFetchHandler: URL, method, headers and connection info from the environ", async () => {
  const response = await new Client(mirror).get("/a/caf%C3%A9?x=1&x=2", {
    headers: { "X-Mine": "yes", Cookie: "a=1" },
  });
  assert.equal(response.statusLine, "200 OK");
  const seen = response.json<Mirrored>();
  assert.equal(seen.url, "http://localhost/a/caf%C3%A9?x=1&x=2");
  assert.equal(seen.method, "GET");
  assert.equal(seen.headers["x-mine"], "yes");
  assert.equal(seen.headers.cookie, "a=1");
  assert.equal(seen.body, null, "a GET has no body");
  assert.equal(seen.remote?.hostname, "127.0.0.1");
});

Deno.test("fromFetchHandler: mounted, it sees PATH_INFO as its path, or the whole path if asked", async () => {
  const app = mount({
    "/api": mirror,
    "/full": fromFetchHandler((r) => new Response(r.url), {
      keepScriptName: true,
    }),
  });
  const client = new Client(app);
  assert.equal(
    (await client.get("/api/users/7?q=1")).json<Mirrored>().url,
    "http://localhost/users/7?q=1",
  );
  assert.equal(
    (await client.get("/api")).json<Mirrored>().url,
    "http://localhost/",
  );
  assert.equal((await client.get("/full/x")).text, "http://localhost/full/x");
});

Deno.test("fromFetchHandler: the request body streams from wsgi.input, chunked or not", async () => {
  const client = new Client(mirror);
  const sized = await client.post("/", { body: "nombre=Ada" });
  assert.equal(sized.json<Mirrored>().body, "nombre=Ada");
  const pieces = ["uno ", "dos ", "tres"];
  const chunked = await client.put("/", {
    body: new ReadableStream({
      pull(controller) {
        const next = pieces.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(next));
      },
    }),
  });
  const seen = chunked.json<Mirrored>();
  assert.equal(seen.method, "PUT");
  assert.equal(seen.body, "uno dos tres");
  assert.equal(seen.headers["transfer-encoding"], undefined, "hop-by-hop");
});

Deno.test("fromFetchHandler: status, reason, every Set-Cookie, and a streamed body", async () => {
  const app = fromFetchHandler(() => {
    const headers = new Headers({ "Content-Type": "text/plain" });
    headers.append("Set-Cookie", "a=1");
    headers.append("Set-Cookie", "b=2");
    headers.set("Connection", "keep-alive");
    const parts = ["uno\n", "dos\n"];
    return new Response(
      new ReadableStream({
        pull(controller) {
          const next = parts.shift();
          if (next === undefined) controller.close();
          else controller.enqueue(new TextEncoder().encode(next));
        },
      }),
      { status: 201, headers },
    );
  });
  const response = await new Client(app).get("/");
  assert.equal(response.statusLine, "201 Created");
  assert.deepEqual(response.headers.getSetCookie(), ["a=1", "b=2"]);
  assert.equal(response.text, "uno\ndos\n");
  assert.deepEqual(response.errors, [], "hop-by-hop headers left out, no 500");
  const teapot = fromFetchHandler(() => new Response(null, { status: 418 }));
  assert.equal((await new Client(teapot).get("/")).statusLine, "418 Unknown");
});

/** A handler whose endless stream says when it is cancelled. */
function endless(): { app: Application; cancelled: Promise<void> } {
  const cancelled = Promise.withResolvers<void>();
  const app = fromFetchHandler(() =>
    new Response(
      new ReadableStream({
        pull(controller) {
          controller.enqueue(new TextEncoder().encode("tick\n"));
        },
        cancel() {
          cancelled.resolve();
        },
      }, { highWaterMark: 0 }),
    )
  );
  return { app, cancelled: cancelled.promise };
}

Deno.test("fromFetchHandler: a client that goes away cancels the handler's stream (close() honoured)", async () => {
  const { app, cancelled } = endless();
  const { errors } = collector();
  const response = await toFetchHandler(app, { errors })(
    new Request("http://localhost/"),
  );
  const reader = response.body!.getReader();
  assert.equal(new TextDecoder().decode((await reader.read()).value), "tick\n");
  await reader.cancel();
  await cancelled;
});

Deno.test("fromFetchHandler: HEAD cancels the handler's stream too", async () => {
  const { app, cancelled } = endless();
  const response = await new Client(app).head("/");
  assert.equal(response.status, 200);
  await cancelled;
});

Deno.test("fromFetchHandler: what the handler throws is a 500 with its stack logged", async () => {
  const app = fromFetchHandler(() => {
    throw new Error("the handler broke");
  });
  const response = await new Client(app).get("/");
  assert.equal(response.status, 500);
  assert.match(response.errors.join(""), /the handler broke/);
});

Deno.test("toFetchHandler: a WSGI app inside a fetch-handler router, and back inside mount", async () => {
  const wsgi: Application = (environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [`wsgi sees ${environ.PATH_INFO}`];
  };
  const legacy = toFetchHandler(wsgi);
  // A hand-written router, as Hono's app.mount("/legacy", legacy) would be.
  const router = (request: Request): Promise<Response> | Response => {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/legacy/")) {
      url.pathname = url.pathname.slice("/legacy".length);
      return legacy(new Request(url, request));
    }
    return new Response("router", { status: 200 });
  };
  const response = await router(new Request("http://localhost/legacy/x"));
  assert.equal(await response.text(), "wsgi sees /x");
  // And the router itself, mounted in a WSGI dispatcher.
  const client = new Client(mount({ "/app": fromFetchHandler(router) }));
  assert.equal((await client.get("/app/legacy/y")).text, "wsgi sees /y");
  assert.equal((await client.get("/app/other")).text, "router");
});

Deno.test("fromFetchHandler: a Host no URL can hold → 400 and one log line, the handler not called", async () => {
  const handler = fromFetchHandler(() => {
    throw new Error("not reached");
  });
  // The gateway refuses such a Host itself; an environ can still hold one.
  const app: Application = (environ, startResponse) =>
    handler({ ...environ, HTTP_HOST: "bad host" }, startResponse);
  const response = await new Client(app).get("/");
  assert.equal(response.statusLine, "400 Bad Request");
  assert.equal(response.errors.length, 1);
  assert.match(response.errors[0], /cannot be rebuilt/);
});
