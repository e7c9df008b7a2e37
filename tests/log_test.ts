/**
 * The access log and the trace, line for line. Each test hands the gateway
 * a function as `accessLog` / `trace` and compares what it got with the
 * exact lines expected; only what must vary from run to run is normalised:
 * timings, the date of a Common Log Format line and the client's port.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type Application,
  type Environ,
  type ErrorStream,
  type GatewayOptions,
  type Header,
  toFetchHandler,
} from "../mod.ts";
import { commonLogLine, flushLogs, watchers } from "../gateway/log.ts";
import { Spool } from "../gateway/spool.ts";
import { holaMundoApp } from "../examples/holamundo.ts";
import { Client } from "../testing.ts";
import { assertRuleBroken, listen, settle } from "./_helpers.ts";

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/** A log sink that keeps its lines, and wsgi.errors kept the same way. */
function recorder(): {
  lines: string[];
  sink: (line: string) => void;
  errors: ErrorStream;
} {
  const lines: string[] = [];
  return {
    lines,
    sink: (line) => lines.push(line),
    errors: {
      write: (s) => lines.push(`wsgi.errors: ${s.split("\n")[0]}`),
      writelines(l) {
        for (const s of l) lines.push(`wsgi.errors: ${s}`);
      },
      flush() {},
    },
  };
}

/**
 * Replaces what varies between runs. The patterns are as strict as the
 * format, so a malformed timing or date is left alone and fails the test.
 */
