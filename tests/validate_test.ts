/**
 * The validator: each rule with a misbehaving app or a
 * forged environ, how violations surface through the gateway, and conforming
 * apps passing cleanly, with no socket and on a real server.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type Application,
  type Body,
  type Environ,
  type InputStream,
  type StartResponse,
  toFetchHandler,
} from "../mod.ts";
import { validate, ValidationError } from "../validate.ts";
import { holaMundoApp } from "../examples/holamundo.ts";
import {
  assertAbortedAfter,
  assertServerError,
  collector,
  listen,
  returning,
  settle,
  TEXT,
  withClose,
} from "./_helpers.ts";

const encoder = new TextEncoder();

/** `validate(app)` behind a fetch handler whose wsgi.errors is kept. */
function validated(app: Application) {
  const { errors, lines } = collector();
  const handler = toFetchHandler(validate(app), { errors });
  return {
    lines,
    request: (path = "/", init?: RequestInit) =>
      handler(new Request(`http://localhost${path}`, init)),
  };
}

/** The response is the gateway's 500 and wsgi.errors names `rule`. */
async function assertViolation(
  response: Response,
  lines: string[],
  rule: string,
): Promise<void> {
  await assertServerError(response);
  assertLogged(lines, rule);
}

function assertLogged(lines: string[], rule: string): void {
  const log = lines.join("");
  assert.ok(
    log.includes(`${rule}: `),
    `wsgi.errors names the rule ${rule}: ${log}`,
  );
  // A broken rule is a line to read, not a stack to dig through.
  assert.doesNotMatch(log, /^\s+at /m);
}

/** Runs `app` through the validator and expects `rule` to be broken. */
async function assertBreaks(
  app: Application,
  rule: string,
  init?: RequestInit,
): Promise<void> {
  const { request, lines } = validated(app);
  await assertViolation(await request("/", init), lines, rule);
}

// ---------------------------------------------------------------------------
// Forged environs, called without a gateway
// ---------------------------------------------------------------------------

/** A wsgi.input over `bytes` that keeps every promise of InputStream. */
function inputOf(text = ""): InputStream {
  let rest = encoder.encode(text);
  const take = (n: number) => {
    const piece = rest.subarray(0, n < 0 ? rest.byteLength : n);
    rest = rest.subarray(piece.byteLength);
    return piece;
  };
  const input: InputStream = {
    read: (size = -1) => Promise.resolve(take(size)),
    readline: (size = -1) => {
      const newline = rest.indexOf(0x0a);
      const end = newline === -1 ? rest.byteLength : newline + 1;
      return Promise.resolve(take(size < 0 ? end : Math.min(size, end)));
    },
    readlines: async () => {
      const lines = [];
      for await (const line of input) lines.push(line);
      return lines;
    },
    async *[Symbol.asyncIterator]() {
      for (let line = await input.readline(); line.byteLength > 0;) {
        yield line;
        line = await input.readline();
      }
    },
  };
  return input;
}

/** A conforming environ, as a server other than ours might build it. */
function forgedEnviron(changes: Record<string, unknown> = {}): Environ {
  return {
    REQUEST_METHOD: "GET",
    SCRIPT_NAME: "",
    PATH_INFO: "/",
    QUERY_STRING: "",
    SERVER_NAME: "localhost",
    SERVER_PORT: "80",
    SERVER_PROTOCOL: "HTTP/1.1",
    REQUEST_URI: "/",
    RAW_URI: "/",
    "wsgi.version": [1, 0],
    "wsgi.url_scheme": "http",
    "wsgi.input": inputOf(),
    "wsgi.errors": collector().errors,
    "wsgi.multithread": false,
    "wsgi.multiprocess": false,
    "wsgi.run_once": false,
    "wsgi.input_terminated": false,
    "deno.request": new Request("http://localhost/"),
    ...changes,
  };
}

/** A wsgi.input with every method but no async iterator. */
function notIterable(): Omit<InputStream, typeof Symbol.asyncIterator> {
  const { read, readline, readlines } = inputOf();
  return { read, readline, readlines };
}

const startResponseStub: StartResponse = () => () => {};

const hello = returning(() => ["hola"]);

