/**
 * The wsgi.input rules: the request body read the way Python reads a file,
 * asynchronously. Unit tests go through `toFetchHandler` with bodies that
 * arrive in small pieces; end-to-end tests send real uploads (chunked, large,
 * pipelined) to a server at port 0.
 */

import assert from "node:assert/strict";
import { type Environ, type InputStream, toFetchHandler } from "../mod.ts";
import {
  collector,
  connect,
  exchange,
  listen,
  STACK_FRAME,
  until,
  writeAll,
} from "./_helpers.ts";

// -- helpers ----------------------------------------------------------------

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Bytes as text, for readable assertions. */
function text(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/** A body stream that delivers `content` in pieces of `size` bytes. */
function trickle(content: string, size = 3): ReadableStream<Uint8Array> {
  const bytes = encoder.encode(content);
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.byteLength) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + size));
      offset += size;
    },
  });
}

/** A POST whose body arrives in 3-byte pieces. */
function trickling(content: string): Request {
  return new Request("http://localhost/upload", {
    method: "POST",
    body: trickle(content),
  });
}

/**
 * Calls an application with `request` (no socket) that hands its environ to
 * `use`, then rethrows whatever `use` threw, so assertions made inside the
 * application fail the test.
 */
async function withInput(
  request: Request,
  use: (input: InputStream, environ: Environ) => Promise<void>,
): Promise<void> {
  const { errors, lines } = collector();
  let ran = false;
  let failure: unknown;
  const handler = toFetchHandler(async (environ, startResponse) => {
    ran = true;
    try {
      await use(environ["wsgi.input"], environ);
    } catch (error) {
      failure = error;
    }
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return ["ok"];
  }, { errors });
  const response = await handler(request);
  assert.equal(await response.text(), "ok");
  if (failure !== undefined) throw failure;
  assert.ok(ran, "the application ran");
  assert.deepEqual(lines, []);
}

// -- read ---------------------------------------------------------------------

Deno.test("read() with no size reads the whole body", async () => {
  const body = "línea uno\nlínea dos\nfin";
  await withInput(trickling(body), async (input) => {
    assert.equal(text(await input.read()), body);
  });
});

Deno.test("read() with a negative size reads everything that is left", async () => {
  await withInput(trickling("abcdefghij"), async (input) => {
    assert.equal(text(await input.read(2)), "ab");
    assert.equal(text(await input.read(-1)), "cdefghij");
  });
});

Deno.test("read(n) returns exactly n bytes, across small chunks, until the end", async () => {
  await withInput(
    trickling("abcdefghijklmnopqrstuvwxyz"),
    async (input) => {
      assert.equal(text(await input.read(5)), "abcde");
      assert.equal(text(await input.read(1)), "f");
      assert.equal(text(await input.read(10)), "ghijklmnop");
      assert.equal(text(await input.read(4)), "qrst");
      // Fewer than asked only at the end of the body.
      assert.equal(text(await input.read(100)), "uvwxyz");
      assert.equal((await input.read(100)).byteLength, 0);
    },
  );
});

Deno.test("read(0) returns an empty array and consumes nothing", async () => {
  await withInput(trickling("abcdef"), async (input) => {
    const nothing = await input.read(0);
    assert.ok(nothing instanceof Uint8Array);
    assert.equal(nothing.byteLength, 0);
    assert.equal(text(await input.read()), "abcdef");
  });
});

Deno.test("read at the end of the body returns an empty Uint8Array, every time", async () => {
  await withInput(trickling("abc"), async (input) => {
    assert.equal(text(await input.read()), "abc");
    for (const size of [undefined, 1, 10, -1]) {
      const rest = await input.read(size);
      assert.ok(rest instanceof Uint8Array);
      assert.equal(rest.byteLength, 0);
    }
  });
});

Deno.test("read returns the body's bytes unchanged, not text", async () => {
  const bytes = new Uint8Array([0, 0xff, 0xc3, 0x0a, 0x80, 0x7f]);
  await withInput(
    new Request("http://localhost/", { method: "POST", body: bytes }),
    async (input) => {
      assert.deepEqual(await input.read(), bytes);
    },
  );
});

// -- readline and readlines ---------------------------------------------------

Deno.test("readline() reads up to and including the newline", async () => {
  await withInput(trickling("one\ntwo\n\nthree"), async (input) => {
    assert.equal(text(await input.readline()), "one\n");
    assert.equal(text(await input.readline()), "two\n");
    assert.equal(text(await input.readline()), "\n");
    // The last line may lack its newline.
    assert.equal(text(await input.readline()), "three");
    assert.equal((await input.readline()).byteLength, 0);
  });
});

Deno.test("readline(size) returns at most size bytes and leaves the rest of the line", async () => {
  await withInput(trickling("abcdefgh\nij\n"), async (input) => {
    assert.equal(text(await input.readline(5)), "abcde");
    assert.equal(text(await input.readline(2)), "fg");
    assert.equal(text(await input.readline(100)), "h\n");
    assert.equal(text(await input.readline(3)), "ij\n");
    assert.equal(text(await input.readline(0)), "");
    assert.equal((await input.readline(5)).byteLength, 0);
  });
});

