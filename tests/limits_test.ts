/**
 * Every limit and timeout on the wire: what it answers, the one log line it
 * writes, and that the application's body is closed. Timeouts are set to
 * fractions of a second; only outcomes are asserted, never durations.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Application, toFetchHandler } from "../mod.ts";
import { connect, listen, writeAll } from "./_helpers.ts";

const encoder = new TextEncoder();

let called = 0;
const echo: Application = async (environ, startResponse) => {
  called++;
  const body = await environ["wsgi.input"].read();
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [`${body.byteLength} bytes\n`];
};

function statusOf(received: string): string {
  return received.split("\r\n", 1)[0];
}

/**
 * Sends `request` and reads one response with a Content-Length, then hangs
 * up: Deno sends the gateway's `Connection: close` but keeps the
 * connection open, so reading to the end would wait forever.
 */
async function answer(
  port: number,
  request: string | (string | { after: number; piece: string })[],
): Promise<string> {
  const conn = await connect(port);
  try {
    for (const part of typeof request === "string" ? [request] : request) {
      // A piece may wait `after` ms first, as a slow client's would.
      if (typeof part !== "string") {
        await new Promise((resolve) => setTimeout(resolve, part.after));
      }
      const piece = typeof part === "string" ? part : part.piece;
      await writeAll(conn, encoder.encode(piece));
    }
    const buffer = new Uint8Array(16 * 1024);
    let received = "";
    for (let n; (n = await conn.read(buffer)) !== null;) {
      received += new TextDecoder().decode(buffer.subarray(0, n));
      const end = received.indexOf("\r\n\r\n");
      const length = /content-length: (\d+)/i.exec(received)?.[1];
      if (end !== -1 && received.length >= end + 4 + Number(length ?? 0)) break;
    }
    return received;
  } finally {
    conn.close();
  }
}

/** Resolves when `close()` is called; `closed` counts the calls. */
function closing() {
  let done!: () => void;
  const called = new Promise<void>((resolve) => done = resolve);
  const body = {
    closed: 0,
    called,
    close() {
      body.closed++;
      done();
    },
  };
  return body;
}

Deno.test("a target past limitRequestTarget gets 414 and one log line; the app is not called", async () => {
  await using server = listen(echo);
  called = 0;
  const long = await answer(
    server.port,
    `GET /${"a".repeat(9000)} HTTP/1.1\r\nHost: a\r\n\r\n`,
  );
  assert.equal(statusOf(long), "HTTP/1.1 414 URI Too Long");
  assert.equal(called, 0);
  assert.equal(server.lines.length, 1);
  assert.match(
    server.lines[0],
    /^\[wsgi\] GET \/a+…: 414, .*limitRequestTarget \(8192\)\n$/,
  );
  const fine = await fetch(`${server.url}/${"a".repeat(8000)}`);
  assert.equal(fine.status, 200);
  await fine.body?.cancel();
});

Deno.test("limitRequestTarget 0 lets Deno's own bound decide (a 64 KiB head)", async () => {
  await using server = listen(echo, { limitRequestTarget: 0 });
  const long = await fetch(`${server.url}/${"a".repeat(20000)}`);
  assert.equal(long.status, 200);
  await long.body?.cancel();
  const huge = await answer(
    server.port,
    `GET /${"a".repeat(70000)} HTTP/1.1\r\nHost: a\r\n\r\n`,
  );
  assert.equal(statusOf(huge), "HTTP/1.1 400 Bad Request");
});

Deno.test("header fields past limitRequestFields or limitRequestFieldSize get 431", async () => {
  await using server = listen(echo, {
    limitRequestFields: 5,
    limitRequestFieldSize: 100,
  });
  const fields = Array.from({ length: 6 }, (_, i) => `X-${i}: v\r\n`).join("");
  const many = await answer(
    server.port,
    `GET / HTTP/1.1\r\nHost: a\r\n${fields}\r\n`,
  );
  assert.equal(statusOf(many), "HTTP/1.1 431 Request Header Fields Too Large");
  const big = await answer(
    server.port,
    `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${"b".repeat(100)}\r\n\r\n`,
  );
  assert.equal(statusOf(big), "HTTP/1.1 431 Request Header Fields Too Large");
  assert.match(
    server.lines[0],
    /7 header fields, over limitRequestFields \(5\)/,
  );
  assert.match(
    server.lines[1],
    /107 bytes, over limitRequestFieldSize \(100\)/,
  );
});

