/**
 * The body rules: chunks and write(), when the status and headers are
 * committed, Content-Length and Content-Type, streaming, close() exactly
 * once on every path, statuses without content, and the kinds of
 * application. The test client sends what needs only the answer; the fetch
 * handler's raw `Response` shows streaming, cancelling and HEAD, and a real
 * server what only the wire shows.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Application, Body, Chunk } from "../mod.ts";
import { Client } from "../testing.ts";
import { encoder, utf8Length } from "../gateway/bytes.ts";
import {
  assertAbortedAfter,
  assertRuleBroken,
  assertServerError,
  assertStackLogged,
  connect,
  exchange,
  harness,
  listen,
  returning,
  settle,
  TEXT,
  until,
  withClose,
  writeAll,
} from "./_helpers.ts";

/**
 * A generator body over `chunks` with a counted `close()`, whose `finally`
 * counts its runs in `finallies`: the gateway must close it exactly once and
 * must not leave the generator suspended.
 */
function counted(
  chunks: Iterable<Chunk>,
): Generator<Chunk> & { closed: number; finallies: number; close(): void } {
  function* run(): Generator<Chunk> {
    try {
      yield* chunks;
    } finally {
      body.finallies++;
    }
  }
  const body = withClose(Object.assign(run(), { finallies: 0 }));
  return body;
}

/** Lets the gateway finish, then asserts `body` was closed and finished once. */
async function assertClosedOnce(
  body: ReturnType<typeof counted>,
): Promise<void> {
  await settle();
  assert.equal(body.closed, 1);
  assert.equal(body.finallies, 1);
}

// ---------------------------------------------------------------------------
// Chunks
// ---------------------------------------------------------------------------

Deno.test("string chunks are sent as UTF-8", async () => {
  const text = "¡Hola, señor! ☃";
  const client = new Client(returning(() => [text]));
  const response = await client.get("/");
  assert.deepEqual(response.body, new TextEncoder().encode(text));
});

Deno.test("Uint8Array chunks are sent as they are, even bytes that are not UTF-8", async () => {
  const raw = new Uint8Array([0x00, 0xff, 0xfe, 0xc3, 0x28, 0x0a]);
  const client = new Client(returning(() => [raw]));
  const response = await client.get("/");
  assert.deepEqual(response.body, raw);
});

Deno.test("an application returning a bare string sends it as one chunk", async () => {
  const client = new Client(returning(() => "entero"));
  const response = await client.get("/");
  assert.equal(response.text, "entero");
  assert.equal(response.headers.get("content-length"), "6");
});

Deno.test("data passed to write() comes before the data of an array body", async () => {
  const client = new Client((_environ, startResponse) => {
    const write = startResponse("200 OK", TEXT);
    write("written ");
    write(new TextEncoder().encode("twice, "));
    return ["then returned"];
  });
  const response = await client.get("/");
  assert.equal(response.text, "written twice, then returned");
});

Deno.test("data passed to write() comes before the data of a streamed body", async () => {
  const client = new Client(function* (_environ, startResponse) {
    const write = startResponse("200 OK", TEXT);
    write("written, ");
    yield "then yielded";
  });
  const response = await client.get("/");
  assert.equal(response.text, "written, then yielded");
});

Deno.test("a Set of chunks is a body", async () => {
  const client = new Client(returning(() => new Set(["uno ", "dos"])));
  assert.equal((await client.get("/")).text, "uno dos");
});

const LATE_WRITES: [string, (write: (chunk: string) => void) => Body][] = [
  [
    "from the body's close()",
    (write) => Object.assign(["ok"], { close: () => write("late") }),
  ],
  ["from a later microtask", (write) => {
    queueMicrotask(() => write("late"));
    return ["ok"];
  }],
];

for (const [when, makeBody] of LATE_WRITES) {
  Deno.test(`write() ${when}, after the body ended, is logged and dropped`, async () => {
    const client = new Client((_environ, startResponse) =>
      makeBody(startResponse("200 OK", [["Content-Type", "text/plain"]]))
    );
    const response = await client.get("/");
    assert.equal(response.text, "ok");
    await until(() => response.errors.length > 0, "a log line");
    assert.deepEqual(response.errors, [
      "[wsgi] GET /: write() came after the body had ended: 4 bytes dropped\n",
    ]);
  });
}