function normalise(lines: string[]): string[] {
  return lines.map((line) =>
    line
      .replace(/ \(\+\d+\.\d\d ms\)$/, " (+T ms)")
      .replace(/, \d+\.\d\d ms in all$/, ", T ms in all")
      .replace(
        /\[\d\d\/(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]/,
        "[DATE]",
      )
      .replace(/REMOTE_PORT = "\d+"$/, 'REMOTE_PORT = "N"')
  );
}

/** The trace of the environ a hand-made `Request` for `target` gets. */
function handMadeEnviron(method: string, target: string): string[] {
  const [path, query = ""] = target.split("?");
  return [
    `HTTP_HOST = "localhost"`,
    `PATH_INFO = "${path}"`,
    `QUERY_STRING = "${query}"`,
    `RAW_URI = "${target}"`,
    `REQUEST_METHOD = "${method}"`,
    `REQUEST_URI = "${target}"`,
    `SCRIPT_NAME = ""`,
    `SERVER_NAME = "localhost"`,
    `SERVER_PORT = "80"`,
    `SERVER_PROTOCOL = "HTTP/1.1"`,
    `wsgi.url_scheme = "http"`,
  ];
}

/** The first lines of every trace: the request, its environ, the call. */
function traceOpening(
  n: number,
  method: string,
  target: string,
  environ: string[] = handMadeEnviron(method, target),
): string[] {
  return [
    `[trace #${n}] client → server  ${method} ${target}`,
    `[trace #${n}] server → app     environ:`,
    ...environ.map((line) => `[trace #${n}]                    ${line}`),
    `[trace #${n}] server → app     app(environ, startResponse)`,
  ];
}

/** Sends one hand-made request through `app` and reads the whole response. */
async function exchange(
  app: Application,
  options: GatewayOptions,
  target = "/",
  init?: RequestInit,
): Promise<Response> {
  const handler = toFetchHandler(app, options);
  const response = await handler(
    new Request(`http://localhost${target}`, init),
  );
  await response.bytes();
  return response;
}

const ok = (headers: [string, string][] = []): Application =>
(
  _environ,
  startResponse,
) => {
  startResponse("200 OK", headers);
  return ["hello"];
};

const SERVER_ERROR_BYTES = 59;

// ---------------------------------------------------------------------------
// The access log
// ---------------------------------------------------------------------------

Deno.test("access log: the lesson app on a real server gives one CLF line", async () => {
  const { lines, sink } = recorder();
  const { server, port } = listen(holaMundoApp, { accessLog: sink });
  try {
    const response = await fetch(`http://127.0.0.1:${port}/path?q`);
    assert.equal((await response.bytes()).byteLength, 181);
  } finally {
    await server.shutdown();
  }
  assert.deepEqual(normalise(lines), [
    '127.0.0.1 - - [DATE] "GET /path?q HTTP/1.1" 200 181',
  ]);
});

Deno.test("access log: a text body's size is its UTF-8 bytes, short or long", async () => {
  const { lines, sink } = recorder();
  const text: Application = (environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
    return ["caf\u00e9 \u2615 \u{1F600}".repeat(environ.PATH_INFO.length)];
  };
  const { server, port } = listen(text, { accessLog: sink });
  try {
    for (const path of ["/", "/" + "x".repeat(199)]) {
      const response = await fetch(`http://127.0.0.1:${port}${path}`);
      assert.equal((await response.bytes()).byteLength, 14 * path.length);
    }
  } finally {
    await server.shutdown();
  }
  assert.deepEqual(normalise(lines), [
    '127.0.0.1 - - [DATE] "GET / HTTP/1.1" 200 14',
    `127.0.0.1 - - [DATE] "GET /${"x".repeat(199)} HTTP/1.1" 200 2800`,
  ]);
});

Deno.test("access log: a line to standard output goes whole into its spool, however long the method and URL", async () => {
  const { spool, written, warnings } = spooled();
  const watch = watchers(spool, undefined)!;
  const target = `/caf\u00e9/${"u".repeat(5000)}`;
  const method = "M".repeat(60000);
  watch(
    undefined,
    new Request(`http://localhost${target}`, { method }),
    encodeURI(target),
    undefined,
  )
    .end(200, "caf\u00e9".repeat(1000));
  await spool.flush(1);
  assert.deepEqual(normalise(written), [
    `- - - [DATE] "${method} /caf%C3%A9/${
      "u".repeat(5000)
    } HTTP/1.1" 200 5000\n`,
  ]);
  assert.deepEqual(warnings, []);
});

Deno.test("access log: an answer past appTimeout is logged once, as the client got it", async () => {
  const { lines, sink, errors } = recorder();
  const late: Application = (_environ, startResponse) => {
    startResponse("200 OK", []);
    return (async function* () {
      await new Promise((resolve) => setTimeout(resolve, 300));
      yield* [];
    })();
  };
  const handler = toFetchHandler(late, {
    accessLog: sink,
    errors,
    appTimeout: 0.1,
  });
  const response = await handler(new Request("http://localhost/late"));
  assert.equal(response.status, 503);
  await response.bytes();
  // The application's (empty) body comes after the 503: it changes nothing.
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.deepEqual(
    normalise(lines).filter((line) => !line.startsWith("wsgi.errors")),
    ['- - - [DATE] "GET /late HTTP/1.1" 503 20'],
  );
});

Deno.test("access log: one that throws changes no answer, sync or async, and says so in wsgi.errors", async () => {
  const { lines, errors } = recorder();
  const broken = () => {
    throw new Error("the log is broken");
  };
  const options: GatewayOptions = { accessLog: broken, errors, appTimeout: 0 };
  // With no deadline, an answer left pending would wait forever: each one
  // must settle on its own.
  const rejects: Application = async () => {
    await Promise.resolve();
    throw new Error("the app failed");
  };
  const never: Application = async () => {
    await Promise.resolve();
    return ["no startResponse"];
  };
  const cases: [string, Application, number][] = [
    ["/sync", ok(), 200],
    [
      "/async",
      async (environ, startResponse) => await ok()(environ, startResponse),
      200,
    ],
    ["/rejects", rejects, 500],
    ["/never", never, 500],
  ];
  for (const [target, app, status] of cases) {
    const response = await exchange(app, options, target);
    assert.equal(response.status, status, target);
  }
  const said = lines.filter((line) => line.includes("access log raised"));
  assert.deepEqual(said.map((line) => line.split(":")[1].trim()), [
    "[wsgi] GET /sync",
    "[wsgi] GET /async",
    "[wsgi] GET /rejects",
    "[wsgi] GET /never",
  ]);
});

Deno.test("access log: the remote host is - when there is no connection", async () => {
  const { lines, sink } = recorder();
  await exchange(holaMundoApp, { accessLog: sink }, "/a%20b?x=1&y");
  assert.deepEqual(normalise(lines), [
    '- - - [DATE] "GET /a%20b?x=1&y HTTP/1.1" 200 181',
  ]);
});

Deno.test("access log: bytes are - for an empty body and for HEAD", async () => {
  const { lines, sink } = recorder();
  const empty: Application = (_environ, startResponse) => {
    startResponse("204 No Content", []);
    return [];
  };
  await exchange(empty, { accessLog: sink }, "/empty");
  await exchange(holaMundoApp, { accessLog: sink }, "/head", {
    method: "HEAD",
  });
  await exchange(
    function* (_environ, startResponse) {
      startResponse("200 OK", []);
      yield "streamed";
    },
    { accessLog: sink },
    "/head-stream",
    { method: "HEAD" },
  );
  assert.deepEqual(normalise(lines), [
    '- - - [DATE] "GET /empty HTTP/1.1" 204 -',
    '- - - [DATE] "HEAD /head HTTP/1.1" 200 -',
    '- - - [DATE] "HEAD /head-stream HTTP/1.1" 200 -',
  ]);
});

Deno.test("access log: a failing app logs its 500 and the message's length", async () => {
  const { lines, sink, errors } = recorder();
  const failing: Application = () => {
    throw new Error("boom");
  };
  const handler = toFetchHandler(failing, { accessLog: sink, errors });
  const response = await handler(new Request("http://localhost/fail"));
  const body = await response.bytes();
  assert.equal(body.byteLength, SERVER_ERROR_BYTES);
  assert.deepEqual(normalise(lines), [
    "wsgi.errors: [wsgi] GET /fail: the application raised an error",
    `- - - [DATE] "GET /fail HTTP/1.1" 500 ${SERVER_ERROR_BYTES}`,
  ]);
});

Deno.test("access log: a streamed body is logged when it ends, with its total", async () => {
  const { lines, sink } = recorder();
  const handler = toFetchHandler(function* (_environ, startResponse) {
    startResponse("200 OK", []);
    yield "one ";
    yield "two ";
    yield "three";
  }, { accessLog: sink });
  const response = await handler(new Request("http://localhost/stream"));
  assert.deepEqual(lines, [], "nothing is logged before the body is sent");
  assert.equal(await response.text(), "one two three");
  assert.deepEqual(normalise(lines), [
    '- - - [DATE] "GET /stream HTTP/1.1" 200 13',
  ]);
});

Deno.test("access log: a client that cancels mid-stream still gets its one line", async () => {
  const { lines, sink, errors } = recorder();
  const handler = toFetchHandler(function* (_environ, startResponse) {
    startResponse("200 OK", []);
    while (true) yield "0123456789";
  }, { accessLog: sink, errors });
  const response = await handler(new Request("http://localhost/forever"));
  const reader = response.body!.getReader();
  assert.equal((await reader.read()).value?.byteLength, 10);
  await reader.cancel();
  assert.deepEqual(normalise(lines), [
    "wsgi.errors: [wsgi] GET /forever: the client went away before the whole body was sent",
    '- - - [DATE] "GET /forever HTTP/1.1" 200 10',
  ]);
});

Deno.test("access log: a client gone while the body awaits its next chunk gets one line", async () => {
  // A slow async body (a feed waiting for its next event) is inside `next()`
  // when the client leaves: what it yields afterwards is never sent.
  const { lines, sink, errors } = recorder();
  let release!: () => void;
  const nextEvent = new Promise<void>((resolve) => release = resolve);
  let resumed!: () => void;
  const waiting = new Promise<void>((resolve) => resumed = resolve);
  const handler = toFetchHandler(async function* (_environ, startResponse) {
    startResponse("200 OK", []);
    yield "first";
    resumed();
    await nextEvent;
    yield "second";
  }, { accessLog: sink, errors });
  const response = await handler(new Request("http://localhost/feed"));
  const reader = response.body!.getReader();
  assert.equal((await reader.read()).value?.byteLength, 5);
  // The body is pulled only for a reader that asks: ask, then leave.
  const asking = reader.read();
  await waiting;
  const cancelled = reader.cancel();
  release();
  await cancelled;
  assert.equal((await asking).done, true);
  await settle();
  assert.deepEqual(normalise(lines), [
    "wsgi.errors: [wsgi] GET /feed: the client went away before the whole body was sent",
    '- - - [DATE] "GET /feed HTTP/1.1" 200 5',
  ]);
});

Deno.test("access log: exactly one line per request, in order", async () => {
  const { lines, sink } = recorder();
  const handler = toFetchHandler(ok(), { accessLog: sink });
  for (const path of ["/1", "/2", "/3"]) {
    await (await handler(new Request(`http://localhost${path}`))).text();
  }
  assert.deepEqual(normalise(lines), [
    '- - - [DATE] "GET /1 HTTP/1.1" 200 5',
    '- - - [DATE] "GET /2 HTTP/1.1" 200 5',
    '- - - [DATE] "GET /3 HTTP/1.1" 200 5',
  ]);
});

Deno.test("access log and trace: off, no watcher is made at all", () => {
  // The gateway asks for a watcher factory once; undefined means the
  // per-request path never creates one, which is what makes "off" free.
  assert.equal(watchers(undefined, undefined), undefined);
  assert.equal(typeof watchers(() => {}, undefined), "function");
  assert.equal(typeof watchers(undefined, () => {}), "function");
});

Deno.test("access log and trace: false or absent, the response is unchanged", async () => {
  for (const options of [{}, { accessLog: false, trace: false }]) {
    const response = await toFetchHandler(holaMundoApp, options)(
      new Request("http://localhost/"),
    );
    assert.equal(response.status, 200);
    assert.equal((await response.bytes()).byteLength, 181);
  }
});

// ---------------------------------------------------------------------------
// The Common Log Format line itself
// ---------------------------------------------------------------------------

/** `+0100`, `-0330`: the offset of `date` in this process's time zone. */
function zoneOf(date: Date): string {
  const minutes = -date.getTimezoneOffset();
  const abs = Math.abs(minutes);
  const hhmm = String(Math.trunc(abs / 60) * 100 + abs % 60).padStart(4, "0");
  return `${minutes < 0 ? "-" : "+"}${hhmm}`;
}

/** The environ the gateway builds for a hand-made request for `target`. */
async function environOf(
  target: string,
  init?: RequestInit,
): Promise<Environ> {
  let environ!: Environ;
  await exchange(
    (given, startResponse) => {
      environ = given;
      startResponse("200 OK", []);
      return [];
    },
    {},
    target,
    init,
  );
  return environ;
}

Deno.test("commonLogLine: local time, zero-padded, English month, zone offset", async () => {
  const environ = { ...await environOf("/"), REMOTE_ADDR: "10.0.0.7" };
  const date = new Date(2026, 0, 5, 3, 4, 5);
  assert.equal(
    commonLogLine(environ, 200, 1234, date),
    `10.0.0.7 - - [05/Jan/2026:03:04:05 ${
      zoneOf(date)
    }] "GET / HTTP/1.1" 200 1234`,
  );
  const december = new Date(1999, 11, 31, 23, 59, 59);
  assert.equal(
    commonLogLine(await environOf("/x"), 404, 9, december),
    `- - - [31/Dec/1999:23:59:59 ${zoneOf(december)}] "GET /x HTTP/1.1" 404 9`,
  );
});

Deno.test("commonLogLine: every month has its three-letter English name", async () => {
  const environ = await environOf("/");
  const months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(" ");
  months.forEach((month, index) => {
    const date = new Date(2026, index, 15, 12, 0, 0);
    assert.equal(
      commonLogLine(environ, 200, 1, date),
      `- - - [15/${month}/2026:12:00:00 ${
        zoneOf(date)
      }] "GET / HTTP/1.1" 200 1`,
    );
  });
});

Deno.test("commonLogLine: the request is the raw REQUEST_URI; no bytes is -", async () => {
  const environ = {
    ...await environOf("/caf%C3%A9?a=%20", { method: "POST", body: "x" }),
    REMOTE_ADDR: "::1",
  };
  assert.equal(
    environ.PATH_INFO,
    "/café",
    "decoded for the app, raw in the log",
  );
  const line = commonLogLine(environ, 302, 0, new Date(2026, 5, 1));
  assert.deepEqual(normalise([line]), [
    '::1 - - [DATE] "POST /caf%C3%A9?a=%20 HTTP/1.1" 302 -',
  ]);
});

// ---------------------------------------------------------------------------
// The trace
// ---------------------------------------------------------------------------

Deno.test("trace: the lesson app, step by step", async () => {
  const { lines, sink } = recorder();
  await exchange(holaMundoApp, { trace: sink }, "/path?q");
  assert.deepEqual(normalise(lines), [
    ...traceOpening(1, "GET", "/path?q"),
    '[trace #1] app → server     startResponse("200 OK", [["Content-type","text/html; charset=utf-8"]]) (+T ms)',
    "[trace #1] app → server     chunk 1: 181 bytes (+T ms)",
    "[trace #1] server → client  200, 181 bytes from 1 chunk, T ms in all",
  ]);
});

Deno.test("trace: on a real server the environ shows the client and headers", async () => {
  const { lines, sink } = recorder();
  const { server, port } = listen(holaMundoApp, {
    trace: sink,
    accessLog: sink,
  });
  try {
    const response = await fetch(`http://127.0.0.1:${port}/python-logo.png`, {
      headers: {
        "Accept": "text/html",
        "Accept-Encoding": "identity",
        "Accept-Language": "es",
        "User-Agent": "curso",
      },
    });
    await response.bytes();
  } finally {
    await server.shutdown();
  }
  assert.deepEqual(normalise(lines), [
    ...traceOpening(1, "GET", "/python-logo.png", [
      `HTTP_ACCEPT = "text/html"`,
      `HTTP_ACCEPT_ENCODING = "identity"`,
      `HTTP_ACCEPT_LANGUAGE = "es"`,
      `HTTP_HOST = "127.0.0.1:${port}"`,
      `HTTP_USER_AGENT = "curso"`,
      `PATH_INFO = "/python-logo.png"`,
      `QUERY_STRING = ""`,
      `RAW_URI = "/python-logo.png"`,
      `REMOTE_ADDR = "127.0.0.1"`,
      `REMOTE_PORT = "N"`,
      `REQUEST_METHOD = "GET"`,
      `REQUEST_URI = "/python-logo.png"`,
      `SCRIPT_NAME = ""`,
      `SERVER_NAME = "127.0.0.1"`,
      `SERVER_PORT = "${port}"`,
      `SERVER_PROTOCOL = "HTTP/1.1"`,
      `wsgi.url_scheme = "http"`,
    ]),
    '[trace #1] app → server     startResponse("200 OK", [["Content-type","text/html; charset=utf-8"]]) (+T ms)',
    "[trace #1] app → server     chunk 1: 181 bytes (+T ms)",
    "[trace #1] server → client  200, 181 bytes from 1 chunk, T ms in all",
    '127.0.0.1 - - [DATE] "GET /python-logo.png HTTP/1.1" 200 181',
  ]);
});

Deno.test("trace: a generator's chunks are counted; empty ones are not sent", async () => {
  const { lines, sink } = recorder();
  const handler = toFetchHandler(function* (_environ, startResponse) {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    yield "Hola ";
    yield "";
    yield new TextEncoder().encode("mundo");
    yield "!\n";
  }, { trace: sink });
  const response = await handler(new Request("http://localhost/gen"));
  assert.equal(await response.text(), "Hola mundo!\n");
  assert.deepEqual(normalise(lines), [
    ...traceOpening(1, "GET", "/gen"),
    '[trace #1] app → server     startResponse("200 OK", [["Content-Type","text/plain"]]) (+T ms)',
    "[trace #1] app → server     chunk 1: 5 bytes (+T ms)",
    "[trace #1] app → server     chunk 2: 5 bytes (+T ms)",
    "[trace #1] app → server     chunk 3: 2 bytes (+T ms)",
    "[trace #1] server → client  200, 12 bytes from 3 chunks, T ms in all",
  ]);
});

Deno.test("trace: a client that cancels shows the generator's return()", async () => {
  const { lines, sink, errors } = recorder();
  const handler = toFetchHandler(function* (_environ, startResponse) {
    startResponse("200 OK", []);
    while (true) yield "tick";
  }, { trace: sink, errors });
  const response = await handler(new Request("http://localhost/ticks"));
  const reader = response.body!.getReader();
  await reader.read();
  await reader.cancel();
  assert.deepEqual(normalise(lines), [
    ...traceOpening(1, "GET", "/ticks"),
    '[trace #1] app → server     startResponse("200 OK", []) (+T ms)',
    "[trace #1] app → server     chunk 1: 4 bytes (+T ms)",
    // The stream holds one chunk ahead of its reader.
    "[trace #1] app → server     chunk 2: 4 bytes (+T ms)",
    "wsgi.errors: [wsgi] GET /ticks: the client went away before the whole body was sent",
    "[trace #1] server → app     body.return() (+T ms)",
    "[trace #1] server → client  200, 4 of 8 bytes from 2 chunks, then the client left, T ms in all",
  ]);
});

/** A body that is neither an array nor a generator, with its own close(). */
class Closing implements Iterable<string> {
  constructor(readonly chunks: string[]) {}
  [Symbol.iterator](): Iterator<string> {
    return this.chunks[Symbol.iterator]();
  }
  close(): void {}
}

Deno.test("trace: a body with close() shows the call, streamed or not", async () => {
  const { lines, sink } = recorder();
  const closing = (body: Iterable<string>): Application =>
  (
    _environ,
    startResponse,
  ) => {
    startResponse("200 OK", []);
    return body;
  };
  await exchange(closing(new Closing(["ab", "cde"])), { trace: sink }, "/it");
  await exchange(
    closing(Object.assign(["abc"], { close() {} })),
    { trace: sink },
    "/array",
  );
  assert.deepEqual(normalise(lines), [
    ...traceOpening(1, "GET", "/it"),
    '[trace #1] app → server     startResponse("200 OK", []) (+T ms)',
    "[trace #1] app → server     chunk 1: 2 bytes (+T ms)",
    "[trace #1] app → server     chunk 2: 3 bytes (+T ms)",
    "[trace #1] server → app     body.close() (+T ms)",
    "[trace #1] server → client  200, 5 bytes from 2 chunks, T ms in all",
    ...traceOpening(1, "GET", "/array"),
    '[trace #1] app → server     startResponse("200 OK", []) (+T ms)',
    "[trace #1] app → server     chunk 1: 3 bytes (+T ms)",
    "[trace #1] server → app     body.close() (+T ms)",
    "[trace #1] server → client  200, 3 bytes from 1 chunk, T ms in all",
  ]);
});

Deno.test("trace: write() calls are shown with their size", async () => {
  const { lines, sink } = recorder();
  await exchange(
    (_environ, startResponse) => {
      const write = startResponse("200 OK", []);
      write("Hola ");
      write(new TextEncoder().encode("mundo"));
      return [];
    },
    { trace: sink },
    "/write",
  );
  assert.deepEqual(normalise(lines), [
    ...traceOpening(1, "GET", "/write"),
    '[trace #1] app → server     startResponse("200 OK", []) (+T ms)',
    "[trace #1] app → server     write(): 5 bytes (+T ms)",
    "[trace #1] app → server     write(): 5 bytes (+T ms)",
    "[trace #1] server → client  200, 10 bytes from 2 writes, T ms in all",
  ]);
});

Deno.test("trace: startResponse with excInfo shows the error passed", async () => {
  const { lines, sink } = recorder();
  await exchange(
    (_environ, startResponse) => {
      startResponse("200 OK", [["Content-Type", "text/html"]]);
      try {
        throw new Error("template failed");
      } catch (error) {
        startResponse("500 Oops", [["Content-Type", "text/plain"]], error);
      }
      return ["sorry"];
    },
    { trace: sink },
    "/exc",
  );
  assert.deepEqual(normalise(lines), [
    ...traceOpening(1, "GET", "/exc"),
    '[trace #1] app → server     startResponse("200 OK", [["Content-Type","text/html"]]) (+T ms)',
    '[trace #1] app → server     startResponse("500 Oops", [["Content-Type","text/plain"]], Error: template failed) (+T ms)',
    "[trace #1] app → server     chunk 1: 5 bytes (+T ms)",
    "[trace #1] server → client  500, 5 bytes from 1 chunk, T ms in all",
  ]);
});

Deno.test("trace: a failing app ends with the gateway's 500", async () => {
  const { lines, sink, errors } = recorder();
  await exchange(
    () => {
      throw new Error("boom");
    },
    { trace: sink, errors },
    "/fail",
  );
  assert.deepEqual(normalise(lines), [
    ...traceOpening(1, "GET", "/fail"),
    "wsgi.errors: [wsgi] GET /fail: the application raised an error",
    `[trace #1] server → client  500, ${SERVER_ERROR_BYTES} bytes written by the gateway, T ms in all`,
  ]);
});

Deno.test("trace: a body that raises after its first chunk ends cut off, not as a whole response", async () => {
  const { lines, sink, errors } = recorder();
  const handler = toFetchHandler(function* (_environ, startResponse) {
    startResponse("200 OK", []);
    yield "uno\n";
    throw new Error("boom");
  }, { trace: sink, errors });
  const response = await handler(new Request("http://localhost/cut"));
  await response.bytes().catch(() => {});
  assert.equal(
    normalise(lines).at(-1),
    "[trace #1] server → client  200, 4 bytes from 1 chunk, then cut off (wsgi.errors says why), T ms in all",
  );
});

Deno.test("trace: the gateway's 500 in place of the app's chunk is said to be the gateway's", async () => {
  const { lines, sink, errors } = recorder();
  await exchange(
    // A chunk, but startResponse was never called: the gateway answers.
    () => ["hola"],
    { trace: sink, errors },
    "/nostart",
  );
  assert.equal(
    normalise(lines).at(-1),
    `[trace #1] server → client  500, ${SERVER_ERROR_BYTES} bytes written by the gateway, T ms in all`,
  );
});

Deno.test("trace and access log: a client that leaves before any answer is 'nothing' and nginx's 499", async () => {
  const { lines, sink, errors } = recorder();
  const first = Promise.withResolvers<void>();
  const handler = toFetchHandler((_environ, startResponse) => {
    startResponse("200 OK", []);
    return (async function* () {
      await first.promise;
      yield "too late";
    })();
  }, {
    trace: sink,
    accessLog: (line) => void lines.push(line),
    errors,
    // A short timeout makes a clock that looks often: the client is
    // watched from its first look after a whole tick.
    readTimeout: 0.1,
  });
  const leaving = new AbortController();
  const answer = handler(
    new Request("http://localhost/left", { signal: leaving.signal }),
  );
  await new Promise((resolve) => setTimeout(resolve, 100));
  leaving.abort();
  await answer;
  first.resolve();
  const seen = normalise(lines);
  assert.equal(
    seen.at(-2),
    "[trace #1] server → client  nothing: the client left before the answer, T ms in all",
  );
  assert.match(seen.at(-1)!, / "GET \/left HTTP\/1\.1" 499 -$/);
});

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
    const traced: string[] = [];
    const client = new Client((_environ, startResponse) => {
      const [headers, excInfo] = args as [Header[], unknown];
      startResponse("200 OK", headers, excInfo);
      return ["ok"];
    }, { trace: (line) => traced.push(line) });
    await assertRuleBroken(await client.get("/"), rule);
    assert.ok(
      traced.some((line) => line.includes("startResponse(")),
      "the trace shows the call",
    );
  });
}

