/**
 * The start_response rules: the status line, header names and values,
 * hop-by-hop headers, the shape of the list, and calling it again with or
 * without excInfo, each sent through the test client.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Application, Header } from "../mod.ts";
import { Client } from "../testing.ts";
import {
  assertAbortedAfter,
  assertRuleBroken,
  assertServerError,
  listen,
} from "./_helpers.ts";

/** An app that starts the response with what it is given, then says "ok". */
function starting(status: unknown, headers: unknown): Application {
  return (_environ, startResponse) => {
    startResponse(status as string, headers as Header[]);
    return ["ok"];
  };
}

Deno.test("a valid status and headers go out as given", async () => {
  const client = new Client(
    starting("201 Created", [["Content-Type", "text/plain"], ["X-Id", "7"]]),
  );
  const response = await client.get("/");
  assert.equal(response.text, "ok");
  assert.equal(response.status, 201);
  assert.equal(response.statusText, "Created");
  assert.equal(response.headers.get("x-id"), "7");
  assert.deepEqual(response.errors, []);
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
  ["100 Continue", /use 200 to 599/],
  ["199 X", /use 200 to 599/],
];

for (const [status, rule] of badStatuses) {
  Deno.test(
    `the status ${
      JSON.stringify(status)
    } is refused: it must be three digits from 200 to 599, a space and a reason`,
    async () => {
      const client = new Client(starting(status, []));
      await assertRuleBroken(await client.get("/"), rule);
    },
  );
}

Deno.test("the status 599 X is accepted", async () => {
  const client = new Client((_environ, startResponse) => {
    startResponse("599 X", []);
    return ["x"];
  });
  const response = await client.get("/");
  assert.equal(response.status, 599);
  assert.equal(response.text, "x");
});

Deno.test("a refused status stays a 500 even if the application catches the error", async () => {
  const client = new Client((_environ, startResponse) => {
    try {
      startResponse("200OK", []);
    } catch {
      // The app ignores the complaint and sends a body anyway.
    }
    return ["sent anyway"];
  });
  await assertRuleBroken(await client.get("/"), /three digits/);
});

// ---------------------------------------------------------------------------
// Header names and values
// ---------------------------------------------------------------------------

for (const name of ["Bad Name", "", "Na:me", "Ñame"]) {
  Deno.test(`the header name ${JSON.stringify(name)} is refused: header names must be HTTP tokens`, async () => {
    const client = new Client(starting("200 OK", [[name, "v"]]));
    await assertRuleBroken(await client.get("/"), /not an HTTP token/);
  });
}

for (
  const value of ["a\r\nSet-Cookie: x", "a\nSet-Cookie: x", "a\rb", "a\0b"]
) {
  Deno.test(`the header value ${JSON.stringify(value)} is refused: values must be free of CR, LF and NUL`, async () => {
    const client = new Client(
      starting("200 OK", [["X-Note", value]]),
    );
    const response = await client.get("/");
    assert.equal(response.headers.get("set-cookie"), null);
    assert.equal(response.headers.get("x-note"), null);
    await assertRuleBroken(response, /CR, LF or NUL/);
  });
}

for (const value of ["☃", "emoji 😀", "Ā"]) {
  Deno.test(`the header value ${JSON.stringify(value)} is refused: header values must be latin-1 (PEP 3333)`, async () => {
    const client = new Client(
      starting("200 OK", [["X-Note", value]]),
    );
    await assertRuleBroken(await client.get("/"), /latin-1/);
  });
}

const CONTROLS = ["\x01", "\x0b", "\x1f", "\x7f"];

/** Sends `X-Value: value`; a clean value is answered 200 "ok". */
const headerValueApp = (value: string): Application => (_e, startResponse) => {
  startResponse("200 OK", [["Content-Type", "text/plain"], ["X-Value", value]]);
  return ["ok"];
};

const CONTROL_CHARACTER =
  /the value of header X-Value contains a control character/;

for (const control of CONTROLS) {
  const code = control.charCodeAt(0).toString(16).padStart(2, "0");
  Deno.test(`a header value with control character \\x${code} is a 500 naming the rule`, async () => {
    const client = new Client(headerValueApp(`a${control}b`));
    await assertRuleBroken(await client.get("/"), CONTROL_CHARACTER);
  });
}

Deno.test("a real server refuses control characters in header values and keeps serving; a tab is allowed", async () => {
  const { server, lines, url } = listen((environ, startResponse) =>
    headerValueApp(decodeURIComponent(environ.QUERY_STRING))(
      environ,
      startResponse,
    )
  );
  try {
    for (const control of CONTROLS) {
      const bad = await fetch(`${url}/?${encodeURIComponent(`a${control}b`)}`);
      await assertServerError(bad);
      const good = await fetch(`${url}/?${encodeURIComponent("a\tb")}`);
      assert.equal(good.status, 200);
      assert.equal(good.headers.get("x-value"), "a\tb");
      assert.equal(await good.text(), "ok");
    }
    assert.equal(lines.length, CONTROLS.length);
    for (const line of lines) assert.match(line, CONTROL_CHARACTER);
  } finally {
    await server.shutdown();
  }
});

Deno.test('a latin-1 header value such as "naïve" is accepted', async () => {
  const client = new Client(
    starting("200 OK", [["X-Note", "naïve ÿ"]]),
  );
  const response = await client.get("/");
  assert.equal(response.text, "ok");
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("x-note"), "naïve ÿ");
  assert.deepEqual(response.errors, []);
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
    const client = new Client(starting("200 OK", [[name, "x"]]));
    await assertRuleBroken(await client.get("/"), /hop-by-hop/);
  });
}

