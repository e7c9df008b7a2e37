/**
 * Nothing the client writes in its Host moves the path: the target comes
 * from the request line alone, a Host that is not a host and port gets 400,
 * a request with no Host is served, and a broken chunked body gets 400. On
 * the wire, since `fetch` writes its own Host.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Application, Environ } from "../mod.ts";
import { sharedData } from "../static.ts";
import { connect, exchange, listen, writeAll } from "./_helpers.ts";

const TARGET_KEYS = [
  "PATH_INFO",
  "QUERY_STRING",
  "REQUEST_URI",
  "RAW_URI",
  "HTTP_HOST",
  "SERVER_NAME",
  "SERVER_PORT",
  "wsgi.url_scheme",
] as const;

/** Records what each request saw of its target and Host. */
function recording(seen: Partial<Environ>[]): Application {
  return (environ, startResponse) => {
    const view: Partial<Environ> = {};
    for (const key of TARGET_KEYS) view[key] = environ[key];
    seen.push(view);
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [String(environ.PATH_INFO)];
  };
}

async function send(port: number, request: string): Promise<string> {
  const conn = await connect(port);
  return await exchange(conn, request);
}

// Each a Host a client could write: the valid ones leave the path alone.
const VALID_HOSTS = [
  "x",
  "x:8000",
  "example.com",
  "a_b.c-d",
  "127.0.0.1:80",
  "[::1]:8000",
  "[::1]",
  "%41b",
  "",
];
const INVALID_HOSTS = [
  "x/admin",
  "x/%2e%2e/secret",
  "x/",
  "x?y=/z",
  "x#/y",
  "user@x",
  "x\\y",
  "x y",
  "x:80/pub",
  "[::1]/a",
];

Deno.test("no Host value changes PATH_INFO, QUERY_STRING, REQUEST_URI or RAW_URI", async () => {
  const seen: Partial<Environ>[] = [];
  await using server = listen(recording(seen));
  for (const host of VALID_HOSTS) {
    const reply = await send(
      server.port,
      `GET /hello?q=1 HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
    );
    assert.match(reply, /^HTTP\/1\.1 200 /, host);
    const view = seen.pop()!;
    assert.equal(view.PATH_INFO, "/hello", host);
    assert.equal(view.QUERY_STRING, "q=1", host);
    assert.equal(view.REQUEST_URI, "/hello?q=1", host);
    assert.equal(view.RAW_URI, "/hello?q=1", host);
    assert.equal(view.HTTP_HOST, host, host);
    // SERVER_NAME and SERVER_PORT are where the server listens (wsgiref).
    assert.equal(view.SERVER_NAME, "127.0.0.1");
    assert.equal(view.SERVER_PORT, String(server.port));
  }
  assert.deepEqual(server.lines, []);
});

Deno.test("a Host that is not a host and port gets 400 before the app runs, with one log line", async () => {
  const seen: Partial<Environ>[] = [];
  const logged: string[] = [];
  await using server = listen(recording(seen), {
    accessLog: (line) => logged.push(line),
  });
  for (const host of INVALID_HOSTS) {
    const reply = await send(
      server.port,
      `GET /hello?q=1 HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
    );
    assert.match(reply, /^HTTP\/1\.1 400 Bad Request\r\n/, host);
    assert.match(reply, /the Host header .* is not a host/, host);
    assert.doesNotMatch(reply, /^\s+at /m);
  }
  assert.deepEqual(seen, []);
  assert.equal(server.lines.length, INVALID_HOSTS.length);
  for (const line of server.lines) {
    // The log names the target as the request line gave it.
    assert.match(
      line,
      /^\[wsgi\] GET \/hello\?q=1: 400, the Host header ".*" is not a host and an optional port \(RFC 9110, section 7\.2\)\n$/,
    );
  }
  for (const line of logged) {
    assert.match(line, /"GET \/hello\?q=1 HTTP\/1\.1" 400 \d+$/);
  }
});