Deno.test("trace: requests are numbered per gateway, and the access log follows each", async () => {
  const { lines, sink } = recorder();
  const handler = toFetchHandler(ok(), { trace: sink, accessLog: sink });
  for (const path of ["/first", "/second"]) {
    await (await handler(new Request(`http://localhost${path}`))).text();
  }
  const ends = normalise(lines).filter((line) =>
    line.includes("client → server") || line.includes("server → client") ||
    line.startsWith("- - -")
  );
  assert.deepEqual(ends, [
    "[trace #1] client → server  GET /first",
    "[trace #1] server → client  200, 5 bytes from 1 chunk, T ms in all",
    '- - - [DATE] "GET /first HTTP/1.1" 200 5',
    "[trace #2] client → server  GET /second",
    "[trace #2] server → client  200, 5 bytes from 1 chunk, T ms in all",
    '- - - [DATE] "GET /second HTTP/1.1" 200 5',
  ]);
});

Deno.test("trace: a request refused before the application shows the refusal", async () => {
  const { lines, sink, errors } = recorder();
  const response = await exchange(
    ok(),
    { trace: sink, accessLog: sink, errors, limitRequestTarget: 10 },
    "/far-too-long",
  );
  assert.equal(response.status, 414);
  const size =
    "URI Too Long: the request target is 13 bytes, over limitRequestTarget (10)\n"
      .length;
  assert.deepEqual(normalise(lines), [
    "wsgi.errors: [wsgi] GET /far-too-long: 414, the request target is 13 bytes, over limitRequestTarget (10)",
    "[trace #1] client → server  GET /far-too-long",
    "[trace #1] server           refused before the application runs",
    `[trace #1] server → client  414, ${size} bytes written by the gateway, T ms in all`,
    `- - - [DATE] "GET /far-too-long HTTP/1.1" 414 ${size}`,
  ]);
});

