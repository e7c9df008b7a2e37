/**
 * The body rules (issue 2, point 5), through the fetch handler.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Application, Chunk, Header } from "../mod.ts";
import {
  assertAbortedAfter,
  assertRuleBroken,
  assertStackLogged,
  harness,
  settle,
  withClose,
} from "./_helpers.ts";

const TEXT: Header[] = [["Content-Type", "text/plain; charset=utf-8"]];

/** An app that answers 200 with `body`, whatever it is. */
function returning(body: () => ReturnType<Application>): Application {
  return (_environ, startResponse) => {
    startResponse("200 OK", TEXT);
    return body();
  };
}

async function bytesOf(response: Response): Promise<Uint8Array> {
  return new Uint8Array(await response.arrayBuffer());
}

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
  const { request } = harness(returning(() => [text]));
  const response = await request();
  assert.deepEqual(await bytesOf(response), new TextEncoder().encode(text));
});

Deno.test("Uint8Array chunks are sent as they are, even bytes that are not UTF-8", async () => {
  const raw = new Uint8Array([0x00, 0xff, 0xfe, 0xc3, 0x28, 0x0a]);
  const { request } = harness(returning(() => [raw]));
  const response = await request();
  assert.deepEqual(await bytesOf(response), raw);
});

Deno.test("an application returning a bare string sends it as one chunk", async () => {
  const { request } = harness(returning(() => "entero"));
  const response = await request();
  assert.equal(await response.text(), "entero");
  assert.equal(response.headers.get("content-length"), "6");
});

Deno.test("data passed to write() comes before the data of an array body", async () => {
  const { request } = harness((_environ, startResponse) => {
    const write = startResponse("200 OK", TEXT);
    write("written ");
    write(new TextEncoder().encode("twice, "));
    return ["then returned"];
  });
  const response = await request();
  assert.equal(await response.text(), "written twice, then returned");
});

Deno.test("data passed to write() comes before the data of a streamed body", async () => {
  const { request } = harness(function* (_environ, startResponse) {
    const write = startResponse("200 OK", TEXT);
    write("written, ");
    yield "then yielded";
  });
  const response = await request();
  assert.equal(await response.text(), "written, then yielded");
});

// ---------------------------------------------------------------------------
// Committing the status and headers
// ---------------------------------------------------------------------------

Deno.test("status and headers are not committed until the first non-empty chunk, so excInfo can still change them", async () => {
  const { request, lines } = harness(function* (_environ, startResponse) {
    startResponse("200 OK", [["Content-Type", "text/html"], ["X-Old", "1"]]);
    yield "";
    startResponse(
      "404 Not Found",
      TEXT,
      new Error("the page is not there after all"),
    );
    yield "not found";
  });
  const response = await request();
  assert.equal(response.status, 404);
  assert.equal(response.headers.get("x-old"), null);
  assert.equal(await response.text(), "not found");
  assert.deepEqual(lines, []);
});

// ---------------------------------------------------------------------------
// Content-Length
// ---------------------------------------------------------------------------

Deno.test("an array body gets Content-Length when the application set none", async () => {
  const { request } = harness(returning(() => ["¡Hola", ", ", "mundo!"]));
  const response = await request();
  const length = new TextEncoder().encode("¡Hola, mundo!").byteLength;
  assert.equal(response.headers.get("content-length"), String(length));
  assert.equal(await response.text(), "¡Hola, mundo!");
});

Deno.test("a Content-Length the application set is kept when it matches the body", async () => {
  const { request } = harness((_environ, startResponse) => {
    startResponse("200 OK", [...TEXT, ["Content-Length", "5"]]);
    return ["he", "llo"];
  });
  const response = await request();
  assert.equal(response.headers.get("content-length"), "5");
  assert.equal(await response.text(), "hello");
});

Deno.test("a Content-Length the application set that does not match an array body is a 500", async () => {
  const { request, lines } = harness((_environ, startResponse) => {
    startResponse("200 OK", [...TEXT, ["Content-Length", "99"]]);
    return ["hello"];
  });
  await assertRuleBroken(await request(), /Content-Length/, lines);
});