Deno.test("headers whose names merely contain a hop-by-hop name are accepted", async () => {
  const client = new Client(
    starting("200 OK", [["X-Te", "1"], ["Upgrade-Insecure-Requests", "1"]]),
  );
  const response = await client.get("/");
  assert.equal(response.text, "ok");
  assert.equal(response.status, 200);
  assert.deepEqual(response.errors, []);
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
    const client = new Client(starting("200 OK", headers));
    await assertRuleBroken(await client.get("/"), /\[name, value\] pair/);
  });
}

// ---------------------------------------------------------------------------
// The headers are those checked at the startResponse call
// ---------------------------------------------------------------------------

const LATE_CHANGES: [string, (headers: Header[]) => void][] = [
  [
    "pushes Transfer-Encoding",
    (h) => void h.push(["Transfer-Encoding", "chunked"]),
  ],
  ["pushes a header", (h) => void h.push(["X-Late", "1"])],
  ["changes a value in place", (h) => void (h[0][1] = "text/html")],
];

for (const [change, mutate] of LATE_CHANGES) {
  Deno.test(`an app that ${change} after startResponse does not change the response`, async () => {
    for (const streamed of [false, true]) {
      const client = new Client((_environ, startResponse) => {
        const headers: Header[] = [["Content-Type", "text/plain"]];
        startResponse("200 OK", headers);
        if (!streamed) {
          mutate(headers);
          return ["ok"];
        }
        // Before the first chunk: the response is not committed yet.
        return (function* () {
          mutate(headers);
          yield "ok";
        })();
      });
      const response = await client.get("/");
      assert.equal(response.text, "ok");
      assert.deepEqual(
        [...response.headers],
        streamed
          ? [["content-type", "text/plain"]]
          : [["content-length", "2"], ["content-type", "text/plain"]],
        streamed ? "a generator body" : "an array body",
      );
      assert.deepEqual(response.errors, []);
    }
  });
}

// ---------------------------------------------------------------------------
// Calling startResponse again
// ---------------------------------------------------------------------------

Deno.test("a second startResponse with excInfo null is a 500 naming the second-call rule", async () => {
  const client = new Client((_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    startResponse("503 Service Unavailable", [], null);
    return ["replaced"];
  });
  await assertRuleBroken(
    await client.get("/"),
    /startResponse\(\) was called a second time without excInfo/,
  );
});

Deno.test("a second startResponse call without excInfo is an error", async () => {
  const client = new Client((_environ, startResponse) => {
    startResponse("200 OK", []);
    startResponse("404 Not Found", []);
    return ["twice"];
  });
  await assertRuleBroken(await client.get("/"), /second time/);
});

Deno.test("a second startResponse call without excInfo is a 500 even if the application catches the error", async () => {
  const client = new Client((_environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    try {
      startResponse("404 Not Found", []);
    } catch {
      // The app swallows the complaint and returns a body anyway.
    }
    return ["returned anyway"];
  });
  await assertRuleBroken(await client.get("/"), /second time/);
});

Deno.test("startResponse with excInfo before the first body byte replaces the status and the headers", async () => {
  const client = new Client((_environ, startResponse) => {
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
  const response = await client.get("/");
  assert.equal(response.text, "come back later");
  assert.equal(response.status, 503);
  assert.equal(response.statusText, "Service Unavailable");
  assert.equal(response.headers.get("content-type"), "text/plain");
  assert.equal(response.headers.get("x-new"), "1");
  assert.equal(response.headers.get("x-old"), null, "the old headers are gone");
  assert.deepEqual(response.errors, []);
});

Deno.test("startResponse with excInfo still checks the new status and headers", async () => {
  const client = new Client((_environ, startResponse) => {
    startResponse("200 OK", []);
    startResponse("500 Oops", [["Connection", "close"]], new Error("caught"));
    return ["error page"];
  });
  await assertRuleBroken(await client.get("/"), /hop-by-hop/);
});

Deno.test("startResponse with excInfo after the first chunk was sent rethrows excInfo and aborts the response", async () => {
  const failure = new Error("failed halfway through");
  let rethrown: unknown;
  const client = new Client(function* (_environ, startResponse) {
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
  const response = await client.get("/");
  assert.equal(response.status, 200);
  await assertAbortedAfter(response, "first chunk");
  assert.equal(rethrown, failure, "startResponse rethrew excInfo itself");
  assert.equal(response.errors.length, 1);
  assert.match(response.errors[0], /failed halfway through/);
});