// ---------------------------------------------------------------------------
// Committing the status and headers
// ---------------------------------------------------------------------------

Deno.test("status and headers are not committed until the first non-empty chunk, so excInfo can still change them", async () => {
  const client = new Client(function* (_environ, startResponse) {
    startResponse("200 OK", [["Content-Type", "text/html"], ["X-Old", "1"]]);
    yield "";
    startResponse(
      "404 Not Found",
      TEXT,
      new Error("the page is not there after all"),
    );
    yield "not found";
  });
  const response = await client.get("/");
  assert.equal(response.status, 404);
  assert.equal(response.headers.get("x-old"), null);
  assert.equal(response.text, "not found");
  assert.deepEqual(response.errors, []);
});

// ---------------------------------------------------------------------------
// Content-Length
// ---------------------------------------------------------------------------

Deno.test("an array body gets Content-Length when the application set none", async () => {
  const client = new Client(returning(() => ["¡Hola", ", ", "mundo!"]));
  const response = await client.get("/");
  const length = new TextEncoder().encode("¡Hola, mundo!").byteLength;
  assert.equal(response.headers.get("content-length"), String(length));
  assert.equal(response.text, "¡Hola, mundo!");
});

Deno.test("a text's UTF-8 length is what TextEncoder gives, ASCII or not", () => {
  const texts = [
    "",
    "hola",
    "\x7f",
    "\x80",
    "¡Hola, mundo!",
    "caf\u00e9 \u2615 \u{1F600}",
    "lone \ud800 high, lone \udc00 low, \udbff\udfff pair",
    "a".repeat(5000) + "\u00e9",
  ];
  for (const text of texts) {
    assert.equal(utf8Length(text), encoder.encode(text).byteLength, text);
  }
});

Deno.test("a Content-Length the application set is kept when it matches the body", async () => {
  const client = new Client((_environ, startResponse) => {
    startResponse("200 OK", [...TEXT, ["Content-Length", "5"]]);
    return ["he", "llo"];
  });
  const response = await client.get("/");
  assert.equal(response.headers.get("content-length"), "5");
  assert.equal(response.text, "hello");
});

Deno.test("a Content-Length the application set that does not match an array body is a 500", async () => {
  const client = new Client((_environ, startResponse) => {
    startResponse("200 OK", [...TEXT, ["Content-Length", "99"]]);
    return ["hello"];
  });
  await assertRuleBroken(await client.get("/"), /Content-Length/);
});

Deno.test("an empty array body gets Content-Length 0", async () => {
  const client = new Client(returning(() => []));
  const response = await client.get("/");
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-length"), "0");
  assert.equal(response.text, "");
});

Deno.test("a generator body with no data gets Content-Length 0", async () => {
  const client = new Client(function* (_environ, startResponse) {
    startResponse("200 OK", TEXT);
    yield "";
  });
  const response = await client.get("/");
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-length"), "0");
  assert.equal(response.text, "");
});

/** Streams `pieces`, each after a turn of the event loop. */
async function* chunks(...pieces: string[]): AsyncGenerator<string> {
  for (const piece of pieces) {
    await settle();
    yield piece;
  }
}

/** Declares Content-Length `length` and returns `body()`. */
function declaring(length: string, body: () => Body): Application {
  return (_environ, startResponse) => {
    startResponse("200 OK", [["Content-Length", length]]);
    return body();
  };
}

/** A generator body that yields "hello" in one chunk. */
function* hello(): Generator<string> {
  yield "hello";
}

Deno.test("a stream that ends short of its Content-Length is aborted", async () => {
  const client = new Client(declaring("10", () => chunks("hello")));
  await assertAbortedAfter(await client.get("/"), "hello");
});

