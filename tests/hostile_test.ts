/**
 * A hostile client, byte by byte: smuggling vectors, bad framing, oversized
 * requests, stalled uploads and readers, applications that never answer.
 * Each test states what Deno or the gateway answers today, so none
 * regresses. Timeouts are set to fractions of a second and only their
 * outcome is asserted, never how long anything took.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Application } from "../mod.ts";
import { connect, exchange, listen } from "./_helpers.ts";

/** Reads the whole body and echoes what the environ says of it. */
const echo: Application = async (environ, startResponse) => {
  const body = await environ["wsgi.input"].read();
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  return [
    `${environ.REQUEST_METHOD} ${environ.REQUEST_URI} body=${
      new TextDecoder().decode(body)
    }\n`,
  ];
};

/** The status lines of everything the server sent, in order. */
function statuses(received: string): string[] {
  return received.match(/^HTTP\/1\.[01] \d{3}[^\r]*/gm) ?? [];
}

const BAD_REQUEST = ["HTTP/1.1 400 Bad Request"];

/** Requests Deno's parser refuses or frames, as it does today. */
const FRAMING: [name: string, request: string | string[], answer: string[]][] =
  [
    [
      "Content-Length with Transfer-Encoding",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      BAD_REQUEST,
    ],
    [
      "unequal Content-Lengths",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
      BAD_REQUEST,
    ],
    [
      "a signed Content-Length",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc",
      BAD_REQUEST,
    ],
    [
      "Transfer-Encoding: chunked, identity",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      BAD_REQUEST,
    ],
    [
      "Transfer-Encoding in HTTP/1.0",
      "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      BAD_REQUEST,
    ],
    [
      "obs-fold (a header continued on the next line)",
      "GET / HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n",
      BAD_REQUEST,
    ],
    [
      "a space before the colon",
      "GET / HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n",
      BAD_REQUEST,
    ],
    ["NUL in the target", "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST],
    ["CR in the target", "GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n", BAD_REQUEST],
    [
      "a space in the target",
      "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",
      BAD_REQUEST,
    ],
    // A broken chunk size breaks the upload: the connection closes unanswered.
    [
      "a chunk size that is not hex",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
      [],
    ],
    [
      "a negative chunk size",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n",
      [],
    ],
    [
      "a chunk size past 64 bits",
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
      [],
    ],
    // Accepted, and framed right.
    [
      "bare LF line endings",
      "GET /lf HTTP/1.1\nHost: a\nConnection: close\n\n",
      ["HTTP/1.1 200 OK"],
    ],
    [
      "equal Content-Lengths",
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
      ["HTTP/1.1 200 OK"],
    ],
    [
      "two pipelined requests",
      "GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /two HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      ["HTTP/1.1 200 OK", "HTTP/1.1 200 OK"],
    ],
    [
      "Expect: 100-continue",
      [
        "POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        "abc",
      ],
      ["HTTP/1.1 100 Continue", "HTTP/1.1 200 OK"],
    ],
  ];

Deno.test("hostile framing gets the answer Deno gives today, and the server serves on", async (t) => {
  await using server = listen(echo);
  for (const [name, request, answer] of FRAMING) {
    await t.step(name, async () => {
      const received = await exchange(await connect(server.port), request);
      assert.deepEqual(statuses(received), answer, received);
    });
  }
  const after = await fetch(`${server.url}/after`, {
    method: "POST",
    body: "ok",
  });
  assert.equal(await after.text(), "POST /after body=ok\n");
});

Deno.test("pipelined requests are answered in order, each with its own body", async () => {
  await using server = listen(echo);
  const received = await exchange(
    await connect(server.port),
    "POST /one HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n1" +
      "POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nConnection: close\r\n\r\n2",
  );
  assert.match(received, /POST \/one body=1\n[^]*POST \/two body=2\n$/);
});
