/**
 * The environ costs only what the application reads (gateway/environ.ts),
 * yet every way of looking at it sees the whole environ; and the edges
 * where the environ must tell the truth: no Host, a GET that declares a
 * body, a read after Deno let go of the request.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Application, Environ } from "../mod.ts";
import { Client } from "../testing.ts";
import { validate } from "../validate.ts";
import { connect, exchange, listen } from "./_helpers.ts";

/** A Request that counts how often its headers are asked for. */
class CountingRequest extends Request {
  headerReads = 0;
  override get headers(): Headers {
    this.headerReads++;
    return super.headers;
  }
}

/** Runs `app` on a CountingRequest; returns how often headers were read. */
async function headerReads(
  app: Application,
  init?: RequestInit,
): Promise<number> {
  const request = new CountingRequest("http://localhost/a?b=c", {
    headers: { "User-Agent": "prueba", "X-Uno": "1" },
    ...init,
  });
  const response = await new Client(app).request(request);
  assert.equal(response.status, 200, response.errors.join(""));
  return request.headerReads;
}

function reading(read: (environ: Environ) => unknown): Application {
  return (environ, startResponse) => {
    read(environ);
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return ["ok"];
  };
}

Deno.test("an app that reads no header costs no header read but the gateway's one, for the Host", async () => {
  assert.equal(await headerReads(reading(() => {})), 1);
  assert.equal(
    await headerReads(
      reading((e) => [e.REQUEST_METHOD, e.PATH_INFO, e.QUERY_STRING]),
    ),
    1,
  );
});

Deno.test("the first header read fetches the headers once, for every key", async () => {
  const reads = await headerReads(reading((environ) => {
    assert.equal(environ.HTTP_USER_AGENT, "prueba");
    assert.equal(environ.HTTP_X_UNO, "1");
    assert.equal(environ.HTTP_X_NONE, undefined);
    assert.equal(environ.CONTENT_TYPE, undefined);
  }));
  assert.equal(reads, 1);
});

Deno.test("Object.keys, for…in, in, spread and JSON see every key before any is read", async () => {
  const views: Record<string, (environ: Environ) => string[]> = {
    "Object.keys": (e) => Object.keys(e),
    "for…in": (e) => {
      const keys: string[] = [];
      for (const key in e) keys.push(key);
      return keys;
    },
    spread: (e) => Object.keys({ ...e }),
    "Object.entries": (e) => Object.entries(e).map(([key]) => key),
    JSON: (e) =>
      Object.keys(
        JSON.parse(
          JSON.stringify(e, (k, v) => k.startsWith("wsgi.") ? undefined : v),
        ),
      ),
  };
  for (const [view, keysOf] of Object.entries(views)) {
    let keys: string[] = [];
    let has: boolean[] = [];
    const response = await new Client(
      reading((environ) => {
        keys = keysOf(environ);
        has = [
          "HTTP_USER_AGENT" in environ,
          "REMOTE_ADDR" in environ,
          "PATH_INFO" in environ,
        ];
      }),
      { remoteAddr: "203.0.113.9" },
    ).get("/a?b=c", {
      headers: { "User-Agent": "prueba" },
    });
    assert.equal(response.status, 200);
    for (
      const key of [
        "REQUEST_METHOD",
        "PATH_INFO",
        "QUERY_STRING",
        "REQUEST_URI",
        "SERVER_NAME",
        "HTTP_USER_AGENT",
        "HTTP_HOST",
        "REMOTE_ADDR",
      ]
    ) {
      assert.ok(keys.includes(key), `${view} lists ${key}: ${keys}`);
    }
    assert.deepEqual(has, [true, true, true]);
  }
});

Deno.test("writes and deletes before the first read stick: middleware rewrites the environ", async () => {
  let seen: Record<string, unknown> = {};
  const middleware = (app: Application): Application => (environ, sr) => {
    environ.SCRIPT_NAME = "/app";
    environ.PATH_INFO = "/rest";
    environ.HTTP_HOST = "example.org";
    delete environ.HTTP_USER_AGENT;
    delete environ.REMOTE_ADDR;
    return app(environ, sr);
  };
  const response = await new Client(
    middleware(reading((environ) => {
      seen = { ...environ };
    })),
    { remoteAddr: "203.0.113.9" },
  ).get("/a/b", { headers: { "User-Agent": "prueba" } });
  assert.equal(response.status, 200);
  assert.equal(seen.SCRIPT_NAME, "/app");
  assert.equal(seen.PATH_INFO, "/rest");
  assert.equal(seen.HTTP_HOST, "example.org");
  assert.ok(!("HTTP_USER_AGENT" in seen));
  assert.ok(!("REMOTE_ADDR" in seen));
  assert.equal(seen.REQUEST_URI, "/a/b");
});