Deno.test("with no header limit set, Deno refuses past 128 fields or a 64 KiB head with a 400", async () => {
  await using server = listen(echo);
  const fields = (n: number) =>
    Array.from({ length: n }, (_, i) => `X-${i}: v\r\n`).join("");
  const ok = await answer(
    server.port,
    `GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n${fields(126)}\r\n`,
  );
  assert.equal(statusOf(ok), "HTTP/1.1 200 OK");
  const many = await answer(
    server.port,
    `GET / HTTP/1.1\r\nHost: a\r\n${fields(200)}\r\n`,
  );
  assert.equal(statusOf(many), "HTTP/1.1 400 Bad Request");
  const big = await answer(
    server.port,
    `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${"b".repeat(70000)}\r\n\r\n`,
  );
  assert.equal(statusOf(big), "HTTP/1.1 400 Bad Request");
});

Deno.test("a Content-Length past limitRequestBody gets 413 before the app runs", async () => {
  await using server = listen(echo, { limitRequestBody: 1000 });
  called = 0;
  const received = await answer(
    server.port,
    `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n${
      "x".repeat(5000)
    }`,
  );
  assert.equal(statusOf(received), "HTTP/1.1 413 Payload Too Large");
  assert.equal(called, 0);
  assert.match(
    server.lines[0],
    /Content-Length says 5000 bytes, over limitRequestBody \(1000\)/,
  );
  const fine = await fetch(server.url, {
    method: "POST",
    body: "x".repeat(1000),
  });
  assert.equal(await fine.text(), "1000 bytes\n");
});

Deno.test("a chunked upload growing past limitRequestBody fails the read and gets 413, even if the app catches it", async () => {
  let caught = "";
  const app: Application = async (environ, startResponse) => {
    try {
      await environ["wsgi.input"].read();
    } catch (error) {
      caught = String(error);
    }
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return ["fine\n"];
  };
  await using server = listen(app, { limitRequestBody: 1000 });
  const chunk = `400\r\n${"x".repeat(1024)}\r\n`;
  const received = await answer(
    server.port,
    [
      `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n`,
      chunk,
      chunk,
      "0\r\n\r\n",
    ],
  );
  assert.equal(statusOf(received), "HTTP/1.1 413 Payload Too Large");
  assert.match(caught, /grew past 1000 bytes \(limitRequestBody\)/);
  assert.equal(server.lines.length, 1);
  assert.match(
    server.lines[0],
    /^\[wsgi\] POST \/: the request body grew past 1000 bytes/,
  );
});

Deno.test("an upload past limitRequestBody after the response started: the response is cut, close() called", async () => {
  const body = closing();
  const app: Application = (environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return Object.assign(
      (async function* () {
        yield "started\n";
        for await (const line of environ["wsgi.input"]) yield line;
      })(),
      { close: body.close },
    );
  };
  await using server = listen(app, { limitRequestBody: 1000 });
  const line = `400\r\n${"x".repeat(1023)}\n\r\n`;
  const received = await answer(
    server.port,
    [
      `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n`,
      line,
      line,
      "0\r\n\r\n",
    ],
  );
  assert.equal(statusOf(received), "HTTP/1.1 200 OK");
  assert.ok(
    !received.endsWith("0\r\n\r\n"),
    "the chunked body never ends cleanly",
  );
  await body.called;
  assert.equal(body.closed, 1);
  assert.match(
    server.lines.join(""),
    /grew past 1000 bytes \(limitRequestBody\)/,
  );
});

Deno.test("an upload that stalls past readTimeout fails the read and gets 408", async () => {
  await using server = listen(echo, { readTimeout: 0.2 });
  const received = await answer(
    server.port,
    `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc`,
  );
  assert.equal(statusOf(received), "HTTP/1.1 408 Request Timeout");
  assert.equal(server.lines.length, 1);
  assert.match(
    server.lines[0],
    /^\[wsgi\] POST \/: the request body sent nothing for 0.2 s \(readTimeout\)\n$/,
  );
});