Deno.test("a forged environ that conforms passes, even with SCRIPT_NAME and PATH_INFO both empty", () => {
  for (
    const changes of [
      {},
      { SCRIPT_NAME: "", PATH_INFO: "" },
      { SCRIPT_NAME: "/app", PATH_INFO: "" },
      { CONTENT_LENGTH: "" },
      { CONTENT_LENGTH: "12", CONTENT_TYPE: "text/plain" },
      { "wsgi.input_terminated": true, "wsgi.url_scheme": "https" },
    ]
  ) {
    const body = validate(hello)(forgedEnviron(changes), startResponseStub);
    assert.ok(Array.isArray(body), JSON.stringify(changes));
  }
});

const ENVIRON_RULES: [string, Record<string, unknown>, string][] = [
  ["environ.REQUEST_METHOD", { REQUEST_METHOD: "GE T" }, "HTTP token"],
  ["environ.REQUEST_METHOD", { REQUEST_METHOD: "" }, "HTTP token"],
  ["environ.SCRIPT_NAME", { SCRIPT_NAME: "app" }, 'start with "/"'],
  ["environ.SCRIPT_NAME", { SCRIPT_NAME: "/" }, 'never be "/" alone'],
  [
    "environ.PATH_INFO",
    { PATH_INFO: "x" },
    'must be empty or start with "/", got "x"',
  ],
  ["environ.CONTENT_LENGTH", { CONTENT_LENGTH: "-1" }, "in digits"],
  ["environ.CONTENT_LENGTH", { CONTENT_LENGTH: "3, 3" }, "in digits"],
  [
    "environ.HTTP_CONTENT_TYPE",
    { HTTP_CONTENT_TYPE: "text/plain" },
    "CONTENT_TYPE, without HTTP_",
  ],
  [
    "environ.HTTP_CONTENT_LENGTH",
    { HTTP_CONTENT_LENGTH: "3" },
    "CONTENT_LENGTH, without HTTP_",
  ],
  ["environ.SERVER_PORT", { SERVER_PORT: "http" }, "port number"],
  ["environ.SERVER_NAME", { SERVER_NAME: "" }, "must not be empty"],
  ["environ.SERVER_PROTOCOL", { SERVER_PROTOCOL: "HTTP" }, "HTTP version"],
  ["environ.REMOTE_PORT", { REMOTE_PORT: 8080 }, "must be strings, got 8080"],
  ["environ.HTTP_ACCEPT", { HTTP_ACCEPT: undefined }, "must be strings"],
  ["environ.wsgi.version", { "wsgi.version": [1, 1] }, "[1, 0]"],
  ["environ.wsgi.version", { "wsgi.version": "1.0" }, "[1, 0]"],
  [
    "environ.wsgi.url_scheme",
    { "wsgi.url_scheme": "ftp" },
    '"http" or "https"',
  ],
  ["environ.wsgi.input", { "wsgi.input": { read() {} } }, "readline"],
  ["environ.wsgi.input", { "wsgi.input": notIterable() }, "async iterable"],
  [
    "environ.wsgi.errors",
    { "wsgi.errors": { write() {}, writelines() {} } },
    "flush",
  ],
  [
    "environ.wsgi.multithread",
    { "wsgi.multithread": "false" },
    "true or false",
  ],
  ["environ.wsgi.multiprocess", { "wsgi.multiprocess": 0 }, "true or false"],
  ["environ.wsgi.run_once", { "wsgi.run_once": null }, "true or false"],
  [
    "environ.wsgi.input_terminated",
    { "wsgi.input_terminated": "yes" },
    "true or false",
  ],
];

Deno.test("each environ rule rejects a forged environ that breaks it", async (t) => {
  for (const [rule, changes, words] of ENVIRON_RULES) {
    await t.step(`${rule} ${JSON.stringify(changes)}`, () => {
      assert.throws(
        () => validate(hello)(forgedEnviron(changes), startResponseStub),
        (error) =>
          error instanceof ValidationError && error.rule === rule &&
          error.message.startsWith(`${rule}: `) &&
          error.message.includes(words),
      );
    });
  }
});

// PEP 3333 makes these optional; every other key of forgedEnviron is required.
const OPTIONAL = new Set([
  "REQUEST_URI",
  "RAW_URI",
  "wsgi.input_terminated",
  "deno.request",
]);