Deno.test("a stream that passes its Content-Length on a later chunk is aborted", async () => {
  const client = new Client(declaring("6", () => chunks("abc", "defg")));
  await assertAbortedAfter(await client.get("/"), "abc");
});

Deno.test("a stream of exactly its Content-Length is sent whole", async () => {
  const response = await new Client(declaring("6", () => chunks("abc", "def")))
    .get("/");
  assert.equal(response.text, "abcdef");
  assert.deepEqual(response.errors, []);
});

for (const length of ["0", "3"]) {
  Deno.test(`a Content-Length of ${length} with a streamed 5-byte first chunk is a 500`, async () => {
    const client = new Client(declaring(length, hello));
    await assertRuleBroken(
      await client.get("/"),
      new RegExp(`the body is longer than its Content-Length, ${length}$`, "m"),
    );
  });
}

Deno.test("a Content-Length of 0 with a streamed body is a 500 on the wire, not an empty 200", async () => {
  const { server, port } = listen(declaring("0", hello));
  try {
    const conn = await connect(port);
    const received = await exchange(
      conn,
      "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert.match(received, /^HTTP\/1\.1 500 /);
  } finally {
    await server.shutdown();
  }
});

// ---------------------------------------------------------------------------
// Content-Type: none unless the application sets one
// ---------------------------------------------------------------------------

/** Answers with a string body (bare or in an array), typed or not. */
function stringBodies(): Application {
  return (environ, startResponse) => {
    const typed = environ.PATH_INFO.startsWith("/typed");
    startResponse(
      "200 OK",
      typed ? [["Content-Type", "text/html; charset=utf-8"]] : [],
    );
    return environ.PATH_INFO.endsWith("/bare") ? "hola" : ["ho", "la"];
  };
}

const STRING_BODIES: [path: string, type: string | null][] = [
  ["/bare", null],
  ["/array", null],
  ["/typed/bare", "text/html; charset=utf-8"],
  ["/typed/array", "text/html; charset=utf-8"],
];

Deno.test("a string body gets no Content-Type unless the app set one (test client)", async () => {
  const client = new Client(stringBodies());
  for (const [path, type] of STRING_BODIES) {
    const response = await client.get(path);
    assert.equal(response.text, "hola");
    assert.equal(response.headers.get("content-type"), type, path);
  }
});

Deno.test("a string body gets no Content-Type unless the app set one (on the wire)", async () => {
  const { server, url } = listen(stringBodies());
  try {
    for (const [path, type] of STRING_BODIES) {
      const response = await fetch(url + path);
      assert.equal(await response.text(), "hola");
      assert.equal(response.headers.get("content-type"), type, path);
    }
  } finally {
    await server.shutdown();
  }
});

// ---------------------------------------------------------------------------
// Streaming
// ---------------------------------------------------------------------------

Deno.test("a sync generator body streams, without Content-Length", async () => {
  const client = new Client(function* (_environ, startResponse) {
    startResponse("200 OK", TEXT);
    for (let i = 0; i < 5; i++) yield `${i};`;
  });
  const response = await client.get("/");
  assert.equal(response.headers.get("content-length"), null);
  assert.equal(response.text, "0;1;2;3;4;");
});

Deno.test("an async generator body streams, without Content-Length", async () => {
  const client = new Client(async function* (_environ, startResponse) {
    startResponse("200 OK", TEXT);
    for (let i = 0; i < 5; i++) {
      await Promise.resolve();
      yield `${i};`;
    }
  });
  const response = await client.get("/");
  assert.equal(response.headers.get("content-length"), null);
  assert.equal(response.text, "0;1;2;3;4;");
});

Deno.test("a streamed body is pulled lazily: a chunk is produced only when the client can take it", async () => {
  let produced = 0;
  const { request } = harness(function* (_environ, startResponse) {
    startResponse("200 OK", TEXT);
    for (;;) {
      produced++;
      yield new Uint8Array(1024);
    }
  });
  const response = await request();
  await settle();
  assert.ok(produced <= 3, `before any read, ${produced} chunks produced`);
  const before = produced;
  const reader = response.body!.getReader();
  for (let i = 0; i < 10; i++) await reader.read();
  await settle();
  assert.ok(produced >= 10, "reading advances the generator");
  assert.ok(produced > before);
  assert.ok(produced <= 10 + 3, `after 10 reads, ${produced} chunks produced`);
  await reader.cancel();
});

Deno.test("a body of many empty chunks lets a later request be answered before it ends", async () => {
  // Empty chunks until the other request has been served, so the order
  // does not depend on speed; the cap only stops a gateway that never
  // yields (it would serve the other request after the cap).
  const CAP = 1_000_000;
  const started = Promise.withResolvers<void>();
  let otherServed = false;
  let empties = 0;
  const { server, url, lines } = listen((environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    if (environ.PATH_INFO === "/other") {
      otherServed = true;
      return ["other"];
    }
    started.resolve();
    return (function* () {
      for (; empties < CAP && !otherServed; empties++) yield "";
      yield "fin";
    })();
  });
  try {
    const slow = fetch(`${url}/empties`);
    await started.promise;
    const other = await fetch(`${url}/other`);
    assert.equal(await other.text(), "other");
    const response = await slow;
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "fin");
    assert.ok(
      empties < CAP,
      "the other request was served while the empty chunks ran",
    );
    assert.ok(empties > 0, "the body did yield empty chunks");
    assert.deepEqual(lines, []);
  } finally {
    await server.shutdown();
  }
});

