/**
 * Regression tests for the review fixes: each test here failed (or crashed
 * the process, or never finished) before its fix, except the plain run of
 * 100,000 empty chunks, which pins the result that fix must keep. What an
 * application does wrong or late must neither crash the server, nor slip
 * into the response, nor hold the response back; what a client does
 * (leaving early) must be logged as the client's doing and close the body
 * once.
 *
 * Deno prints a one-time notice about `request.signal` on standard error
 * when the client-gone test runs: the gateway listens to that signal.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type Application,
  type Body,
  type Header,
  toFetchHandler,
} from "../mod.ts";
import {
  assertRuleBroken,
  assertServerError,
  collector,
  exchange,
  harness,
  listen,
  settle,
  STACK_FRAME,
  withClose,
  writeAll,
} from "./_helpers.ts";

const encoder = new TextEncoder();

/**
 * Waits until `condition` holds, letting queued callbacks run between
 * checks, for a bounded number of turns; times nothing.
 */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let turn = 0; turn < 5000 && !condition(); turn++) await settle();
  assert.ok(condition(), `never happened: ${what}`);
}

/** The log lines that mention `text`. */
function mentions(lines: string[], text: string): string[] {
  return lines.filter((line) => line.includes(text));
}

// ---------------------------------------------------------------------------
// 3. No Content-Type unless the app sets one
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

Deno.test("a string body gets no Content-Type unless the app set one (fetch handler)", async () => {
  const { request } = harness(stringBodies());
  for (const [path, type] of STRING_BODIES) {
    const response = await request(path);
    assert.equal(await response.text(), "hola");
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
// 4. Responses do not wait for close()
// ---------------------------------------------------------------------------

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
    const { request } = harness((_environ, startResponse) => {
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return body;
    });
    // The test finishing is the proof: close() never settles.
    const response = await request();
    if (status === 500) await assertServerError(response);
    else assert.equal(await response.text(), text);
    assert.equal(response.status, status);
    assert.equal(body.closed, 1);
  });
}

// ---------------------------------------------------------------------------
// 5. A client gone before an async body's first chunk
// ---------------------------------------------------------------------------

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
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: port,
    });
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

// ---------------------------------------------------------------------------
// 6. A first chunk past the declared Content-Length
// ---------------------------------------------------------------------------

/** Declares `length` and streams "hello". */
const overLength = (length: string): Application => (_e, startResponse) => {
  startResponse("200 OK", [["Content-Length", length]]);
  return (function* () {
    yield "hello";
  })();
};

for (const length of ["0", "3"]) {
  Deno.test(`a Content-Length of ${length} with a streamed 5-byte first chunk is a 500`, async () => {
    const { request, lines } = harness(overLength(length));
    await assertRuleBroken(
      await request(),
      new RegExp(`the body is longer than its Content-Length, ${length}$`, "m"),
      lines,
    );
  });
}

Deno.test("a Content-Length of 0 with a streamed body is a 500 on the wire, not an empty 200", async () => {
  const { server, port } = listen(overLength("0"));
  try {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: port,
    });
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
// 7. return() throwing does not skip close()
// ---------------------------------------------------------------------------

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
// 9. Long runs of empty chunks let other requests through
// ---------------------------------------------------------------------------

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
  const { request, lines } = harness((_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return (function* () {
      for (let i = 0; i < 100_000; i++) yield "";
      yield "fin";
    })();
  });
  const response = await request();
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "fin");
  assert.deepEqual(lines, []);
});

// ---------------------------------------------------------------------------
// 10. An upload cut off by the client
// ---------------------------------------------------------------------------

Deno.test("a client gone in the middle of an upload is logged in one line, without a stack", async () => {
  const reading = Promise.withResolvers<void>();
  const { server, port, lines } = listen(async (environ, startResponse) => {
    const input = environ["wsgi.input"];
    await input.read(1);
    reading.resolve();
    const rest = await input.read();
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [`${rest.byteLength + 1} bytes`];
  });
  try {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: port,
    });
    await writeAll(
      conn,
      encoder.encode(
        "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n",
      ),
    );
    await writeAll(conn, new Uint8Array(10_000).fill(0x61));
    await reading.promise;
    conn.close();
    await until(() => lines.length > 0, "a log line");
    const log = lines.join("");
    assert.equal(mentions(lines, "the client went away").length, 1, log);
    assert.doesNotMatch(log, STACK_FRAME);
    assert.equal(log.trimEnd().split("\n").length, 1, log);
  } finally {
    await server.shutdown();
  }
});

// ---------------------------------------------------------------------------
// 11. write() after the end
// ---------------------------------------------------------------------------

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
    const { request, lines } = harness((_environ, startResponse) =>
      makeBody(startResponse("200 OK", [["Content-Type", "text/plain"]]))
    );
    assert.equal(await (await request()).text(), "ok");
    await until(() => lines.length > 0, "a log line");
    assert.deepEqual(lines, [
      "[wsgi] GET /: write() came after the body had ended: 4 bytes dropped\n",
    ]);
  });
}

// ---------------------------------------------------------------------------
// 12. Tracing never changes what happens
// ---------------------------------------------------------------------------

const TRACED_MISTAKES: [string, unknown[], RegExp][] = [
  [
    "excInfo is a null-prototype object",
    [[["X-Bad", "a\r\nb"]], Object.create(null)],
    /the value of header X-Bad contains CR, LF or NUL/,
  ],
  [
    "a header value is a BigInt",
    [[["X-Big", 1n]]],
    /each header must be a \[name, value\] pair of strings/,
  ],
];

for (const [what, args, rule] of TRACED_MISTAKES) {
  Deno.test(`with trace on, when ${what}, the log names the gateway's rule`, async () => {
    const { errors, lines } = collector();
    const traced: string[] = [];
    const handler = toFetchHandler((_environ, startResponse) => {
      const [headers, excInfo] = args as [Header[], unknown];
      startResponse("200 OK", headers, excInfo);
      return ["ok"];
    }, { errors, trace: (line) => traced.push(line) });
    await assertRuleBroken(
      await handler(new Request("http://localhost/")),
      rule,
      lines,
    );
    assert.ok(
      traced.some((line) => line.includes("startResponse(")),
      "the trace shows the call",
    );
  });
}