Deno.test("trace: without the access log, no CLF line; and the other way round", async () => {
  const trace = recorder();
  await exchange(ok(), { trace: trace.sink });
  assert.ok(trace.lines.length > 0);
  assert.ok(trace.lines.every((line) => line.startsWith("[trace #1] ")));
  const access = recorder();
  await exchange(ok(), { accessLog: access.sink });
  assert.deepEqual(normalise(access.lines), [
    '- - - [DATE] "GET / HTTP/1.1" 200 5',
  ]);
});

Deno.test("trace: each wsgi.input read shows the call and the bytes it gave", async () => {
  const { lines, sink } = recorder();
  const app: Application = async (environ, startResponse) => {
    const input = environ["wsgi.input"];
    await input.read(4);
    await input.readline();
    await input.readline(2);
    await input.readlines();
    await input.read();
    startResponse("204 No Content", []);
    return [];
  };
  await exchange(app, { trace: sink }, "/", {
    method: "POST",
    body: "nombre=Ada\nuno\ndos\n",
  });
  const reads = normalise(lines).filter((line) => line.includes("wsgi.input"));
  assert.deepEqual(reads, [
    "[trace #1] server → app     wsgi.input.read(4): 4 bytes (+T ms)",
    "[trace #1] server → app     wsgi.input.readline(): 7 bytes (+T ms)",
    "[trace #1] server → app     wsgi.input.readline(2): 2 bytes (+T ms)",
    "[trace #1] server → app     wsgi.input.readlines(): 6 bytes (+T ms)",
    "[trace #1] server → app     wsgi.input.read(): 0 bytes (+T ms)",
  ]);
});

