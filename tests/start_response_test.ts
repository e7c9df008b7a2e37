/**
 * The start_response rules (issue 2, point 4), through the fetch handler.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Application, Header } from "../mod.ts";
import { assertAbortedAfter, assertRuleBroken, harness } from "./_helpers.ts";

/** An app that starts the response with what it is given, then says "ok". */
function starting(status: unknown, headers: unknown): Application {
  return (_environ, startResponse) => {
    startResponse(status as string, headers as Header[]);
    return ["ok"];
  };
}

Deno.test("a valid status and headers go out as given", async () => {
  const { request, lines } = harness(
    starting("201 Created", [["Content-Type", "text/plain"], ["X-Id", "7"]]),
  );
  const response = await request();
  assert.equal(await response.text(), "ok");
  assert.equal(response.status, 201);
  assert.equal(response.statusText, "Created");
  assert.equal(response.headers.get("x-id"), "7");
  assert.deepEqual(lines, []);
});

// ---------------------------------------------------------------------------
// The status line
// ---------------------------------------------------------------------------

const badStatuses: [unknown, RegExp][] = [
  ["200", /three digits/],
  ["200OK", /three digits/],
  ["2000 OK", /three digits/],
  ["200 O\nK", /control characters/],
  ["200 O\rK", /control characters/],
  [42, /status must be a string/],
  ["099 X", /status code 99/],
  ["600 X", /status code 600/],
];

for (const [status, rule] of badStatuses) {
  Deno.test(
    `the status ${
      JSON.stringify(status)
    } is refused: it must be three digits from 200 to 599, a space and a reason`,
    async () => {
      const { request, lines } = harness(starting(status, []));
      await assertRuleBroken(await request(), lines, rule);
    },
  );
}

Deno.test("a refused status stays a 500 even if the application catches the error", async () => {
  const { request, lines } = harness((_environ, startResponse) => {
    try {
      startResponse("200OK", []);
    } catch {
      // The app ignores the complaint and sends a body anyway.
    }
    return ["sent anyway"];
  });
  await assertRuleBroken(await request(), lines, /three digits/);
});

// ---------------------------------------------------------------------------
// Header names and values
// ---------------------------------------------------------------------------

for (const name of ["Bad Name", "", "Na:me", "Ñame"]) {
  Deno.test(`the header name ${JSON.stringify(name)} is refused: header names must be HTTP tokens`, async () => {
    const { request, lines } = harness(starting("200 OK", [[name, "v"]]));
    await assertRuleBroken(await request(), lines, /not an HTTP token/);
  });
}

for (
  const value of ["a\r\nSet-Cookie: x", "a\nSet-Cookie: x", "a\rb", "a\0b"]
) {
  Deno.test(`the header value ${JSON.stringify(value)} is refused: values must be free of CR, LF and NUL`, async () => {
    const { request, lines } = harness(
      starting("200 OK", [["X-Note", value]]),
    );
    const response = await request();
    assert.equal(response.headers.get("set-cookie"), null);
    assert.equal(response.headers.get("x-note"), null);
    await assertRuleBroken(response, lines, /CR, LF or NUL/);
  });
}

for (const value of ["☃", "emoji 😀", "Ā"]) {
  Deno.test(`the header value ${JSON.stringify(value)} is refused: header values must be latin-1 (PEP 3333)`, async () => {
    const { request, lines } = harness(
      starting("200 OK", [["X-Note", value]]),
    );
    await assertRuleBroken(await request(), lines, /latin-1/);
  });
}

Deno.test('a latin-1 header value such as "naïve" is accepted', async () => {
  const { request, lines } = harness(
    starting("200 OK", [["X-Note", "naïve ÿ"]]),
  );
  const response = await request();
  assert.equal(await response.text(), "ok");
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("x-note"), "naïve ÿ");
  assert.deepEqual(lines, []);
});

// ---------------------------------------------------------------------------
// Hop-by-hop headers
// ---------------------------------------------------------------------------

const hopByHop = [
  "Connection",
  "keep-alive",
  "PROXY-AUTHENTICATE",
  "Proxy-Authorization",
  "te",
  "TRAILER",
  "Transfer-Encoding",
  "uPgRaDe",
];