Deno.test("a long Host is not a long target: no 414", async () => {
  const seen: Partial<Environ>[] = [];
  await using server = listen(recording(seen), { limitRequestTarget: 100 });
  const host = `${"h".repeat(200)}.example`;
  const reply = await send(
    server.port,
    `GET /x HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
  );
  assert.match(reply, /^HTTP\/1\.1 200 /);
  assert.equal(seen[0].PATH_INFO, "/x");
});

Deno.test("static files: a Host that names a prefix reaches no file under it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denowsgi-host-" });
  try {
    await Deno.writeTextFile(`${dir}/a.txt`, "secret file\n");
    const seen: Partial<Environ>[] = [];
    await using server = listen(
      sharedData(recording(seen), { "/pub": dir }),
    );
    const viaHost = await send(
      server.port,
      "GET /a.txt HTTP/1.1\r\nHost: x/pub\r\nConnection: close\r\n\r\n",
    );
    assert.match(viaHost, /^HTTP\/1\.1 400 /);
    assert.doesNotMatch(viaHost, /secret file/);
    const upward = await send(
      server.port,
      "GET /a.txt HTTP/1.1\r\nHost: x/pub/%2e%2e\r\nConnection: close\r\n\r\n",
    );
    assert.match(upward, /^HTTP\/1\.1 400 /);
    // The app gets what the request line said, under any valid Host.
    const plain = await send(
      server.port,
      "GET /a.txt HTTP/1.1\r\nHost: pub\r\nConnection: close\r\n\r\n",
    );
    assert.match(plain, /^HTTP\/1\.1 200 [^]*\r\n\r\n\/a\.txt$/);
    // The prefix in the path is still served.
    const file = await send(
      server.port,
      "GET /pub/a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert.match(file, /^HTTP\/1\.1 200 [^]*secret file\n$/);
    assert.deepEqual(seen.map((view) => view.PATH_INFO), ["/a.txt"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("HTTP/1.0 with no header at all is served: no HTTP_HOST, the server's own name", async () => {
  const seen: Partial<Environ>[] = [];
  await using server = listen(recording(seen));
  const reply = await send(server.port, "GET /x?y=1 HTTP/1.0\r\n\r\n");
  assert.match(reply, /^HTTP\/1\.0 200 [^]*\r\n\r\n\/x$/);
  assert.deepEqual(seen, [{
    PATH_INFO: "/x",
    QUERY_STRING: "y=1",
    REQUEST_URI: "/x?y=1",
    RAW_URI: "/x?y=1",
    HTTP_HOST: undefined,
    SERVER_NAME: "127.0.0.1",
    SERVER_PORT: String(server.port),
    "wsgi.url_scheme": "http",
  }]);
});

Deno.test("an absolute-form target gives its path; HTTP_HOST stays the Host header, wsgi.url_scheme the connection's", async () => {
  const seen: Partial<Environ>[] = [];
  await using server = listen(recording(seen));
  for (
    const target of [
      "http://other.test:81/p/q?r=1",
      "https://other.test/p/q?r=1",
    ]
  ) {
    const reply = await send(
      server.port,
      `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    assert.match(reply, /^HTTP\/1\.1 200 /);
  }
  for (const view of seen) {
    assert.equal(view.PATH_INFO, "/p/q");
    assert.equal(view.REQUEST_URI, "/p/q?r=1");
    assert.equal(view.HTTP_HOST, "x");
    // Over plain HTTP, whatever the target claims.
    assert.equal(view["wsgi.url_scheme"], "http");
  }
  assert.equal(seen.length, 2);
});

/** A chunked POST whose body comes after its head, as a client sends it. */
async function chunked(port: number, body: string): Promise<string> {
  const conn = await connect(port);
  const encoder = new TextEncoder();
  await writeAll(
    conn,
    encoder.encode(
      "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
    ),
  );
  // Deno drops a connection whose head and broken body come in one piece,
  // before any handler runs: only a body that comes later reaches the app.
  await new Promise((resolve) => setTimeout(resolve, 50));
  return await exchange(conn, body);
}

for (
  const [name, body] of [
    ["a chunk size that is not hex", "zz\r\nabc\r\n0\r\n\r\n"],
    ["a negative chunk size", "-5\r\nabcde\r\n0\r\n\r\n"],
    ["a 0x chunk size", "0x5\r\nabcde\r\n0\r\n\r\n"],
    ["a chunk size past 64 bits", "99999999999999999999\r\nab\r\n0\r\n\r\n"],
    ["data longer than its size", "3\r\nabcdef\r\n0\r\n\r\n"],
  ]
) {
  Deno.test(`a broken chunked body (${name}) gets 400 and one line naming a malformed body`, async () => {
    let read: unknown;
    await using server = listen(async (environ, startResponse) => {
      try {
        await environ["wsgi.input"].read();
      } catch (error) {
        read = error;
        throw error;
      }
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return ["read"];
    });
    const reply = await chunked(server.port, body);
    assert.match(reply, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(reply, /the request body is malformed/);
    assert.ok(read instanceof Error);
    assert.equal(server.lines.length, 1, server.lines.join(""));
    assert.match(
      server.lines[0],
      /^\[wsgi\] POST \/up: the request body is malformed: its chunked framing is broken \(Error: invalid HTTP\/1 request/,
    );
    assert.doesNotMatch(server.lines[0], /went away/);
  });
}

Deno.test("a broken chunked body after the response started aborts it, logged as malformed", async () => {
  await using server = listen((environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return (async function* () {
      yield "started ";
      yield await environ["wsgi.input"].read();
    })();
  });
  const reply = await chunked(
    server.port,
    "3\r\nabc\r\nzz\r\nxyz\r\n0\r\n\r\n",
  );
  assert.match(reply, /^HTTP\/1\.1 200 /);
  assert.doesNotMatch(
    reply,
    /\r\n0\r\n\r\n$/,
    "a broken body must not end well",
  );
  assert.equal(server.lines.length, 1, server.lines.join(""));
  assert.match(
    server.lines[0],
    /^\[wsgi\] POST \/up: the response was aborted after it had started\n {2}the request body is malformed: its chunked framing is broken/,
  );
});