Deno.test("readlines() returns every remaining line", async () => {
  await withInput(trickling("a\nbb\nccc\ndddd"), async (input) => {
    assert.equal(text(await input.readline()), "a\n");
    assert.deepEqual((await input.readlines()).map(text), [
      "bb\n",
      "ccc\n",
      "dddd",
    ]);
    assert.deepEqual(await input.readlines(), []);
  });
});

Deno.test("readlines(hint) stops once hint bytes have been read, leaving the rest", async () => {
  await withInput(trickling("a\nbb\nccc\ndddd\n"), async (input) => {
    // "a\n" is 2 bytes, "bb\n" brings it to 5 ≥ 4: stop there.
    assert.deepEqual((await input.readlines(4)).map(text), ["a\n", "bb\n"]);
    assert.equal(text(await input.read()), "ccc\ndddd\n");
  });
  await withInput(trickling("a\nbb\n"), async (input) => {
    // As in Python, a hint of 0 or less means no hint.
    assert.deepEqual((await input.readlines(0)).map(text), ["a\n", "bb\n"]);
  });
});

Deno.test("async iteration over wsgi.input yields its lines", async () => {
  await withInput(trickling("uno\ndos\ntres"), async (input) => {
    const lines: string[] = [];
    for await (const line of input) lines.push(text(line));
    assert.deepEqual(lines, ["uno\n", "dos\n", "tres"]);
    assert.equal((await input.read()).byteLength, 0);
  });
});

Deno.test("reads can be mixed: read, readline and iteration share one position", async () => {
  await withInput(trickling("head:1\nrow1\nrow2\ntail"), async (input) => {
    assert.equal(text(await input.read(5)), "head:");
    assert.equal(text(await input.readline()), "1\n");
    const rows: string[] = [];
    for await (const line of input) {
      rows.push(text(line));
      if (rows.length === 2) break;
    }
    assert.deepEqual(rows, ["row1\n", "row2\n"]);
    assert.equal(text(await input.read()), "tail");
  });
});

// -- no body, and the body's bounds ------------------------------------------

Deno.test("a GET with no body reads as empty", async () => {
  await withInput(new Request("http://localhost/"), async (input) => {
    assert.equal((await input.read()).byteLength, 0);
    assert.equal((await input.read(10)).byteLength, 0);
    assert.equal((await input.readline()).byteLength, 0);
    assert.deepEqual(await input.readlines(), []);
    for await (const _ of input) assert.fail("no lines in an empty body");
  });
});

Deno.test("reads stop at CONTENT_LENGTH even if the body stream is longer", async () => {
  const request = new Request("http://localhost/", {
    method: "POST",
    headers: { "Content-Length": "5" },
    body: trickle("helloEXTRA"),
  });
  await withInput(request, async (input, environ) => {
    assert.equal(environ.CONTENT_LENGTH, "5");
    assert.equal(text(await input.read()), "hello");
    assert.equal((await input.read(10)).byteLength, 0);
  });
});

Deno.test("on a real server, reads stop at CONTENT_LENGTH: the next pipelined request is not body", async () => {
  const bodies: Record<string, string> = {};
  await using server = listen(async (environ, startResponse) => {
    bodies[environ.PATH_INFO] = text(await environ["wsgi.input"].read());
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [environ.PATH_INFO];
  });
  const conn = await connect(server.port);
  const response = await exchange(
    conn,
    "POST /first HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello" +
      "GET /second HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
  );
  assert.deepEqual(bodies, { "/first": "hello", "/second": "" });
  assert.equal(response.match(/HTTP\/1\.1 200 OK\r\n/g)?.length, 2);
  assert.ok(response.endsWith("/second"), JSON.stringify(response));
});

Deno.test("a chunked upload with no Content-Length is read to its end", async () => {
  let seen: { hasContentLength: boolean; firstLine: string; body: string } = {
    hasContentLength: true,
    firstLine: "",
    body: "",
  };
  await using server = listen(async (environ, startResponse) => {
    const input = environ["wsgi.input"];
    const firstLine = text(await input.readline());
    const body = firstLine + text(await input.read());
    seen = { hasContentLength: "CONTENT_LENGTH" in environ, firstLine, body };
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [String(encoder.encode(body).byteLength)];
  });
  const conn = await connect(server.port);
  // The chunks go out in separate writes, one of them split mid-chunk.
  const chunks = ["hola \n", "mundo desde\n", "fin"];
  const hex = (s: string) => encoder.encode(s).byteLength.toString(16);
  const response = await exchange(conn, [
    "POST /up HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n" +
    "Connection: close\r\n\r\n",
    `${hex(chunks[0])}\r\n${chunks[0]}\r\n`,
    `${hex(chunks[1])}\r\n${chunks[1].slice(0, 5)}`,
    `${chunks[1].slice(5)}\r\n`,
    `${hex(chunks[2])}\r\n${chunks[2]}\r\n`,
    "0\r\n\r\n",
  ]);
  assert.match(response, /^HTTP\/1\.1 200 OK\r\n/);
  assert.ok(response.endsWith("\r\n\r\n21"), JSON.stringify(response));
  assert.deepEqual(seen, {
    hasContentLength: false,
    firstLine: "hola \n",
    body: "hola \nmundo desde\nfin",
  });
});