Deno.test("an empty array body gets Content-Length 0", async () => {
  const { request } = harness(returning(() => []));
  const response = await request();
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-length"), "0");
  assert.equal(await response.text(), "");
});

Deno.test("a generator body with no data gets Content-Length 0", async () => {
  const { request } = harness(function* (_environ, startResponse) {
    startResponse("200 OK", TEXT);
    yield "";
  });
  const response = await request();
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-length"), "0");
  assert.equal(await response.text(), "");
});

// ---------------------------------------------------------------------------
// Streaming
// ---------------------------------------------------------------------------

Deno.test("a sync generator body streams, without Content-Length", async () => {
  const { request } = harness(function* (_environ, startResponse) {
    startResponse("200 OK", TEXT);
    for (let i = 0; i < 5; i++) yield `${i};`;
  });
  const response = await request();
  assert.equal(response.headers.get("content-length"), null);
  assert.equal(await response.text(), "0;1;2;3;4;");
});

Deno.test("an async generator body streams, without Content-Length", async () => {
  const { request } = harness(async function* (_environ, startResponse) {
    startResponse("200 OK", TEXT);
    for (let i = 0; i < 5; i++) {
      await Promise.resolve();
      yield `${i};`;
    }
  });
  const response = await request();
  assert.equal(response.headers.get("content-length"), null);
  assert.equal(await response.text(), "0;1;2;3;4;");
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

// ---------------------------------------------------------------------------
// close(), exactly once on every path
// ---------------------------------------------------------------------------

Deno.test("close() on an array body is called exactly once at the normal end", async () => {
  const body = withClose(["uno", "dos"]);
  const { request } = harness(returning(() => body));
  const response = await request();
  assert.equal(await response.text(), "unodos");
  assert.equal(body.closed, 1);
});

Deno.test("close() on a generator body is called exactly once at the normal end, and its finally runs once", async () => {
  const body = counted(["uno", "dos"]);
  const { request } = harness(returning(() => body));
  const response = await request();
  assert.equal(await response.text(), "unodos");
  await assertClosedOnce(body);
});

Deno.test("close() on a generator body with no data is called exactly once", async () => {
  const body = counted([""]);
  const { request } = harness(returning(() => body));
  const response = await request();
  assert.equal(await response.text(), "");
  await assertClosedOnce(body);
});

Deno.test("close() is called exactly once when an array body is refused after it was read", async () => {
  const body = withClose(["hello"]);
  const { request, lines } = harness((_environ, startResponse) => {
    startResponse("200 OK", [...TEXT, ["Content-Length", "99"]]);
    return body;
  });
  await assertRuleBroken(await request(), /Content-Length/, lines);
  assert.equal(body.closed, 1);
});

Deno.test("close() is called exactly once when the application fails mid-iteration", async () => {
  const body = counted(function* () {
    yield "uno";
    throw new Error("failed mid-iteration");
  }());
  const { request, lines } = harness(returning(() => body));
  await assertAbortedAfter(await request(), "uno");
  await assertClosedOnce(body);
  assertStackLogged(lines, "failed mid-iteration");
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
  const { request, lines } = harness(returning(() => body));
  const response = await request();
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "intacto");
  assert.equal(lines.length, 1);
  assert.match(lines[0], /close\(\)/);
  assert.match(lines[0], /close failed/);
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
  const { request, lines } = harness(returning(() => body));
  const response = await request();
  assert.equal(await response.text(), "unodos");
  assert.equal(lines.length, 1);
  assert.match(lines[0], /close failed/);
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
  const { request, lines } = harness((_environ, startResponse) => {
    startResponse("204 No Content", []);
    return ["not allowed"];
  });
  await assertRuleBroken(await request(), /204 response has no body/, lines);
});

Deno.test("a 204 response with a streamed body is a 500", async () => {
  const { request, lines } = harness(function* (_environ, startResponse) {
    startResponse("204 No Content", []);
    yield "not allowed";
  });
  await assertRuleBroken(await request(), /204 response has no body/, lines);
});

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
    const { request, lines } = harness(app);
    const response = await request();
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "hola");
    assert.deepEqual(lines, []);
  });
}