Deno.test("trace: iterating wsgi.input shows one next() per line", async () => {
  const { lines, sink } = recorder();
  const app: Application = async (environ, startResponse) => {
    for await (const _line of environ["wsgi.input"]);
    startResponse("204 No Content", []);
    return [];
  };
  await exchange(app, { trace: sink }, "/", { method: "POST", body: "a\nbc" });
  const reads = normalise(lines).filter((line) => line.includes("wsgi.input"));
  assert.deepEqual(reads, [
    "[trace #1] server → app     wsgi.input.next(): 2 bytes (+T ms)",
    "[trace #1] server → app     wsgi.input.next(): 2 bytes (+T ms)",
  ]);
});

Deno.test("log lines standard output cannot take are dropped and counted, never waited for", async () => {
  const warnings: string[] = [];
  // A pipe nobody reads: a write that never ends.
  const stuck = { write: () => new Promise<number>(() => {}) };
  const spool = new Spool(stuck, (line) => warnings.push(line), 100);
  for (let i = 0; i < 20; i++) spool.push("x".repeat(20));
  // Four lines of 21 bytes fit in 100; the other sixteen are dropped.
  assert.deepEqual(warnings, [
    "[wsgi] standard output is not keeping up: log lines are being dropped",
  ]);
  await spool.flush(0.05);
  // At the end, the four still waiting on the stuck write count too: the
  // server exits without them.
  assert.deepEqual(warnings.slice(1), [
    "[wsgi] 20 log lines were dropped: standard output did not keep up",
  ]);
});