Deno.test("every required environ key is checked for presence, and only those", () => {
  for (const key of Object.keys(forgedEnviron())) {
    const environ = forgedEnviron();
    delete environ[key];
    const run = () => validate(hello)(environ, startResponseStub);
    if (OPTIONAL.has(key)) run();
    else {
      assert.throws(
        run,
        new ValidationError(`environ.${key}`, "is required but missing"),
      );
    }
  }
});

Deno.test("environ must be a plain object", () => {
  for (const environ of [new Map(), [], null, Object.create(new Date())]) {
    assert.throws(
      () => validate(hello)(environ as unknown as Environ, startResponseStub),
      (error) => error instanceof ValidationError && error.rule === "environ",
    );
  }
});

Deno.test("an environ rule broken before the app runs becomes a 500 that names it, and the app is not called", async () => {
  let called = false;
  const inner = validate(() => {
    called = true;
    return [];
  });
  const { errors, lines } = collector();
  const handler = toFetchHandler((environ, startResponse) => {
    environ.PATH_INFO = "sin-barra";
    return inner(environ, startResponse);
  }, { errors });
  const response = await handler(new Request("http://localhost/x"));
  await assertViolation(response, lines, "environ.PATH_INFO");
  assert.ok(
    lines.join("").includes(
      'environ.PATH_INFO: must be empty or start with "/", got "sin-barra"',
    ),
  );
  assert.equal(called, false);
});

// ---------------------------------------------------------------------------
// startResponse
// ---------------------------------------------------------------------------

/** An app that calls startResponse with these arguments, then sends "x". */
function starting(...args: unknown[]): Application {
  return (_environ, startResponse) => {
    (startResponse as (...a: unknown[]) => void)(...args);
    return ["x"];
  };
}

const START_RESPONSE_RULES: [string, unknown[]][] = [
  ["startResponse.status", [200, TEXT]],
  ["startResponse.status", ["200", TEXT]],
  ["startResponse.status", ["200OK", TEXT]],
  ["startResponse.status", ["2000 OK", TEXT]],
  ["startResponse.status", ["200 OK\r\nX-Evil: 1", TEXT]],
  ["startResponse.status", ["101 Switching Protocols", TEXT]],
  ["startResponse.status", ["600 Nope", TEXT]],
  ["startResponse.headers", ["200 OK", { "Content-Type": "text/plain" }]],
  ["startResponse.headers", ["200 OK"]],
  ["startResponse.headers", ["200 OK", [["Content-Type", "text/plain", "x"]]]],
  ["startResponse.headers", ["200 OK", [["Content-Length", 1]]]],
  ["header.name", ["200 OK", [["Content Type", "text/plain"]]]],
  ["header.name", ["200 OK", [["X-A:", "b"]]]],
  ["header.Status", ["200 OK", [...TEXT, ["Status", "200 OK"]]]],
  ["header.hop-by-hop", ["200 OK", [...TEXT, ["Connection", "close"]]]],
  ["header.hop-by-hop", ["200 OK", [...TEXT, [
    "transfer-encoding",
    "chunked",
  ]]]],
  ["header.value", ["200 OK", [...TEXT, ["X-A", "b\r\nSet-Cookie: c"]]]],
  ["header.value", ["200 OK", [...TEXT, ["X-A", "b\x01"]]]],
  ["header.value", ["200 OK", [...TEXT, ["X-A", "5 €"]]]],
  ["header.Content-Length", ["200 OK", [...TEXT, ["Content-Length", "1 "]]]],
  ["header.Content-Length", ["204 No Content", [["Content-Length", "0"]]]],
  ["header.Content-Type", ["204 No Content", TEXT]],
  ["header.Content-Type", ["304 Not Modified", TEXT]],
  ["startResponse.excInfo", ["200 OK", TEXT, "oops"]],
  ["startResponse.excInfo", ["200 OK", TEXT, null]],
];

Deno.test("each startResponse rule: a 500 naming the rule", async (t) => {
  for (const [rule, args] of START_RESPONSE_RULES) {
    await t.step(`${rule} ${JSON.stringify(args)}`, async () => {
      await assertBreaks(starting(...args), rule);
    });
  }
});