Deno.test("100,000 empty chunks then data make a complete response", async () => {
  const client = new Client((_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return (function* () {
      for (let i = 0; i < 100_000; i++) yield "";
      yield "fin";
    })();
  });
  const response = await client.get("/");
  assert.equal(response.status, 200);
  assert.equal(response.text, "fin");
  assert.deepEqual(response.errors, []);
});

// ---------------------------------------------------------------------------
// close(), exactly once on every path
// ---------------------------------------------------------------------------

Deno.test("close() on an array body is called exactly once at the normal end", async () => {
  const body = withClose(["uno", "dos"]);
  const client = new Client(returning(() => body));
  const response = await client.get("/");
  assert.equal(response.text, "unodos");
  assert.equal(body.closed, 1);
});

Deno.test("close() on a generator body is called exactly once at the normal end, and its finally runs once", async () => {
  const body = counted(["uno", "dos"]);
  const client = new Client(returning(() => body));
  const response = await client.get("/");
  assert.equal(response.text, "unodos");
  await assertClosedOnce(body);
});

Deno.test("close() on a generator body with no data is called exactly once", async () => {
  const body = counted([""]);
  const client = new Client(returning(() => body));
  const response = await client.get("/");
  assert.equal(response.text, "");
  await assertClosedOnce(body);
});

Deno.test("close() is called exactly once when an array body is refused after it was read", async () => {
  const body = withClose(["hello"]);
  const client = new Client((_environ, startResponse) => {
    startResponse("200 OK", [...TEXT, ["Content-Length", "99"]]);
    return body;
  });
  await assertRuleBroken(await client.get("/"), /Content-Length/);
  assert.equal(body.closed, 1);
});

Deno.test("close() is called exactly once when the application fails mid-iteration", async () => {
  const body = counted(function* () {
    yield "uno";
    throw new Error("failed mid-iteration");
  }());
  const client = new Client(returning(() => body));
  const response = await client.get("/");
  await assertAbortedAfter(response, "uno");
  await assertClosedOnce(body);
  assertStackLogged(response.errors, "failed mid-iteration");
});

Deno.test("close() is called exactly once when the client cancels the body", async () => {
  const body = counted(function* () {
    for (;;) yield "más ";
  }());
  const { request } = harness(returning(() => body));
  const response = await request();
  await response.body!.cancel();
  await assertClosedOnce(body);
});

Deno.test("a HEAD request runs the application, sends no body, and closes an array body once", async () => {
  let ran = false;
  const body = withClose(["cuerpo"]);
  const { request } = harness((_environ, startResponse) => {
    ran = true;
    startResponse("200 OK", TEXT);
    return body;
  });
  const response = await request("/", { method: "HEAD" });
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "");
  assert.ok(ran);
  assert.equal(body.closed, 1);
});