/** A spool over a sink that takes every write at once, and what it took. */
function spooled(limit?: number) {
  const written: string[] = [];
  const warnings: string[] = [];
  const sink = {
    write(bytes: Uint8Array) {
      written.push(new TextDecoder().decode(bytes));
      return Promise.resolve(bytes.byteLength);
    },
  };
  const spool = new Spool(sink, (line) => warnings.push(line), limit);
  return { spool, written, warnings };
}

Deno.test("standard output: a line past the spool's bound is dropped, counted, and the next that fits goes in", async () => {
  const { spool, written, warnings } = spooled(100);
  const watch = watchers(spool, undefined)!;
  const request = (target: string) =>
    new Request(`http://localhost${target}`, { method: "GET" });
  // A line is given room for three bytes per character of its texts and
  // its numbers' widest: far more than 100.
  const long = "/" + "x".repeat(50);
  watch(undefined, request(long), long, undefined).end(200, 1);
  spool.push("short");
  await spool.flush(1);
  assert.deepEqual(written, ["short\n"]);
  assert.deepEqual(warnings, [
    "[wsgi] standard output is not keeping up: log lines are being dropped",
    "[wsgi] 1 log lines were dropped: standard output did not keep up",
  ]);
});

/**
 * Sinks whose first writes go wrong, each way a write can: what each write
 * does in turn (fail, take the first line, take a number of bytes; the
 * writes after the script take everything), what reaches the sink, and how
 * many lines are lost.
 */
