/**
 * End-to-end tests on a real server, where `fetch` would hide the wire: the
 * bytes of each request are written by hand with `Deno.connect`, and the
 * bytes of each response are read and parsed here.
 *
 * What Deno 2.9 does on the wire, found while writing these tests (each one
 * is pinned by a test below, so an upgrade that changes it shows up here):
 * - The reason phrase is Deno's, never the application's: `"200 Todo bien"`
 *   goes out as `HTTP/1.1 200 OK`, and a code Deno has no phrase for
 *   (`"299 Custom"`) goes out as `HTTP/1.1 299 ` with an empty phrase.
 *   `statusText` is accepted by `Response` and then ignored by the server.
 * - Chunk boundaries are Deno's too: chunks that are ready together are
 *   coalesced into one chunk on the wire, so tests check the framing and the
 *   decoded payload, never where one chunk ends.
 * - Header-name casing depends on a Deno fast path: a response with a single
 *   header goes out lower-cased, one with several keeps the application's
 *   spelling. Tests compare header names case-insensitively.
 * - A request Deno cannot parse (`GARBAGE`, a header line without a colon)
 *   gets `400 Bad Request`, `content-length: 0`, `connection: close`, and the
 *   connection is closed; the handler never sees it.
 * - Deno adds `content-length: 0` to a HEAD response whose `Response` has a
 *   null body, but sends no length at all when the body is a stream.
 * - A response stream that errors mid-way cuts the connection (no final
 *   `0\r\n\r\n`), and Deno also hands the error to `Deno.serve`'s `onError`,
 *   whose default prints it to stderr.
 * - A client that stops reading holds the producer back only through the
 *   kernel's socket buffers: about 4 MiB on loopback here (see the
 *   backpressure test).
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Application, Body, Header, InputStream } from "../mod.ts";
import { holaMundoApp } from "../examples/holamundo.ts";
import { connect, listen, writeAll } from "./_helpers.ts";

// ---------------------------------------------------------------------------
// A raw HTTP/1.1 client: send bytes, read until a response is parsed or the
// server closes the connection.
// ---------------------------------------------------------------------------

/** One response as it came off the wire. */
interface RawResponse {
  /** `HTTP/1.1 200 OK`, without the CRLF. */
  statusLine: string;
  /** Header lines as sent, in order. */
  headerLines: string[];
  /** Header values by lower-cased name. */
  headers: Map<string, string>;
  /** The payload, chunked framing removed. */
  body: string;
  /** Every byte after the blank line, framing included. */
  wire: string;
  /** False when the connection ended before the response did. */
  complete: boolean;
}

/** Whatever a read may do when the server aborts: the same as a close. */
const CLOSED_ERRORS = [
  Deno.errors.ConnectionReset,
  Deno.errors.ConnectionAborted,
  Deno.errors.BrokenPipe,
];

/** How long one read may wait before the test gives up. */
const READ_TIMEOUT_MS = 10_000;

/**
 * A TCP connection to the server speaking HTTP/1.1 by hand. Bytes are kept
 * as a latin-1 string (one character per byte) so framing can be checked
 * with plain string operations.
 */
class RawConnection implements AsyncDisposable {
  #conn: Deno.TcpConn;
  #buffer = "";
  #closed = false;
  /** True once the server closed (or reset) the connection. */
  ended = false;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  static async open(port: number): Promise<RawConnection> {
    return new RawConnection(
      await connect(port),
    );
  }

  async send(text: string): Promise<void> {
    await writeAll(
      this.#conn,
      Uint8Array.from(text, (c) => c.charCodeAt(0)),
    );
  }