Deno.test("header values may hold a tab and latin-1 text", async () => {
  const { request, lines } = validated(
    starting("200 OK", [...TEXT, ["X-A", "a\tb ñ"]]),
  );
  const response = await request();
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "x");
  assert.deepEqual(lines, []);
});

Deno.test("startResponse.once: a second call without excInfo", async () => {
  await assertBreaks((_environ, startResponse) => {
    startResponse("200 OK", TEXT);
    startResponse("404 Not Found", TEXT);
    return ["x"];
  }, "startResponse.once");
});

Deno.test("a second call with the caught error replaces the status before the body", async () => {
  const { request, lines } = validated((_environ, startResponse) => {
    startResponse("200 OK", TEXT);
    try {
      throw new Error("falló");
    } catch (error) {
      startResponse("503 Service Unavailable", TEXT, error);
    }
    return ["luego"];
  });
  const response = await request();
  assert.equal(response.status, 503);
  assert.equal(await response.text(), "luego");
  assert.deepEqual(lines, []);
});

Deno.test("a second call with excInfo after the first chunk is rethrown by the server, not flagged", async () => {
  const { request, lines } = validated(function* (_environ, startResponse) {
    startResponse("200 OK", TEXT);
    yield "uno";
    startResponse("500 Oops", TEXT, new Error("tarde"));
    yield "dos";
  });
  await assertAbortedAfter(await request(), "uno");
  const log = lines.join("");
  assert.ok(log.includes("Error: tarde"), log);
  assert.ok(!log.includes("ValidationError"), log);
});

Deno.test("a violation the app swallows is raised again when it returns", async () => {
  const { request, lines } = validated((_environ, startResponse) => {
    try {
      startResponse("200", TEXT);
    } catch {
      // the app hides the broken rule and answers anyway
    }
    startResponse("200 OK", TEXT);
    return ["x"];
  });
  await assertViolation(await request(), lines, "startResponse.status");
});

Deno.test("write.chunk: write() with something that is not a chunk", async () => {
  await assertBreaks((_environ, startResponse) => {
    const write = startResponse("200 OK", TEXT);
    write(42 as unknown as string);
    return [];
  }, "write.chunk");
});

// ---------------------------------------------------------------------------
// The body
// ---------------------------------------------------------------------------

Deno.test("app.return: a bare string is rejected, and the message says why", async () => {
  const { request, lines } = validated(returning(() => "hola"));
  await assertViolation(await request(), lines, "app.return");
  const log = lines.join("");
  assert.ok(log.includes('return it in an array, ["hola"'), log);
  assert.ok(log.includes("one character at a time"), log);
});

Deno.test("app.return: a Uint8Array, nothing, or a number", async () => {
  for (const body of [new Uint8Array([65]), undefined, null, 42, {}]) {
    await assertBreaks(returning(() => body), "app.return");
  }
  const { request, lines } = validated(() => undefined as unknown as Body);
  await request().then((r) => r.body?.cancel());
  assert.ok(lines.join("").includes("did you forget the return?"));
});

Deno.test("app.return: a Promise of a bad body, from an async app", async () => {
  await assertBreaks(
    async () => await Promise.resolve(7) as unknown as Body,
    "app.return",
  );
});

Deno.test("body.chunk: an array with a number in it", async () => {
  await assertBreaks(returning(() => ["a", 1]), "body.chunk");
});

Deno.test("body.chunk: a generator yielding an object as its first chunk is a 500", async () => {
  await assertBreaks(function* (_environ, startResponse) {
    startResponse("200 OK", TEXT);
    yield { text: "x" } as unknown as string;
  }, "body.chunk");
});

Deno.test("body.chunk: a bad chunk after the first aborts the stream and logs the rule", async () => {
  const { request, lines } = validated(async function* (_e, startResponse) {
    startResponse("200 OK", TEXT);
    yield "bien";
    yield 3 as unknown as string;
  });
  await assertAbortedAfter(await request(), "bien");
  assertLogged(lines, "body.chunk");
});

Deno.test("body.before-startResponse: an iterable producing a chunk before startResponse", async () => {
  let startResponse: StartResponse;
  const lazy = {
    *[Symbol.iterator]() {
      yield "too soon";
      startResponse("200 OK", TEXT);
    },
  };
  await assertBreaks((_environ, sr) => {
    startResponse = sr;
    return lazy;
  }, "body.before-startResponse");
});