Deno.test("console.log of an unread environ prints every key with its value", async () => {
  let printed = "";
  await new Client(reading((environ) => {
    printed = Deno.inspect(environ, { colors: false });
  })).get("/mira?x=1", { headers: { "X-Uno": "1" } });
  for (
    const expected of [
      'PATH_INFO: "/mira"',
      'QUERY_STRING: "x=1"',
      'REQUEST_METHOD: "GET"',
      'HTTP_X_UNO: "1"',
      '"wsgi.url_scheme": "http"',
    ]
  ) {
    assert.ok(printed.includes(expected), `${expected} in ${printed}`);
  }
});

Deno.test("the validator passes the lazy environ", async () => {
  const response = await new Client(validate(reading(() => {}))).post("/v", {
    body: "x=1",
  });
  assert.equal(response.status, 200);
  assert.deepEqual(response.errors, []);
});

Deno.test("an environ kept past a whole response: the headers stay readable (the gateway fetched them for the Host), the peer reads as absent with one line", async () => {
  let kept: Environ | undefined;
  await using server = listen((environ, startResponse) => {
    kept = environ;
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return ["ok"];
  });
  const response = await fetch(`${server.url}/tarde?q=1`, {
    headers: { "X-Uno": "1" },
  });
  assert.equal(await response.text(), "ok");
  assert.equal(kept!.PATH_INFO, "/tarde");
  assert.equal(kept!.QUERY_STRING, "q=1");
  assert.equal(kept!.HTTP_X_UNO, "1");
  assert.equal(kept!.REMOTE_ADDR, undefined);
  assert.equal(kept!.REMOTE_PORT, undefined);
  assert.equal(server.lines.length, 1, server.lines.join(""));
  assert.match(
    server.lines[0],
    /^\[wsgi\] GET \/tarde\?q=1: the environ's REMOTE_ADDR and REMOTE_PORT were first read after the response was sent/,
  );
});

Deno.test("a streamed body may read the environ while it streams", async () => {
  await using server = listen(function* (environ, startResponse) {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    yield "uno ";
    yield String(environ.HTTP_X_UNO);
  });
  const response = await fetch(server.url, { headers: { "X-Uno": "1" } });
  assert.equal(await response.text(), "uno 1");
  assert.deepEqual(server.lines, []);
});

Deno.test("a request with no Host is served, with no HTTP_HOST and the server's own name and port", async () => {
  const seen: Environ[] = [];
  await using server = listen((environ, startResponse) => {
    seen.push({ ...environ });
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [String(environ.PATH_INFO)];
  });
  for (const version of ["HTTP/1.0", "HTTP/1.1"]) {
    const conn = await connect(server.port);
    const reply = await exchange(
      conn,
      `GET /sin-host ${version}\r\nConnection: close\r\n\r\n`,
    );
    assert.match(reply, /^HTTP\/1\.[01] 200 [^]*\/sin-host$/);
  }
  assert.equal(seen.length, 2);
  for (const environ of seen) {
    assert.equal("HTTP_HOST" in environ, false);
    assert.equal(environ.SERVER_NAME, "127.0.0.1");
    assert.equal(environ.SERVER_PORT, String(server.port));
    assert.equal(environ.PATH_INFO, "/sin-host");
  }
  assert.deepEqual(server.lines, []);
  // A Host equal to Deno's own fallback is a Host all the same.
  const conn = await connect(server.port);
  const reply = await exchange(
    conn,
    `GET / HTTP/1.1\r\nHost: localhost:${server.port}\r\nConnection: close\r\n\r\n`,
  );
  assert.match(reply, /^HTTP\/1\.1 200 /);
  assert.equal(seen[2].HTTP_HOST, `localhost:${server.port}`);
});

