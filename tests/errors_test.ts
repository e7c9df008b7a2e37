/**
 * The error rules: exceptions before and after the first chunk, a missing
 * startResponse, what the application returns, chunks of the wrong type
 * and a broken wsgi.errors, through the fetch handler. Every test
 * ends by sending a good request to the same handler: the gateway keeps
 * serving after any failure.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Application, Body } from "../mod.ts";
import { toFetchHandler } from "../mod.ts";
import {
  assertAbortedAfter,
  assertRuleBroken,
  assertServerError,
  assertStackLogged,
  harness,
} from "./_helpers.ts";

/**
 * Answers `/ok` with a plain 200 "ok", and hands every other path to `app`,
 * so one handler can fail and then prove it still serves.
 */
function orOk(app: Application): Application {
  return (environ, startResponse) => {
    if (environ.PATH_INFO !== "/ok") return app(environ, startResponse);
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return ["ok"];
  };
}

/** Asserts the handler still answers a good request. */
async function assertKeepsServing(
  request: (path: string) => Promise<Response>,
): Promise<void> {
  const response = await request("/ok");
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "ok");
}

const SECRET = "secret detail: password=hunter2";

// ---------------------------------------------------------------------------
// An exception before the first chunk
// ---------------------------------------------------------------------------

const failingEarly: [string, Application][] = [
  ["a sync throw", () => {
    throw new Error(SECRET);
  }],
  ["a sync throw after startResponse", (_environ, startResponse) => {
    startResponse("200 OK", []);
    throw new Error(SECRET);
  }],
  ["a rejected promise", () => Promise.reject(new Error(SECRET))],
  ["an async function that throws", async (_environ, startResponse) => {
    await Promise.resolve();
    startResponse("200 OK", []);
    throw new Error(SECRET);
  }],
  // deno-lint-ignore require-yield
  ["a generator throwing before its first yield", function* (_e, sr) {
    sr("200 OK", []);
    throw new Error(SECRET);
  }],
  ["an async generator throwing before its first yield", async function* (
    _environ,
    startResponse,
  ) {
    startResponse("200 OK", []);
    yield "";
    throw new Error(SECRET);
  }],
];

for (const [what, app] of failingEarly) {
  Deno.test(`${what} before the first chunk is a generic 500 text/plain, with the stack in wsgi.errors and not in the body`, async () => {
    const { request, lines } = harness(orOk(app));
    const body = await assertServerError(await request());
    assert.ok(!body.includes(SECRET), "the error's message stays private");
    assertStackLogged(lines, SECRET);
    await assertKeepsServing(request);
  });
}

Deno.test("a thrown value that is not an Error is a 500 and is logged", async () => {
  const { request, lines } = harness(orOk(() => {
    throw "a bare string";
  }));
  const body = await assertServerError(await request());
  assert.ok(!body.includes("a bare string"));
  assert.equal(lines.length, 1);
  assert.match(lines[0], /a bare string/);
  await assertKeepsServing(request);
});

// ---------------------------------------------------------------------------
// An exception after the first chunk
// ---------------------------------------------------------------------------

const failingLate: [string, Application][] = [
  [
    "an exception after the first chunk aborts the body stream and logs the stack",
    function* (_environ, startResponse) {
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      yield "first chunk";
      throw new Error(SECRET);
    },
  ],
  [
    "an exception after the first chunk of an async generator aborts the body stream and logs the stack",
    async function* (_environ, startResponse) {
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      yield "first chunk";
      await Promise.resolve();
      throw new Error(SECRET);
    },
  ],
];

for (const [name, app] of failingLate) {
  Deno.test(name, async () => {
    const { request, lines } = harness(orOk(app));
    const response = await request();
    assert.equal(response.status, 200);
    await assertAbortedAfter(response, "first chunk");
    assertStackLogged(lines, SECRET);
    await assertKeepsServing(request);
  });
}

// ---------------------------------------------------------------------------
// startResponse never called
// ---------------------------------------------------------------------------