Deno.test("startResponse.never: a body that ends with no startResponse", async () => {
  await assertBreaks(() => [], "startResponse.never");
  await assertBreaks(function* () {}, "startResponse.never");
});

Deno.test("body.no-content: a 204 or 304 response with a body", async () => {
  for (const status of ["204 No Content", "304 Not Modified"]) {
    await assertBreaks(
      starting(status, [["ETag", '"1"']]),
      "body.no-content",
    );
  }
});

Deno.test("body.Content-Type: content with no Content-Type; none needed without content", async () => {
  await assertBreaks(starting("200 OK", []), "body.Content-Type");
  const { request, lines } = validated((_e, startResponse) => {
    startResponse("302 Found", [["Location", "/otra"]]);
    return [];
  });
  const response = await request();
  assert.equal(response.status, 302);
  await response.body?.cancel();
  assert.deepEqual(lines, []);
});

Deno.test("body.Content-Length: a streamed body longer or shorter than declared", async () => {
  const declaring = (...chunks: string[]): Application =>
    function* (_environ, startResponse) {
      startResponse("200 OK", [...TEXT, ["Content-Length", "4"]]);
      yield* chunks;
    };
  const long = validated(declaring("ab", "cde"));
  await assertAbortedAfter(await long.request(), "ab");
  assertLogged(long.lines, "body.Content-Length");
  const short = validated(declaring("ab", "c"));
  await assertAbortedAfter(await short.request(), "abc");
  assertLogged(short.lines, "body.Content-Length");
});