Deno.test("an 8 MiB upload read with read(65536) in a loop arrives whole", async () => {
  const size = 8 * 1024 * 1024;
  const payload = new Uint8Array(size);
  // A pattern that is not periodic in 64 KiB, so a lost or repeated block
  // changes the digest.
  for (let i = 0, x = 2463534242; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    payload[i] = x & 0xff;
  }
  const sha = async (bytes: Uint8Array<ArrayBuffer>) =>
    Array.from(
      new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");

  let received: Uint8Array<ArrayBuffer> | undefined;
  let contentLength: string | undefined;
  const sizes = new Set<number>();
  await using server = listen(async (environ, startResponse) => {
    contentLength = environ.CONTENT_LENGTH;
    const whole = new Uint8Array(size + 65536);
    let length = 0;
    for (;;) {
      const piece = await environ["wsgi.input"].read(65536);
      if (piece.byteLength === 0) break;
      sizes.add(piece.byteLength);
      whole.set(piece, length);
      length += piece.byteLength;
    }
    received = whole.subarray(0, length);
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [String(length)];
  });
  const response = await fetch(`${server.url}/big`, {
    method: "POST",
    headers: { "Content-Type": "application/octet-stream" },
    body: payload,
  });
  assert.equal(response.status, 200);
  assert.equal(await response.text(), String(size));
  assert.equal(contentLength, String(size));
  assert.ok(received !== undefined);
  assert.equal(received.byteLength, size);
  assert.equal(await sha(received), await sha(payload));
  // 8 MiB is a multiple of 64 KiB: every read but the last (empty) is full.
  assert.deepEqual([...sizes], [65536]);
});

// -- a client gone mid-upload -------------------------------------------------

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
    const conn = await connect(port);
    await writeAll(
      conn,
      new TextEncoder().encode(
        "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n",
      ),
    );
    await writeAll(conn, new Uint8Array(10_000).fill(0x61));
    await reading.promise;
    conn.close();
    await until(() => lines.length > 0, "a log line");
    const log = lines.join("");
    const gone = lines.filter((line) =>
      line.includes("the request body broke off before its end")
    );
    assert.equal(gone.length, 1, log);
    assert.doesNotMatch(log, STACK_FRAME);
    assert.equal(log.trimEnd().split("\n").length, 1, log);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a body cut short by a client that closes its sending side: 400, as nginx answers it", async () => {
  const { server, port, lines } = listen(async (environ, startResponse) => {
    const body = await environ["wsgi.input"].read();
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [`${body.byteLength} bytes`];
  });
  try {
    const conn = await connect(port);
    await writeAll(
      conn,
      encoder.encode(
        "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
      ),
    );
    await conn.closeWrite();
    // The client still reads: it is told, and not of a server error.
    const reply = await exchange(conn, []);
    assert.match(reply, /^HTTP\/1\.1 400 /);
    await until(() => lines.length > 0, "a log line");
    assert.match(lines.join(""), /POST \/upload: the request body broke off/);
  } finally {
    await server.shutdown();
  }
});

// -- the body let go when the response ends ------------------------------

Deno.test("a body let go when the response ended: a later read fails rather than pass for its end", async () => {
  let kept: InputStream | undefined;
  const handler = toFetchHandler(async (environ, startResponse) => {
    kept = environ["wsgi.input"];
    assert.equal(text(await kept.read(3)), "hel");
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return ["ok"];
  }, { errors: collector().errors });
  const response = await handler(trickling("hello world"));
  assert.equal(await response.text(), "ok");
  await assert.rejects(
    () => kept!.read(),
    /wsgi\.input was read after the response had ended/,
  );
});

Deno.test("once Content-Length is read, the body stream is cancelled at once, its rest cut", async () => {
  const cancelled = Promise.withResolvers<void>();
  const bytes = encoder.encode("helloEXTRA");
  let offset = 0;
  const request = new Request("http://localhost/", {
    method: "POST",
    headers: { "Content-Length": "5" },
    body: new ReadableStream({
      pull(controller) {
        controller.enqueue(bytes.slice(offset, offset + 3));
        offset += 3;
      },
      cancel: () => cancelled.resolve(),
    }),
  });
  await withInput(request, async (input) => {
    assert.equal(text(await input.read(5)), "hello");
    await cancelled.promise;
    assert.equal((await input.read()).byteLength, 0);
  });
});