const silent: [string, Application][] = [
  ["an array", () => ["no status"]],
  ["an empty array", () => []],
  ["a generator", function* () {
    yield "no status";
  }],
  ["an empty generator", function* () {}],
];

for (const [what, app] of silent) {
  Deno.test(`an application that returns ${what} without calling startResponse is a 500 with a clear log line`, async () => {
    const { request, lines } = harness(orOk(app));
    await assertRuleBroken(await request(), /never called/, lines);
    await assertKeepsServing(request);
  });
}

// ---------------------------------------------------------------------------
// What the application returns
// ---------------------------------------------------------------------------

const notBodies: [string, unknown][] = [
  ["null", null],
  ["undefined", undefined],
  ["a number", 42],
  ["a Uint8Array", new Uint8Array([104, 105])],
  ["a plain object", { body: "hi" }],
  ["a Promise of a number", Promise.resolve(42)],
  ["a Promise of null", Promise.resolve(null)],
];

for (const [what, result] of notBodies) {
  Deno.test(`an application returning ${what} is a 500 naming the rule: it must return an iterable of chunks`, async () => {
    const { request, lines } = harness(orOk((_environ, startResponse) => {
      startResponse("200 OK", []);
      return result as Body;
    }));
    await assertRuleBroken(await request(), /must return an iterable/, lines);
    await assertKeepsServing(request);
  });
}

// ---------------------------------------------------------------------------
// Chunks of the wrong type
// ---------------------------------------------------------------------------

const badChunks: [string, unknown][] = [
  ["a number", 7],
  ["an object", { text: "hi" }],
  ["null", null],
];

for (const [what, chunk] of badChunks) {
  Deno.test(`a chunk that is ${what} in an array body is a 500: chunks must be strings or Uint8Arrays`, async () => {
    const { request, lines } = harness(orOk((_environ, startResponse) => {
      startResponse("200 OK", []);
      return ["fine", chunk] as unknown as Body;
    }));
    await assertRuleBroken(await request(), /strings or Uint8Arrays/, lines);
    await assertKeepsServing(request);
  });

  Deno.test(`a chunk that is ${what} before the first data of a stream is a 500: chunks must be strings or Uint8Arrays`, async () => {
    const { request, lines } = harness(
      orOk(function* (_environ, startResponse) {
        startResponse("200 OK", []);
        yield chunk as string;
      }),
    );
    await assertRuleBroken(await request(), /strings or Uint8Arrays/, lines);
    await assertKeepsServing(request);
  });

  Deno.test(`a chunk that is ${what} after the first data of a stream aborts the response`, async () => {
    const { request, lines } = harness(
      orOk(function* (_environ, startResponse) {
        startResponse("200 OK", []);
        yield "first chunk";
        yield chunk as string;
      }),
    );
    const response = await request();
    assert.equal(response.status, 200);
    await assertAbortedAfter(response, "first chunk");
    assert.equal(lines.length, 1);
    assert.match(lines[0], /strings or Uint8Arrays/);
    await assertKeepsServing(request);
  });
}

// ---------------------------------------------------------------------------
// A broken wsgi.errors
// ---------------------------------------------------------------------------

Deno.test("a wsgi.errors stream that throws does not break the response", async () => {
  const handler = toFetchHandler(
    orOk((environ, startResponse) => {
      if (environ.PATH_INFO === "/late") {
        return (function* () {
          startResponse("200 OK", []);
          yield "first chunk";
          throw new Error(SECRET);
        })();
      }
      throw new Error(SECRET);
    }),
    {
      errors: {
        write() {
          throw new Error("the log is gone");
        },
        writelines() {
          throw new Error("the log is gone");
        },
        flush() {
          throw new Error("the log is gone");
        },
      },
    },
  );
  const request = (path: string) =>
    handler(new Request(`http://localhost${path}`));
  await assertServerError(await request("/early"));
  await assertAbortedAfter(await request("/late"), "first chunk");
  await assertKeepsServing(request);
});