Deno.test("a client that stops reading past sendTimeout: the response is aborted, close() called once", async () => {
  const body = closing();
  const chunk = new Uint8Array(64 * 1024);
  const app: Application = (_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "application/octet-stream"]]);
    return Object.assign(
      (function* () {
        while (true) yield chunk;
      })(),
      { close: body.close },
    );
  };
  await using server = listen(app, { sendTimeout: 0.2 });
  const conn = await connect(server.port);
  await writeAll(conn, encoder.encode("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  // Never read: the socket buffers fill, and the gateway gives up.
  await body.called;
  conn.close();
  assert.equal(body.closed, 1);
  assert.match(
    server.lines.join(""),
    /the client took nothing for 0.2 s \(sendTimeout\)/,
  );
});

Deno.test("a slow app gets one log line; past appTimeout a 503, deno.signal fired, close() called when its body comes", async () => {
  const body = closing();
  let reason: unknown;
  const app: Application = async (environ) => {
    const signal = environ["deno.signal"]!;
    await new Promise((resolve) => signal.addEventListener("abort", resolve));
    reason = signal.reason;
    return Object.assign([], { close: body.close });
  };
  await using server = listen(app, { slowAppWarning: 0.1, appTimeout: 0.3 });
  const response = await fetch(`${server.url}/slow?x=1`);
  assert.equal(response.status, 503);
  assert.equal(await response.text(), "Service Unavailable\n");
  await body.called;
  assert.equal(body.closed, 1);
  assert.equal((reason as DOMException).name, "TimeoutError");
  const log = server.lines.join("");
  assert.match(
    log,
    /\[wsgi\] GET \/slow\?x=1: the application has not answered after 0\.\d s\n/,
  );
  assert.match(
    log,
    /\[wsgi\] GET \/slow\?x=1: the application did not answer in 0.3 s \(appTimeout\)\n/,
  );
});

Deno.test("a streamed body whose first chunk comes after appTimeout's 503 is closed then, with no stream left for nobody", async () => {
  const body = closing();
  let first!: () => void;
  const late = new Promise<void>((resolve) => first = resolve);
  const app: Application = (_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return Object.assign(
      (async function* () {
        await new Promise((resolve) => setTimeout(resolve, 400));
        first();
        yield "too ";
        yield "late";
      })(),
      { close: body.close },
    );
  };
  const lines: string[] = [];
  // A short sendTimeout: a stream made for nobody would be cut by it, and
  // the cut logged as a response aborted after it had started.
  const handler = toFetchHandler(app, {
    appTimeout: 0.2,
    sendTimeout: 0.3,
    slowAppWarning: 0,
    errors: {
      write: (text) => void lines.push(text),
      writelines: (texts) => void lines.push(...texts),
      flush() {},
    },
  });
  const response = await handler(new Request("http://localhost/late"));
  assert.equal(response.status, 503);
  await response.body?.cancel();
  await late;
  await body.called;
  assert.equal(body.closed, 1);
  // Longer than two sendTimeouts and a tick of the clock: nothing more.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.deepEqual(lines, [
    "[wsgi] GET /late: the application did not answer in 0.2 s (appTimeout)\n",
  ]);
});

/**
 * Sends a POST whose 9-byte body comes in 3 pieces `gap` ms apart (the head
 * with the first), and reads one response, as {@linkcode answer} does.
 */
function slowUpload(port: number, gap: number): Promise<string> {
  const pieces = ["abc", "def", "ghi"];
  return answer(port, [
    `POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\n${pieces[0]}`,
    ...pieces.slice(1).map((piece) => ({ after: gap, piece })),
  ]);
}

Deno.test("appTimeout does not count the time wsgi.input waits on a slow upload: its reader gets its 200", async () => {
  await using server = listen(echo, { appTimeout: 0.5, slowAppWarning: 0 });
  const received = await slowUpload(server.port, 300);
  assert.equal(statusOf(received), "HTTP/1.1 200 OK");
  assert.ok(received.endsWith("\r\n\r\n9 bytes\n"), received);
  assert.deepEqual(server.lines, []);
});

Deno.test("an app silent past appTimeout after reading a slow upload still gets the 503", async () => {
  let read = "";
  const app: Application = async (environ) => {
    read = new TextDecoder().decode(await environ["wsgi.input"].read());
    // Silent until the deadline fires its signal: only the 503 ends this.
    const signal = environ["deno.signal"]!;
    await new Promise((resolve) => signal.addEventListener("abort", resolve));
    return [];
  };
  await using server = listen(app, { appTimeout: 0.5, slowAppWarning: 0 });
  const received = await slowUpload(server.port, 300);
  assert.equal(statusOf(received), "HTTP/1.1 503 Service Unavailable");
  assert.equal(read, "abcdefghi");
  assert.match(
    server.lines.join(""),
    /^\[wsgi\] POST \/up: the application did not answer in 0.5 s \(appTimeout\)\n/,
  );
});