for (const name of hopByHop) {
  Deno.test(`the hop-by-hop header ${name} is refused, in any case: it belongs to the server`, async () => {
    const { request, lines } = harness(starting("200 OK", [[name, "x"]]));
    await assertRuleBroken(await request(), lines, /hop-by-hop/);
  });
}

Deno.test("headers whose names merely contain a hop-by-hop name are accepted", async () => {
  const { request, lines } = harness(
    starting("200 OK", [["X-Te", "1"], ["Upgrade-Insecure-Requests", "1"]]),
  );
  const response = await request();
  assert.equal(await response.text(), "ok");
  assert.equal(response.status, 200);
  assert.deepEqual(lines, []);
});

// ---------------------------------------------------------------------------
// The shape of the headers
// ---------------------------------------------------------------------------

const badShapes: [string, unknown][] = [
  ["an object", { "Content-Type": "text/plain" }],
  ["a string", "Content-Type: text/plain"],
  ["undefined", undefined],
  ["a list of strings", ["Content-Type: text/plain"]],
  ["a pair with three items", [["Content-Type", "text/plain", "x"]]],
  ["a pair with one item", [["Content-Type"]]],
  ["a pair with a number value", [["Content-Length", 2]]],
  ["a pair with a number name", [[1, "x"]]],
];

for (const [what, headers] of badShapes) {
  Deno.test(`headers given as ${what} are refused: they must be an array of [name, value] string pairs`, async () => {
    const { request, lines } = harness(starting("200 OK", headers));
    await assertRuleBroken(await request(), lines, /\[name, value\] pair/);
  });
}

// ---------------------------------------------------------------------------
// Calling startResponse again
// ---------------------------------------------------------------------------

Deno.test("a second startResponse call without excInfo is an error", async () => {
  const { request, lines } = harness((_environ, startResponse) => {
    startResponse("200 OK", []);
    startResponse("404 Not Found", []);
    return ["twice"];
  });
  await assertRuleBroken(await request(), lines, /second time/);
});

Deno.test("a second startResponse call without excInfo is a 500 even if the application catches the error", async () => {
  const { request, lines } = harness((_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    try {
      startResponse("404 Not Found", []);
    } catch {
      // The app swallows the complaint and returns a body anyway.
    }
    return ["returned anyway"];
  });
  await assertRuleBroken(await request(), lines, /second time/);
});

Deno.test("startResponse with excInfo before the first body byte replaces the status and the headers", async () => {
  const { request, lines } = harness((_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/html"], ["X-Old", "1"]]);
    try {
      throw new Error("the database is down");
    } catch (error) {
      startResponse("503 Service Unavailable", [
        ["Content-Type", "text/plain"],
        ["X-New", "1"],
      ], error);
      return ["come back later"];
    }
  });
  const response = await request();
  assert.equal(await response.text(), "come back later");
  assert.equal(response.status, 503);
  assert.equal(response.statusText, "Service Unavailable");
  assert.equal(response.headers.get("content-type"), "text/plain");
  assert.equal(response.headers.get("x-new"), "1");
  assert.equal(response.headers.get("x-old"), null, "the old headers are gone");
  assert.deepEqual(lines, []);
});

Deno.test("startResponse with excInfo still checks the new status and headers", async () => {
  const { request, lines } = harness((_environ, startResponse) => {
    startResponse("200 OK", []);
    startResponse("500 Oops", [["Connection", "close"]], new Error("caught"));
    return ["error page"];
  });
  await assertRuleBroken(await request(), lines, /hop-by-hop/);
});

Deno.test("startResponse with excInfo after the first chunk was sent rethrows excInfo and aborts the response", async () => {
  const failure = new Error("failed halfway through");
  let rethrown: unknown;
  const { request, lines } = harness(function* (_environ, startResponse) {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    yield "first chunk";
    try {
      startResponse("500 Internal Server Error", [], failure);
    } catch (error) {
      rethrown = error;
      throw error;
    }
    yield "never sent";
  });
  const response = await request();
  assert.equal(response.status, 200);
  await assertAbortedAfter(response, "first chunk");
  assert.equal(rethrown, failure, "startResponse rethrew excInfo itself");
  assert.equal(lines.length, 1);
  assert.match(lines[0], /failed halfway through/);
});