Deno.test("a HEAD request runs the application, sends no body, and closes a generator body once", async () => {
  const body = counted(["uno", "dos"]);
  const { request } = harness(returning(() => body));
  const response = await request("/", { method: "HEAD" });
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "");
  await assertClosedOnce(body);
});

Deno.test("a close() that throws is logged and the response is still sent whole", async () => {
  const body = Object.assign(["intacto"], {
    close() {
      throw new Error("close failed");
    },
  });
  const client = new Client(returning(() => body));
  const response = await client.get("/");
  assert.equal(response.status, 200);
  assert.equal(response.text, "intacto");
  assert.equal(response.errors.length, 1);
  assert.match(response.errors[0], /close\(\)/);
  assert.match(response.errors[0], /close failed/);
});

Deno.test("a close() on a streamed body that throws is logged and the response is still sent whole", async () => {
  function* chunks(): Generator<Chunk> {
    yield "uno";
    yield "dos";
  }
  const body = Object.assign(chunks(), {
    close() {
      throw new Error("close failed");
    },
  });
  const client = new Client(returning(() => body));
  const response = await client.get("/");
  assert.equal(response.text, "unodos");
  assert.equal(response.errors.length, 1);
  assert.match(response.errors[0], /close failed/);
});

Deno.test("an async iterable with close(), in a Promise, streams and is closed once", async () => {
  const body = withClose({
    [Symbol.asyncIterator]: () => chunks("uno ", "dos")[Symbol.asyncIterator](),
  });
  const client = new Client(async (_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return await Promise.resolve(body);
  });
  const response = await client.get("/");
  assert.equal(response.headers.get("content-length"), null, "it streams");
  assert.equal(response.text, "uno dos");
  await settle();
  assert.equal(body.closed, 1);
});

/** Adds a close() that counts its calls and returns a promise that never settles. */
function neverClosing<T extends object>(body: T): T & { closed: number } {
  const counted = withClose(body);
  const count = counted.close;
  return Object.assign(counted, {
    close(): Promise<void> {
      count.call(counted);
      return new Promise<void>(() => {});
    },
  });
}

const PENDING_CLOSES: [string, () => Body, number, string][] = [
  ["an array body", () => ["o", "k"], 200, "ok"],
  [
    "a generator body",
    () =>
      (function* () {
        yield "o";
        yield "k";
      })(),
    200,
    "ok",
  ],
  [
    "the 500 of a body that fails",
    () =>
      (function* (): Generator<string> {
        yield* [];
        throw new Error("no data today");
      })(),
    500,
    "",
  ],
];

for (const [what, makeBody, status, text] of PENDING_CLOSES) {
  Deno.test(`${what} is answered while its close() is still pending`, async () => {
    const body = neverClosing(makeBody());
    const client = new Client((_environ, startResponse) => {
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return body;
    });
    // The test finishing is the proof: close() never settles.
    const response = await client.get("/");
    if (status === 500) await assertServerError(response);
    else assert.equal(response.text, text);
    assert.equal(response.status, status);
    assert.equal(body.closed, 1);
  });
}