Deno.test("refusals are in the access log too, with the bytes of their answer", async () => {
  const logged: string[] = [];
  const slow: Application = (environ) =>
    new Promise((resolve) =>
      environ["deno.signal"]!.addEventListener("abort", () => resolve([]))
    );
  await using server = listen(
    (environ, startResponse) =>
      environ.PATH_INFO === "/slow"
        ? slow(environ, startResponse)
        : echo(environ, startResponse),
    {
      accessLog: (line) => logged.push(line),
      limitRequestBody: 10,
      appTimeout: 0.2,
    },
  );
  const sizes: string[] = [];
  const raw = async (request: string) => {
    const received = await answer(server.port, request);
    sizes.push(/content-length: (\d+)/i.exec(received)![1]);
  };
  await raw(`GET /${"a".repeat(9000)} HTTP/1.1\r\nHost: a\r\n\r\n`);
  await raw("GET /badhost HTTP/1.1\r\nHost: x/admin\r\n\r\n");
  await raw("POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n");
  await raw(
    "POST /grows HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "b\r\nxxxxxxxxxxx\r\n0\r\n\r\n",
  );
  const late = await fetch(`${server.url}/slow`);
  sizes.push(String((await late.bytes()).byteLength));
  assert.equal(late.status, 503);
  const lines = logged.map((line) => line.replace(/\[[^\]]+\]/, "[DATE]"));
  assert.deepEqual(lines, [
    `127.0.0.1 - - [DATE] "GET /${"a".repeat(9000)} HTTP/1.1" 414 ${sizes[0]}`,
    `127.0.0.1 - - [DATE] "GET /badhost HTTP/1.1" 400 ${sizes[1]}`,
    `127.0.0.1 - - [DATE] "POST /big HTTP/1.1" 413 ${sizes[2]}`,
    `127.0.0.1 - - [DATE] "POST /grows HTTP/1.1" 413 ${sizes[3]}`,
    `127.0.0.1 - - [DATE] "GET /slow HTTP/1.1" 503 ${sizes[4]}`,
  ]);
  assert.ok(sizes.every((size) => Number(size) > 0));
});

Deno.test("a refused HEAD is logged with no bytes; a broken access log does not change a refusal", async () => {
  const logged: string[] = [];
  await using server = listen(echo, {
    accessLog: (line) => logged.push(line),
  });
  // A HEAD's answer declares a length it does not carry: read the head only.
  const conn = await connect(server.port);
  await writeAll(
    conn,
    encoder.encode(`HEAD /${"a".repeat(9000)} HTTP/1.1\r\nHost: a\r\n\r\n`),
  );
  let head = "";
  const buffer = new Uint8Array(4096);
  for (let n; !head.includes("\r\n\r\n") && (n = await conn.read(buffer));) {
    head += new TextDecoder().decode(buffer.subarray(0, n));
  }
  conn.close();
  assert.equal(statusOf(head), "HTTP/1.1 414 URI Too Long");
  assert.match(logged[0], /" 414 -$/);
  await using broken = listen(echo, {
    accessLog: () => {
      throw new Error("the log is broken");
    },
  });
  const long = await answer(
    broken.port,
    `GET /${"a".repeat(9000)} HTTP/1.1\r\nHost: a\r\n\r\n`,
  );
  assert.equal(statusOf(long), "HTTP/1.1 414 URI Too Long");
});

Deno.test("deno.signal fires when the client goes away while the app works", async () => {
  let reason: unknown;
  let started!: () => void;
  const working = new Promise<void>((resolve) => started = resolve);
  const app: Application = async (environ) => {
    const signal = environ["deno.signal"]!;
    started();
    await new Promise((resolve) => signal.addEventListener("abort", resolve));
    reason = signal.reason;
    return [];
  };
  await using server = listen(app);
  const controller = new AbortController();
  const request = fetch(server.url, { signal: controller.signal }).catch(
    () => {},
  );
  await working;
  controller.abort();
  await request;
  while (reason === undefined) await new Promise((r) => setTimeout(r, 10));
  assert.ok(reason !== undefined);
});