  /** Reads up to `size` more bytes into the buffer; false at the end. */
  async fill(size = 65536): Promise<boolean> {
    if (this.ended) return false;
    const chunk = new Uint8Array(size);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.close();
    }, READ_TIMEOUT_MS);
    try {
      const n = await this.#conn.read(chunk);
      if (n === null) {
        this.ended = true;
        return false;
      }
      for (let i = 0; i < n; i += 8192) {
        this.#buffer += String.fromCharCode(
          ...chunk.subarray(i, Math.min(n, i + 8192)),
        );
      }
      return true;
    } catch (error) {
      if (timedOut) {
        throw new Error(`the server sent nothing for ${READ_TIMEOUT_MS} ms`);
      }
      if (!CLOSED_ERRORS.some((kind) => error instanceof kind)) throw error;
      this.ended = true;
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Takes `length` buffered bytes, reading more as needed; null at the end. */
  async #take(length: number): Promise<string | null> {
    while (this.#buffer.length < length) {
      if (!await this.fill()) return null;
    }
    const taken = this.#buffer.slice(0, length);
    this.#buffer = this.#buffer.slice(length);
    return taken;
  }

  /** Takes a line up to CRLF (the CRLF is consumed, not returned). */
  async #line(): Promise<string | null> {
    let end;
    while ((end = this.#buffer.indexOf("\r\n")) === -1) {
      if (!await this.fill()) return null;
    }
    const line = this.#buffer.slice(0, end);
    this.#buffer = this.#buffer.slice(end + 2);
    return line;
  }

  /**
   * Reads one response. `head: true` for a HEAD request, whose response has
   * no body whatever its headers say. Chunked framing is checked strictly:
   * a malformed frame fails the test.
   */
  async response({ head = false } = {}): Promise<RawResponse> {
    const statusLine = await this.#line();
    assert.notEqual(statusLine, null, "the server sent no status line");
    const headerLines: string[] = [];
    const headers = new Map<string, string>();
    for (
      let line = await this.#line();
      line !== "";
      line = await this.#line()
    ) {
      assert.notEqual(line, null, "the connection ended inside the headers");
      headerLines.push(line!);
      const colon = line!.indexOf(":");
      headers.set(
        line!.slice(0, colon).toLowerCase(),
        line!.slice(colon + 1).trim(),
      );
    }
    const response = {
      statusLine: statusLine!,
      headerLines,
      headers,
      body: "",
      wire: "",
      complete: true,
    };
    const status = Number(statusLine!.split(" ")[1]);
    if (head || status === 204 || status === 304) return response;

    if (headers.get("transfer-encoding") === "chunked") {
      for (;;) {
        const sizeLine = await this.#line();
        if (sizeLine === null) return { ...response, complete: false };
        response.wire += `${sizeLine}\r\n`;
        assert.match(sizeLine, /^[0-9a-fA-F]+$/, "a chunk size in hex");
        const size = parseInt(sizeLine, 16);
        const data = await this.#take(size + 2);
        if (data === null) return { ...response, complete: false };
        response.wire += data;
        assert.equal(data.slice(size), "\r\n", "CRLF after the chunk data");
        if (size === 0) return response; // the last chunk, no trailers
        response.body += data.slice(0, size);
      }
    }
    const length = headers.get("content-length");
    if (length !== undefined) {
      const data = await this.#take(Number(length));
      if (data === null) return { ...response, complete: false };
      return { ...response, body: data, wire: data };
    }
    while (await this.fill());
    return { ...response, body: this.#buffer, wire: this.#buffer };
  }

  /** True if the server closes the connection with nothing more to send. */
  async closedByServer(): Promise<boolean> {
    return !await this.fill() && this.#buffer === "";
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#conn.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/** A GET (or any method) with nothing but a Host header. */
function request(path = "/", method = "GET"): string {
  return `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
}

/** Sends one request on a fresh connection and reads its response. */
async function exchange(
  port: number,
  text = request(),
  options?: { head?: boolean },
): Promise<RawResponse> {
  await using conn = await RawConnection.open(port);
  await conn.send(text);
  return await conn.response(options);
}

// ---------------------------------------------------------------------------
// Servers, waiting
// ---------------------------------------------------------------------------

/**
 * Polls `condition` every 20 ms for up to 5 s: a bound on waiting, not a
 * claim about how fast anything is.
 */
async function eventually(condition: () => boolean): Promise<boolean> {
  for (let waited = 0; waited < 5000; waited += 20) {
    if (condition()) return true;
    await sleep(20);
  }
  return condition();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The hola mundo app still answers: the server survived. */
async function assertStillServing(port: number): Promise<void> {
  const response = await exchange(port);
  assert.equal(response.statusLine, "HTTP/1.1 200 OK");
  assert.ok(response.complete);
}

/** An app that answers `status` with a plain-text body. */
function answering(status: string, headers: Header[] = []): Application {
  return (_environ, startResponse) => {
    startResponse(status, [["Content-Type", "text/plain"], ...headers]);
    return ["cuerpo\n"];
  };
}

/** 64 KiB of `x`, the chunk the endless generators yield. */
const CHUNK = new Uint8Array(64 * 1024).fill(0x78);

/** An app yielding CHUNK forever, counting chunks and `finally` runs. */
function endless() {
  const counts = { produced: 0, finalized: 0 };
  const app: Application = function* (_environ, startResponse) {
    startResponse("200 OK", [["Content-Type", "application/octet-stream"]]);
    try {
      for (;;) {
        counts.produced++;
        yield CHUNK;
      }
    } finally {
      counts.finalized++;
    }
  };
  return { app, counts };
}

// ---------------------------------------------------------------------------
// The status line
// ---------------------------------------------------------------------------

Deno.test("the hola mundo app is answered with the exact status line HTTP/1.1 200 OK", async () => {
  await using served = listen(holaMundoApp);
  await using conn = await RawConnection.open(served.port);
  await conn.send(request());
  const response = await conn.response();
  assert.equal(response.statusLine, "HTTP/1.1 200 OK");
  assert.equal(
    response.headers.get("content-type"),
    "text/html; charset=utf-8",
  );
  assert.ok(response.body.includes("<p>Hola mundo!</p>"));
});

Deno.test("a custom reason phrase is replaced by Deno's canonical one on the wire", async () => {
  // Deno.serve ignores Response.statusText: the reason phrase on the wire
  // always comes from Deno's table for the code, and is empty for a code it
  // does not know. The application's phrase is checked by the gateway but
  // never reaches the client.
  const app: Application = (environ, startResponse) => {
    const status = environ.PATH_INFO === "/todo-bien"
      ? "200 Todo bien"
      : environ.PATH_INFO === "/no-existe"
      ? "404 No existe"
      : "299 Custom";
    startResponse(status, [["Content-Type", "text/plain"]]);
    return ["x"];
  };
  await using served = listen(app);
  const todoBien = await exchange(served.port, request("/todo-bien"));
  assert.equal(todoBien.statusLine, "HTTP/1.1 200 OK");
  const noExiste = await exchange(served.port, request("/no-existe"));
  assert.equal(noExiste.statusLine, "HTTP/1.1 404 Not Found");
  const custom = await exchange(served.port, request("/custom"));
  assert.equal(custom.statusLine, "HTTP/1.1 299 ");
  assert.deepEqual(served.lines, []);
});

// ---------------------------------------------------------------------------
// Framing: Content-Length or chunked
// ---------------------------------------------------------------------------

Deno.test("an array body goes out with Content-Length and without chunking", async () => {
  await using served = listen((_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return ["uno\n", "dos\n", new TextEncoder().encode("tres\n")];
  });
  const response = await exchange(served.port);
  assert.equal(response.headers.get("content-length"), "13");
  assert.equal(response.headers.has("transfer-encoding"), false);
  assert.equal(response.wire, "uno\ndos\ntres\n");
  assert.ok(response.complete);
});

Deno.test("a generator body goes out chunked, correctly framed, ending with 0 CRLF CRLF", async () => {
  await using served = listen(async function* (_environ, startResponse) {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    yield "uno\n";
    await sleep(10); // let the first chunk leave on its own
    yield "dos\n";
    yield new TextEncoder().encode("tres\n");
  });
  const response = await exchange(served.port);
  assert.equal(response.headers.get("transfer-encoding"), "chunked");
  assert.equal(response.headers.has("content-length"), false);
  // The parser has checked every frame; Deno may merge "dos" and "tres".
  assert.ok(response.complete);
  assert.equal(response.body, "uno\ndos\ntres\n");
  assert.ok(response.wire.startsWith("4\r\nuno\n\r\n"));
  assert.ok(response.wire.endsWith("\r\n0\r\n\r\n"));
});

Deno.test("two requests on one kept-alive connection are both answered", async () => {
  await using served = listen((environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [`${environ.PATH_INFO} from port ${environ.REMOTE_PORT}`];
  });
  await using conn = await RawConnection.open(served.port);
  await conn.send(request("/uno"));
  const first = await conn.response();
  await conn.send(request("/dos"));
  const second = await conn.response();
  assert.equal(first.statusLine, "HTTP/1.1 200 OK");
  assert.equal(second.statusLine, "HTTP/1.1 200 OK");
  const [, port] = first.body.split(" from port ");
  assert.equal(first.body, `/uno from port ${port}`);
  assert.equal(second.body, `/dos from port ${port}`, "the same connection");
});

// ---------------------------------------------------------------------------
// Keep-alive after a request body: Deno keeps the connection only for a body
// read to its end, cancelled, or touched and left; the gateway lets go of
// what the application did not read.
// ---------------------------------------------------------------------------

/** A POST of `size` bytes of 64-byte lines (the last unterminated). */
function post(path: string, size: number): string {
  const body = ("x".repeat(63) + "\n").repeat(Math.ceil(size / 64))
    .slice(0, size - 1) + "y";
  return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
    `Content-Length: ${size}\r\n\r\n${body}`;
}

/** Each way an application can read the whole of wsgi.input. */
const READS: Record<string, (input: InputStream) => Promise<number>> = {
  "/read": async (input) => (await input.read()).byteLength,
  "/read-n": async (input) => {
    let length = 0;
    for (let piece; (piece = await input.read(100)).byteLength > 0;) {
      length += piece.byteLength;
    }
    return length;
  },
  "/readline": async (input) => {
    let length = 0;
    for (let line; (line = await input.readline()).byteLength > 0;) {
      length += line.byteLength;
    }
    return length;
  },
  "/readlines": async (input) =>
    (await input.readlines()).reduce((sum, line) => sum + line.byteLength, 0),
  "/iteration": async (input) => {
    let length = 0;
    for await (const line of input) length += line.byteLength;
    return length;
  },
  "/exact": async (input) => (await input.read(1024)).byteLength,
};

Deno.test("a body read to its Content-Length keeps the connection alive: 36 POSTs of 1 KB over 3 connections, none told to close", async () => {
  const app: Application = async (environ, startResponse) => {
    const length = await READS[environ.PATH_INFO](environ["wsgi.input"]);
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [String(length)];
  };
  await using plain = listen(app);
  // The trace observes every read: the same holds with it on.
  const traced: string[] = [];
  await using watched = listen(app, {
    trace: (line) => void traced.push(line),
  });
  const paths = Object.keys(READS);
  for (const [c, port] of [plain.port, plain.port, watched.port].entries()) {
    await using conn = await RawConnection.open(port);
    for (let i = 0; i < 12; i++) {
      const path = paths[(c * 12 + i) % paths.length];
      await conn.send(post(path, 1024));
      const response = await conn.response();
      assert.equal(response.statusLine, "HTTP/1.1 200 OK", path);
      assert.equal(response.headers.get("connection"), undefined, path);
      assert.equal(response.body, "1024", path);
    }
  }
  assert.deepEqual([...plain.lines, ...watched.lines], []);
  assert.ok(traced.some((line) => line.includes("read(100)")), traced.join(""));
});

Deno.test("a body read in part or not at all is let go when the response ends: the connection serves the next request", async () => {
  // Answers at once, streamed with a length, or streamed chunked.
  const answers: Record<string, () => Iterable<string>> = {
    "at-once": () => ["partial"],
    "streamed-length": function* () {
      yield "partial";
    },
    "streamed": function* () {
      yield "part";
      yield "ial";
    },
  };
  await using served = listen(async (environ, startResponse) => {
    const [, read, answer] = environ.PATH_INFO.split("/");
    // The first line only, or nothing (a body never touched also makes
    // Deno close the connection).
    if (read === "line") {
      const line = await environ["wsgi.input"].readline();
      assert.equal(line.byteLength, 64);
    }
    const headers: Header[] = [["Content-Type", "text/plain"]];
    if (answer === "streamed-length") headers.push(["Content-Length", "7"]);
    startResponse("200 OK", headers);
    return answers[answer]();
  });
  await using conn = await RawConnection.open(served.port);
  for (const size of [1024, 256 * 1024]) {
    for (const read of ["line", "unread"]) {
      for (const answer of Object.keys(answers)) {
        const path = `/${read}/${answer}`;
        await conn.send(post(path, size));
        const response = await conn.response();
        assert.equal(response.statusLine, "HTTP/1.1 200 OK", path);
        assert.equal(response.headers.get("connection"), undefined, path);
        assert.equal(response.body, "partial", path);
      }
    }
  }
  assert.deepEqual(served.lines, []);
});

// ---------------------------------------------------------------------------
// Errors and clients that go away
// ---------------------------------------------------------------------------

Deno.test("an app that throws after its first chunk gets its response cut, never terminated, and the server serves on", async () => {
  const app: Application = async function* (environ, startResponse) {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    if (environ.PATH_INFO === "/") return yield "sigo aquí\n";
    yield "primero\n";
    await sleep(10);
    throw new Error("se cayó la base de datos");
  };
  const reported: unknown[] = [];
  // Deno also reports the stream's error to onError (by default: stderr);
  // collected here so the test output stays clean.
  await using served = listen(app, {
    onError(error) {
      reported.push(error);
      return new Response(null, { status: 500 });
    },
  });
  await using conn = await RawConnection.open(served.port);
  await conn.send(request("/falla"));
  const response = await conn.response();
  assert.equal(response.statusLine, "HTTP/1.1 200 OK");
  assert.equal(response.headers.get("transfer-encoding"), "chunked");
  assert.equal(response.complete, false, "no final 0\\r\\n\\r\\n");
  assert.ok(!response.wire.includes("0\r\n\r\n"));
  assert.ok(conn.ended, "the server closed the connection");
  assert.equal(served.lines.length, 1);
  assert.match(served.lines[0], /aborted.*\n.*se cayó la base de datos/);
  await assertStillServing(served.port);
});

Deno.test("a client that hangs up mid-stream gets the body closed exactly once, one log line, and the server serves on", async () => {
  const { app, counts } = endless();
  await using served = listen((environ, startResponse) =>
    environ.PATH_INFO === "/"
      ? holaMundoApp(environ, startResponse)
      : app(environ, startResponse)
  );
  {
    await using conn = await RawConnection.open(served.port);
    await conn.send(request("/sin-fin"));
    await conn.fill(4096);
    await conn.fill(4096);
  } // the client hangs up here, with megabytes still on their way
  assert.ok(
    await eventually(() => counts.finalized > 0),
    "the generator's finally never ran",
  );
  await assertStillServing(served.port);
  assert.equal(counts.finalized, 1);
  assert.equal(served.lines.length, 1);
  assert.match(served.lines[0], /GET \/sin-fin: the client went away/);
});

Deno.test("a client that does not read holds the generator back to what the socket buffers can take", async () => {
  // Nothing in Deno buffers a streamed body: the gateway pulls one chunk when
  // the ReadableStream asks, and Deno asks once the previous chunk is written
  // to the socket. What the producer gets ahead by is therefore the kernel's
  // buffering: on Linux loopback the server's send buffer grows up to
  // net.ipv4.tcp_wmem's maximum (4 MiB by default), so an unread client
  // stops the generator after about 63 chunks of 64 KiB. The bound below
  // leaves room for larger buffers elsewhere and is still a tiny fraction of
  // what an unbounded producer makes in a second (tens of thousands).
  const bound = 256; // chunks: 16 MiB
  const { app, counts } = endless();
  await using served = listen(app);
  await using conn = await RawConnection.open(served.port);
  await conn.send(request());
  assert.ok(await eventually(() => counts.produced > 0));
  await sleep(1000);
  const stalled = counts.produced;
  assert.ok(stalled < bound, `${stalled} chunks produced for nobody`);
  // It is backpressure, not a stall: reading lets the producer go on.
  for (let read = 0; read < 2 * 1024 * 1024; read += 65536) await conn.fill();
  assert.ok(
    await eventually(() => counts.produced > stalled),
    "the producer did not resume when the client read",
  );
  conn.close();
  assert.ok(await eventually(() => counts.finalized === 1));
});

Deno.test("a malformed request gets a 400 from Deno and a closed connection, the app is never called, the server serves on", async () => {
  let calls = 0;
  await using served = listen((environ, startResponse) => {
    calls++;
    return holaMundoApp(environ, startResponse);
  });
  for (
    const garbage of [
      "GARBAGE\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nSinDosPuntos\r\n\r\n",
    ]
  ) {
    await using conn = await RawConnection.open(served.port);
    await conn.send(garbage);
    const response = await conn.response();
    assert.equal(response.statusLine, "HTTP/1.1 400 Bad Request", garbage);
    assert.equal(response.headers.get("connection"), "close");
    assert.equal(response.headers.get("content-length"), "0");
    assert.ok(await conn.closedByServer(), "the connection is closed");
  }
  assert.equal(calls, 0);
  await assertStillServing(served.port);
  assert.equal(calls, 1);
  assert.deepEqual(served.lines, []);
});

Deno.test("HEAD runs the app, sends headers and no body bytes, and closes the body", async () => {
  let closes = 0;
  let finalized = 0;
  await using served = listen((environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    if (environ.PATH_INFO === "/lista") {
      return Object.assign(["hola\n"], { close: () => void closes++ }) as Body;
    }
    return (function* () {
      try {
        yield "hola\n";
        yield "mundo\n";
      } finally {
        finalized++;
      }
    })();
  });
  await using conn = await RawConnection.open(served.port);
  // HEAD then GET on one connection: if the HEAD response carried any body
  // byte, the second response would not start with its status line.
  await conn.send(request("/lista", "HEAD") + request("/generador", "HEAD"));
  await conn.send(request("/lista"));
  const listHead = await conn.response({ head: true });
  const generatorHead = await conn.response({ head: true });
  const get = await conn.response();
  assert.equal(listHead.statusLine, "HTTP/1.1 200 OK");
  assert.equal(listHead.headers.get("content-length"), "5");
  assert.equal(generatorHead.statusLine, "HTTP/1.1 200 OK");
  assert.equal(get.statusLine, "HTTP/1.1 200 OK");
  assert.equal(get.body, "hola\n");
  assert.equal(closes, 2, "the list body closed for HEAD and for GET");
  assert.equal(finalized, 1, "the generator closed for HEAD");
});

Deno.test("HEAD of a streamed body declares no Content-Length it cannot know", async () => {
  // RFC 9110 §8.6: a HEAD response MUST NOT carry a Content-Length other than
  // the one a GET would have. A GET here is chunked, length unknown.
  await using served = listen(function* (_environ, startResponse) {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    yield "hola\n";
  });
  const response = await exchange(served.port, request("/", "HEAD"), {
    head: true,
  });
  assert.equal(response.statusLine, "HTTP/1.1 200 OK");
  assert.equal(response.headers.get("content-length"), undefined);
});

Deno.test("a bad status from the app becomes a well-formed 500 in plain text with no stack trace", async () => {
  await using served = listen((environ, startResponse) =>
    answering(environ.PATH_INFO === "/" ? "200 OK" : "OK")(
      environ,
      startResponse,
    )
  );
  const response = await exchange(served.port, request("/mal"));
  assert.equal(response.statusLine, "HTTP/1.1 500 Internal Server Error");
  assert.equal(
    response.headers.get("content-type"),
    "text/plain; charset=utf-8",
  );
  assert.equal(
    response.headers.get("content-length"),
    String(response.body.length),
  );
  assert.ok(response.complete);
  assert.doesNotMatch(response.body, /\bat |file:|\.ts\b|Error/);
  assert.equal(served.lines.length, 1);
  assert.match(served.lines[0], /three digits/);
  await assertStillServing(served.port);
});

Deno.test("CR LF in the status or a header value cannot inject a header on the wire", async () => {
  const app: Application = (environ, startResponse) =>
    environ.PATH_INFO === "/status"
      ? answering("200 OK\r\nX-Injected: 1")(environ, startResponse)
      : answering("200 OK", [["X-Safe", "a\r\nX-Injected: 1"]])(
        environ,
        startResponse,
      );
  await using served = listen(app);
  for (const path of ["/status", "/header"]) {
    const response = await exchange(served.port, request(path));
    assert.equal(response.statusLine, "HTTP/1.1 500 Internal Server Error");
    assert.equal(response.headers.has("x-injected"), false, path);
  }
  assert.equal(served.lines.length, 2);
});