const FAILING_WRITES: [
  string,
  ("fail" | "line" | number)[],
  string[],
  number,
][] = [
  ["fails", ["fail"], ["after\n"], 3],
  ["fails after a part", ["line", "fail"], ["first\n", "after\n"], 2],
  // A writer that takes nothing would otherwise be asked again forever.
  ["takes nothing", [0], ["after\n"], 3],
];

for (const [how, script, arrived, lost] of FAILING_WRITES) {
  Deno.test(`standard output: a write that ${how} loses what it did not write, counted, and the spool goes on`, async () => {
    const written: string[] = [];
    const warnings: string[] = [];
    const steps = [...script];
    const sink = {
      write(bytes: Uint8Array) {
        const step = steps.shift() ?? bytes.byteLength;
        if (step === "fail") {
          return Promise.reject(new Deno.errors.BrokenPipe("closed"));
        }
        const taken = step === "line" ? bytes.indexOf(10) + 1 : step;
        if (taken > 0) {
          written.push(new TextDecoder().decode(bytes.subarray(0, taken)));
        }
        return Promise.resolve(taken);
      },
    };
    const spool = new Spool(sink, (line) => warnings.push(line));
    spool.push("first");
    spool.push("second");
    spool.push("third");
    await spool.flush(1);
    spool.push("after");
    await spool.flush(1);
    assert.deepEqual(written, arrived);
    assert.deepEqual(warnings, [
      `[wsgi] standard output cannot be written (${
        how === "takes nothing"
          ? "Error: nothing written"
          : "BrokenPipe: closed"
      }): log lines are being dropped`,
      `[wsgi] ${lost} log lines were dropped: standard output did not keep up`,
    ]);
  });
}