Deno.test("a GET that declares a body: reading its input is refused with 400, not read as empty", async () => {
  await using server = listen(async (environ, startResponse) => {
    const body = await environ["wsgi.input"].read();
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [`${body.byteLength} bytes`];
  });
  const conn = await connect(server.port);
  const reply = await exchange(
    conn,
    "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
  );
  assert.match(reply, /^HTTP\/1\.1 400 /);
  assert.match(reply, /declared a body/);
  assert.equal(server.lines.length, 1);
  assert.match(
    server.lines[0],
    /^\[wsgi\] GET \/: a GET request declared a body/,
  );
  // Content-Length: 0 stays fine.
  const again = await connect(server.port);
  assert.match(
    await exchange(
      again,
      "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    ),
    /^HTTP\/1\.1 200 [\s\S]*0 bytes$/,
  );
});

Deno.test("deno.signal is made when first read, and listed with the other keys", async () => {
  let listed = false;
  let signal: unknown;
  const response = await new Client(reading((environ) => {
    listed = Object.keys(environ).includes("deno.signal");
    signal = environ["deno.signal"];
  })).get("/");
  assert.equal(response.status, 200);
  assert.ok(listed);
  assert.ok(signal instanceof AbortSignal);
  assert.equal((signal as AbortSignal).aborted, false);
});

Deno.test("one header read looks up that header alone; the rest arrive with Object.keys, as named on the wire", async () => {
  let seen: Record<string, unknown> = {};
  let before: boolean[] = [];
  const response = await new Client(reading((environ) => {
    before = [
      environ.HTTP_COOKIE === "a=1; b=2",
      "HTTP_X_DOS" in environ,
      "HTTP_X_NONE" in environ,
      "HTTP_CONTENT_TYPE" in environ,
      "HTTP_x_dos" in environ,
      environ.CONTENT_TYPE === "text/plain",
    ];
    seen = { ...environ };
  })).post("/", {
    headers: [["Cookie", "a=1"], ["Cookie", "b=2"], ["X-Dos", "2"], [
      "Content-Type",
      "text/plain",
    ]],
    body: "x",
  });
  assert.equal(response.status, 200);
  assert.deepEqual(before, [true, true, false, false, false, true]);
  assert.equal(seen.HTTP_X_DOS, "2");
  assert.equal(seen.HTTP_COOKIE, "a=1; b=2");
  assert.equal(seen.CONTENT_LENGTH, "1");
  assert.ok(!("HTTP_CONTENT_TYPE" in seen));
});

Deno.test("freezing the environ, a new prototype, a child object: as with a plain object", async () => {
  let frozen: Record<string, unknown> = {};
  let child: Record<string, unknown> = {};
  let proto: unknown;
  const response = await new Client(reading((environ) => {
    const heir = Object.create(environ);
    heir.PATH_INFO = "/hijo";
    child = {
      mine: Object.hasOwn(heir, "PATH_INFO"),
      parent: environ.PATH_INFO,
    };
    Object.setPrototypeOf(environ, null);
    proto = Object.getPrototypeOf(environ);
    Object.freeze(environ);
    frozen = {
      frozen: Object.isFrozen(environ),
      path: environ.PATH_INFO,
      header: environ.HTTP_X_UNO,
      keys: Object.keys(environ).length,
    };
  })).get("/padre", { headers: { "X-Uno": "1" } });
  assert.equal(response.status, 200, response.errors.join(""));
  assert.deepEqual(child, { mine: true, parent: "/padre" });
  assert.equal(proto, null);
  assert.equal(frozen.frozen, true);
  assert.equal(frozen.path, "/padre");
  assert.equal(frozen.header, "1");
  assert.ok((frozen.keys as number) > 15);
});

Deno.test("deno.signal does not fire when an async app's response succeeds; a streamed body ending at its Content-Length is complete", async () => {
  let signal: AbortSignal | undefined;
  await using server = listen(async function* (environ, startResponse) {
    signal = environ["deno.signal"];
    // Still pending after a turn of the event loop: the client is watched.
    await new Promise((resolve) => setTimeout(resolve, 20));
    startResponse("200 OK", [
      ["Content-Type", "text/plain"],
      ["Content-Length", "5"],
    ]);
    yield "hello";
    await new Promise((resolve) => setTimeout(resolve, 20));
  });
  const response = await fetch(server.url);
  assert.equal(await response.text(), "hello");
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(signal?.aborted, false);
  // No "client went away": the body ended where its length said.
  assert.deepEqual(server.lines, []);
});