// The gateway listens to Deno's `request.signal` here: Deno prints a
// one-time notice about that signal on standard error (server.ts keeps it
// quiet; this test serves without it).
Deno.test("a client gone before an async body's first chunk: close() once, one log line", async () => {
  const called = Promise.withResolvers<void>();
  const firstChunk = Promise.withResolvers<void>();
  const body = withClose((async function* () {
    await firstChunk.promise;
    yield "too late";
  })());
  const { server, port, lines } = listen((_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    called.resolve();
    return body;
  });
  try {
    const conn = await connect(port);
    await writeAll(conn, encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    await called.promise;
    conn.close();
    await until(() => body.closed > 0, "close() was called");
    await until(() => lines.length > 0, "a log line");
    assert.equal(body.closed, 1);
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.match(
      lines[0],
      /^\[wsgi\] GET \/: the client went away before the response started\n$/,
    );
  } finally {
    firstChunk.resolve();
    await server.shutdown();
  }
  assert.equal(body.closed, 1, "still once after the body moved on");
});

Deno.test("a generator whose return() throws still gets its close() called, and the log names return()", async () => {
  const body = withClose((function* () {
    try {
      yield "a";
      yield "b";
    } finally {
      // deno-lint-ignore no-unsafe-finally -- the broken cleanup under test
      throw new Error("cleanup failed");
    }
  })());
  const { request, lines } = harness((_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return body;
  });
  const reader = (await request()).body!.getReader();
  assert.equal(new TextDecoder().decode((await reader.read()).value), "a");
  await reader.cancel();
  await until(() => body.closed > 0, "close() was called");
  assert.equal(body.closed, 1);
  const log = lines.join("");
  assert.ok(log.includes("the body's return() raised an error"), log);
  assert.ok(log.includes("cleanup failed"), log);
});

// ---------------------------------------------------------------------------
// Statuses without content
// ---------------------------------------------------------------------------

for (const status of ["204 No Content", "304 Not Modified"]) {
  Deno.test(`a ${status} response with no body is sent as is`, async () => {
    const { request, lines } = harness((_environ, startResponse) => {
      startResponse(status, []);
      return [];
    });
    const response = await request();
    assert.equal(response.status, Number(status.slice(0, 3)));
    assert.equal(response.body, null);
    assert.deepEqual(lines, []);
  });
}

Deno.test("a 204 response with an array body is a 500", async () => {
  const client = new Client((_environ, startResponse) => {
    startResponse("204 No Content", []);
    return ["not allowed"];
  });
  await assertRuleBroken(await client.get("/"), /204 response has no body/);
});

Deno.test("a 204 response with a streamed body is a 500", async () => {
  const client = new Client(function* (_environ, startResponse) {
    startResponse("204 No Content", []);
    yield "not allowed";
  });
  await assertRuleBroken(await client.get("/"), /204 response has no body/);
});

const NO_BODY: [
  string,
  string,
  () => Iterable<string> | AsyncIterable<string>,
][] = [
  ["205 Reset Content", "an array", () => ["x"]],
  ["304 Not Modified", "an array", () => ["x"]],
  ["304 Not Modified", "a streamed", () => chunks("x")],
];

for (const [status, kind, body] of NO_BODY) {
  Deno.test(`a ${status} with ${kind} body is a 500 naming the rule`, async () => {
    const client = new Client((_environ, startResponse) => {
      startResponse(status, []);
      return body();
    });
    await assertRuleBroken(
      await client.get("/"),
      new RegExp(`a ${status.slice(0, 3)} response has no body`),
    );
  });
}

// ---------------------------------------------------------------------------
// Kinds of application
// ---------------------------------------------------------------------------

const kinds: [string, Application][] = [
  ["a sync function", (_environ, startResponse) => {
    startResponse("200 OK", TEXT);
    return ["hola"];
  }],
  ["an async function", async (_environ, startResponse) => {
    await Promise.resolve();
    startResponse("200 OK", TEXT);
    return ["hola"];
  }],
  ["a function returning a Promise", (_environ, startResponse) => {
    startResponse("200 OK", TEXT);
    return Promise.resolve(["ho", "la"]);
  }],
  ["a generator function", function* (_environ, startResponse) {
    startResponse("200 OK", TEXT);
    yield "ho";
    yield "la";
  }],
  ["an async generator function", async function* (_environ, startResponse) {
    await Promise.resolve();
    startResponse("200 OK", TEXT);
    yield "ho";
    yield "la";
  }],
];

for (const [kind, app] of kinds) {
  Deno.test(`an application written as ${kind} works`, async () => {
    const client = new Client(app);
    const response = await client.get("/");
    assert.equal(response.status, 200);
    assert.equal(response.text, "hola");
    assert.deepEqual(response.errors, []);
  });
}
