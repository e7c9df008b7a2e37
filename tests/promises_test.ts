/**
 * README promises an audit found without a test, one small test each: the
 * options `serve` and `makeServer` take, environ values only a real socket
 * shows, the status and body rules at their edges, the test client's
 * limits, and the explorer page the handout describes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Application, makeServer, toFetchHandler } from "../mod.ts";
import { Client } from "../testing.ts";
import { environApp } from "../examples/environ.ts";
import { exchange, harness, listen } from "./_helpers.ts";

/** An application that answers with the environ value under `key`. */
function echo(key: string): Application {
  return (environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [String(environ[key])];
  };
}

// ---------------------------------------------------------------------------
// environ
// ---------------------------------------------------------------------------

/** Raw requests only a socket can send, and the environ value each gives. */
const ON_THE_WIRE: [
  what: string,
  key: string,
  request: string,
  seen: string,
][] = [
  [
    "two Cookie lines arrive joined with ;",
    "HTTP_COOKIE",
    "GET / HTTP/1.1\r\nCookie: a=1\r\nCookie: b=2\r\n",
    "a=1; b=2",
  ],
  [
    "an HTTP/1.0 request has SERVER_PROTOCOL HTTP/1.1",
    "SERVER_PROTOCOL",
    "GET / HTTP/1.0\r\n",
    "HTTP/1.1",
  ],
  [
    "OPTIONS * arrives as PATH_INFO /*",
    "PATH_INFO",
    "OPTIONS * HTTP/1.1\r\n",
    "/*",
  ],
  [
    "an absolute-form target arrives as REQUEST_URI /z",
    "REQUEST_URI",
    "GET http://example.com/z HTTP/1.1\r\n",
    "/z",
  ],
];

for (const [what, key, request, seen] of ON_THE_WIRE) {
  Deno.test(`environ on the wire: ${what}`, async () => {
    await using listening = listen(echo(key));
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: listening.port,
    });
    const raw = await exchange(
      conn,
      `${request}Host: x\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(raw.slice(raw.indexOf("\r\n\r\n") + 4), seen, raw);
  });
}

Deno.test("environ: a Request with two cookie headers arrives joined with ; ", async () => {
  const response = await harness(echo("HTTP_COOKIE")).handler(
    new Request("http://localhost/", {
      headers: new Headers([["cookie", "a=1"], ["cookie", "b=2"]]),
    }),
  );
  assert.equal(await response.text(), "a=1; b=2");
});

Deno.test("environ: SERVER_NAME is localhost when serve is given localhost", async () => {
  await using listening = listen(echo("SERVER_NAME"), {
    hostname: "localhost",
  });
  const response = await fetch(`http://localhost:${listening.port}/`);
  assert.equal(await response.text(), "localhost");
});

// ---------------------------------------------------------------------------
// serve and makeServer
// ---------------------------------------------------------------------------

Deno.test("serve: aborting its signal resolves server.finished", async () => {
  const abort = new AbortController();
  await using listening = listen(echo("PATH_INFO"), { signal: abort.signal });
  abort.abort();
  await listening.server.finished;
});

Deno.test("makeServer: serveForever() resolves after shutdown()", async () => {
  const httpd = makeServer("127.0.0.1", 0, echo("PATH_INFO"));
  const forever = httpd.serveForever();
  await httpd.shutdown();
  await forever;
});

// ---------------------------------------------------------------------------
// The test client
// ---------------------------------------------------------------------------

Deno.test("Client: a Request's own body keeps its own headers, with a query too", async () => {
  const client = new Client(echo("CONTENT_LENGTH"));
  const post = (headers: HeadersInit) =>
    client.request(
      new Request("http://localhost/x", {
        method: "POST",
        body: "cuerpo",
        headers,
      }),
      { query: { c: "2" } },
    );
  assert.equal((await post({ "Content-Length": "6" })).text, "6");
  assert.equal((await post({})).text, "undefined");
});

Deno.test("Client: a 302 comes back as it is, not followed", async () => {
  const client = new Client((_environ, startResponse) => {
    startResponse("302 Found", [["Location", "/otra"]]);
    return [];
  });
  const response = await client.get("/");
  assert.equal(response.status, 302);
  assert.equal(response.headers.get("location"), "/otra");
});

Deno.test("Client: body and form together are a TypeError", async () => {
  const client = new Client(echo("PATH_INFO"));
  await assert.rejects(
    client.post("/", { body: "x", form: { a: "1" } }),
    TypeError,
  );
});

// ---------------------------------------------------------------------------
// The environ explorer the handout walks through
// ---------------------------------------------------------------------------

Deno.test("explorer: the form's defaults and labels are the handout's", async () => {
  const response = await toFetchHandler(environApp)(
    new Request("http://localhost:8000/"),
  );
  const html = await response.text();
  for (
    const promised of [
      'name="nombre" value="Ada"',
      'value="hola &amp; adiós"',
      "Enviar (POST)",
      "Cuerpo leído de wsgi.input",
    ]
  ) assert.ok(html.includes(promised), `the page has ${promised}`);
});