Deno.test("standard output: a reader gone says so once, however many batches fail, and the total at the end", async () => {
  const warnings: string[] = [];
  const gone = {
    write: () => Promise.reject(new Deno.errors.BrokenPipe("Broken pipe")),
  };
  const spool = new Spool(gone, (line) => warnings.push(line));
  // Batches 10 ms apart: each one's write fails.
  for (let batch = 0; batch < 5; batch++) {
    spool.push("a");
    spool.push("b");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.deepEqual(warnings, [
    "[wsgi] standard output cannot be written (BrokenPipe: Broken pipe): log lines are being dropped",
  ]);
  await spool.flush(1);
  assert.deepEqual(warnings.slice(1), [
    "[wsgi] 10 log lines were dropped: standard output did not keep up",
  ]);
});

Deno.test("standard output: UTF-8 and numbers are written as the text they are", async () => {
  const { spool, written } = spooled();
  const batch = spool.batch(64)!;
  batch.text("caf\u00e9 \u{1F600} ");
  // What is not a whole number is written as String writes it, never
  // looped over digit by digit.
  for (const n of [0, 7, 10, 404, 1234567890123, -5, 1.5, NaN, Infinity]) {
    batch.digits(n);
    batch.text(" ");
  }
  batch.text("\n");
  await spool.flush(1);
  assert.deepEqual(written, [
    "caf\u00e9 \u{1F600} 0 7 10 404 1234567890123 -5 1.5 NaN Infinity \n",
  ]);
});

Deno.test("access log: to a writer (an open file), in batches, flushed at shutdown", async () => {
  const path = await Deno.makeTempFile({ prefix: "denowsgi-access-" });
  try {
    const file = await Deno.open(path, { append: true });
    try {
      await using server = listen((_environ, startResponse) => {
        startResponse("200 OK", [["Content-Type", "text/plain"]]);
        return ["hola"];
      }, { accessLog: file });
      for (let i = 0; i < 3; i++) {
        await (await fetch(`${server.url}/${i}`)).text();
      }
    } finally {
      await flushLogs(1);
      file.close();
    }
    const lines = normalise((await Deno.readTextFile(path)).split("\n"))
      .filter(Boolean);
    assert.deepEqual(
      lines,
      [0, 1, 2].map((i) => `127.0.0.1 - - [DATE] "GET /${i} HTTP/1.1" 200 4`),
    );
  } finally {
    await Deno.remove(path);
  }
});