Deno.test("body.Content-Length counts UTF-8 bytes; HEAD may declare a length it does not send", async () => {
  const app = returning(() => ["ñ"], [...TEXT, ["Content-Length", "2"]]);
  const { request, lines } = validated(app);
  assert.equal(await (await request()).text(), "ñ");
  const head = await request("/", { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.body, null);
  assert.deepEqual(lines, []);
});

// ---------------------------------------------------------------------------
// close(), return() and laziness
// ---------------------------------------------------------------------------

Deno.test("the gateway calls the body's close() exactly once, through the validator", async () => {
  const array = withClose(["uno"]);
  const { request } = validated(returning(() => array));
  assert.equal(await (await request()).text(), "uno");
  assert.equal(array.closed, 1);

  const iterable = withClose({
    *[Symbol.iterator]() {
      yield "a";
      yield "b";
    },
  });
  const streamed = validated(returning(() => iterable));
  assert.equal(await (await streamed.request()).text(), "ab");
  assert.equal(iterable.closed, 1);
});

Deno.test("a body the validator refuses is still closed once", async () => {
  const array = withClose(["ok", 5]);
  await assertBreaks(returning(() => array), "body.chunk");
  assert.equal(array.closed, 1);
  const notIterable = withClose({});
  await assertBreaks(returning(() => notIterable), "app.return");
  assert.equal(notIterable.closed, 1);
});

Deno.test("close() is forwarded once when a violation ends a streamed body early", async () => {
  const body = withClose(new Set(["ok", 5]));
  const { request, lines } = validated(returning(() => body));
  await assertAbortedAfter(await request(), "ok");
  assertLogged(lines, "body.chunk");
  assert.equal(body.closed, 1);
});

Deno.test("a generator's return() is forwarded once when the client goes away", async () => {
  let returned = 0;
  const { request } = validated(function* (_environ, startResponse) {
    startResponse("200 OK", TEXT);
    try {
      for (;;) yield "más ";
    } finally {
      returned++;
    }
  });
  const reader = (await request()).body!.getReader();
  await reader.read();
  await reader.cancel();
  await settle();
  assert.equal(returned, 1);
});

Deno.test("the validator pulls no more chunks than the gateway alone does", async () => {
  const counted = (count: { produced: number }): Application =>
    async function* (_environ, startResponse) {
      startResponse("200 OK", TEXT);
      for (;;) {
        count.produced++;
        yield "x".repeat(1024);
      }
    };
  const pullTwo = async (app: Application) => {
    const { errors } = collector();
    const response = await toFetchHandler(app, { errors })(
      new Request("http://l/"),
    );
    const reader = response.body!.getReader();
    await reader.read();
    await reader.read();
    await reader.cancel();
    await settle();
  };
  const bare = { produced: 0 };
  const checked = { produced: 0 };
  await pullTwo(counted(bare));
  await pullTwo(validate(counted(checked)));
  assert.equal(checked.produced, bare.produced);
  assert.ok(checked.produced < 5, `lazy: ${checked.produced} chunks produced`);
});

Deno.test("sync bodies stay sync and async bodies stay async", () => {
  const sync = validate(returning(() => new Set(["a"])))(
    forgedEnviron(),
    startResponseStub,
  ) as Body;
  assert.ok(Symbol.iterator in sync && !(Symbol.asyncIterator in sync));
  const async = validate(async function* (_e, startResponse) {
    startResponse("200 OK", TEXT);
    yield "a";
  })(forgedEnviron(), startResponseStub) as Body;
  assert.ok(Symbol.asyncIterator in async && !(Symbol.iterator in async));
});

Deno.test("body.close-once and body.after-close: a server that closes twice or reads after close", () => {
  const inner = withClose(new Set(["a"]));
  const body = validate(returning(() => inner))(
    forgedEnviron(),
    startResponseStub,
  ) as Body & Iterable<string> & { close(): void };
  const iterator = body[Symbol.iterator]();
  assert.deepEqual(iterator.next(), { done: false, value: "a" });
  body.close();
  assert.equal(inner.closed, 1);
  assert.throws(
    () => iterator.next(),
    (e) => (e as ValidationError).rule === "body.after-close",
  );
  assert.throws(
    () => body.close(),
    (e) => (e as ValidationError).rule === "body.close-once",
  );
  assert.equal(inner.closed, 1);
});

// ---------------------------------------------------------------------------
// wsgi.input and wsgi.errors
// ---------------------------------------------------------------------------

/** An app that calls `use` with wsgi.input, then answers 200. */
function usingInput(
  use: (input: InputStream) => unknown,
): Application {
  return async (environ, startResponse) => {
    await use(environ["wsgi.input"]);
    startResponse("200 OK", TEXT);
    return ["leído"];
  };
}

const POST = { method: "POST", body: "uno\ndos\n" };

Deno.test("input.read, input.readline, input.readlines: sizes must be whole numbers", async () => {
  const bad = "10" as unknown as number;
  await assertBreaks(
    usingInput((input) => input.read(bad)),
    "input.read",
    POST,
  );
  await assertBreaks(
    usingInput((input) => input.readline(1.5)),
    "input.readline",
    POST,
  );
  await assertBreaks(
    usingInput((input) => input.readlines(bad)),
    "input.readlines",
    POST,
  );
});

Deno.test("input.close and errors.close: the streams belong to the server", async () => {
  await assertBreaks(
    usingInput((input) => (input as unknown as { close(): void }).close()),
    "input.close",
  );
  await assertBreaks((environ) => {
    (environ["wsgi.errors"] as unknown as { close(): void }).close();
    return [];
  }, "errors.close");
});

Deno.test("errors.write and errors.writelines take strings only", async () => {
  await assertBreaks((environ) => {
    environ["wsgi.errors"].write(42 as unknown as string);
    return [];
  }, "errors.write");
  await assertBreaks((environ) => {
    environ["wsgi.errors"].writelines(["ok", 1] as unknown as string[]);
    return [];
  }, "errors.writelines");
});

Deno.test("strings written to wsgi.errors reach the server's stream", async () => {
  const { request, lines } = validated((environ, startResponse) => {
    environ["wsgi.errors"].write("uno\n");
    environ["wsgi.errors"].writelines(["dos\n", "tres\n"]);
    environ["wsgi.errors"].flush();
    startResponse("204 No Content", []);
    return [];
  });
  assert.equal((await request()).status, 204);
  assert.deepEqual(lines, ["uno\n", "dos\n", "tres\n"]);
});

/** Runs the validated app on a forged environ and drains its body. */
async function runForged(app: Application, environ: Environ): Promise<void> {
  const body = await validate(app)(environ, startResponseStub);
  for await (const _ of body as AsyncIterable<unknown>) { /* drain */ }
}

Deno.test("input.past-CONTENT_LENGTH: without wsgi.input_terminated, reading past the length is an app error", async () => {
  const environ = () =>
    forgedEnviron({ CONTENT_LENGTH: "4", "wsgi.input": inputOf("uno\nextra") });
  const past = (error: unknown) =>
    error instanceof ValidationError &&
    error.rule === "input.past-CONTENT_LENGTH" &&
    error.message.includes("read(8192) asks for more than the 4 bytes");
  await assert.rejects(
    runForged(usingInput((input) => input.read(8192)), environ()),
    past,
  );
  // Reading exactly the length, or with no size, is what PEP 3333 asks for.
  await runForged(usingInput((input) => input.read(4)), environ());
  await runForged(usingInput((input) => input.readline()), environ());
});

Deno.test("input.result: the server's input must stop at CONTENT_LENGTH and give what was asked", async () => {
  const rule = (error: unknown) =>
    error instanceof ValidationError && error.rule === "input.result";
  const terminated = (input: Partial<InputStream>) =>
    forgedEnviron({
      CONTENT_LENGTH: "3",
      "wsgi.input_terminated": true,
      "wsgi.input": { ...inputOf("uno\ndos\n"), ...input },
    });
  // The fake input ignores CONTENT_LENGTH: all eight bytes come back.
  await assert.rejects(
    runForged(usingInput((input) => input.read()), terminated({})),
    rule,
  );
  await assert.rejects(
    runForged(
      usingInput((input) => input.read(2)),
      terminated({ read: () => Promise.resolve(encoder.encode("uno")) }),
    ),
    rule,
  );
  await assert.rejects(
    runForged(
      usingInput((input) => input.readline()),
      terminated({
        readline: () => Promise.resolve("u\n" as unknown as Uint8Array),
      }),
    ),
    rule,
  );
  await assert.rejects(
    runForged(
      usingInput((input) => input.readline()),
      terminated({ readline: () => Promise.resolve(encoder.encode("u\nd")) }),
    ),
    rule,
  );
});

// ---------------------------------------------------------------------------
// Conforming apps pass, and our gateway's environ conforms
// ---------------------------------------------------------------------------

/** Streams back its input: read(n), then line by line, then readlines(). */
const echoApp: Application = async function* (environ, startResponse) {
  const input = environ["wsgi.input"];
  const first = await input.read(4);
  startResponse("200 OK", TEXT);
  yield first;
  yield await input.readline();
  for await (const line of input) yield line;
  const rest = await input.readlines();
  yield `${rest.length}\n`;
};

Deno.test("validate(holaMundoApp) passes cleanly through the fetch handler", async () => {
  const { request, lines } = validated(holaMundoApp);
  const response = await request("/python-logo.png");
  assert.equal(response.status, 200);
  assert.match(await response.text(), /Hola mundo!/);
  assert.deepEqual(lines, []);
});

Deno.test("a streaming app that reads wsgi.input passes cleanly through the fetch handler", async () => {
  const { request, lines } = validated(echoApp);
  const response = await request("/eco", {
    method: "POST",
    body: "uno\ndos\ntres\n",
  });
  assert.equal(await response.text(), "uno\ndos\ntres\n0\n");
  assert.deepEqual(lines, []);
});

Deno.test("on a real server, validated apps pass: GET, HEAD, POST with a length and a chunked upload", async () => {
  const routes: Application = (environ, startResponse) =>
    environ.PATH_INFO === "/eco"
      ? echoApp(environ, startResponse)
      : holaMundoApp(environ, startResponse);
  await using server = listen(validate(routes));
  const { lines, url: base } = server;

  const page = await fetch(`${base}/?q=1`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /Hola mundo!/);

  const head = await fetch(base, { method: "HEAD" });
  assert.equal(head.status, 200);
  await head.body?.cancel();

  const posted = await fetch(`${base}/eco`, {
    method: "POST",
    body: "uno\ndos\n",
  });
  assert.equal(await posted.text(), "uno\ndos\n0\n");

  const upload = ReadableStream.from(["uno\n", "dos\n"]).pipeThrough(
    new TextEncoderStream(),
  );
  const chunked = await fetch(`${base}/eco`, { method: "POST", body: upload });
  assert.equal(await chunked.text(), "uno\ndos\n0\n");

  assert.deepEqual(lines, []);
});
