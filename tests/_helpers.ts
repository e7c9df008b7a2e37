/**
 * Shared test helpers: a wsgi.errors kept in memory, a fetch handler around
 * an application, the assertions the start_response, body and error rules
 * repeat, a real server on a free port, one raw HTTP/1.1 exchange for what
 * `fetch` cannot send, and whether a command-line tool is installed.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type Application,
  type Body,
  type ErrorStream,
  type FetchHandler,
  type Header,
  serve,
  type ServeOptions,
  toFetchHandler,
} from "../mod.ts";
import type { TestResponse } from "../testing.ts";

/** An application behind a fetch handler, with its wsgi.errors captured. */
export interface Harness {
  handler: FetchHandler;
  /** Every string written to wsgi.errors, in order. */
  lines: string[];
  /** Sends a request for `path` (a GET unless `init` says otherwise). */
  request(path?: string, init?: RequestInit): Promise<Response>;
}

/** A wsgi.errors that keeps every string written to it in `lines`, in order. */
export function collector(): { errors: ErrorStream; lines: string[] } {
  const lines: string[] = [];
  return {
    errors: {
      write: (s) => void lines.push(s),
      writelines: (l) => void lines.push(...l),
      flush() {},
    },
    lines,
  };
}

/** Wraps `app` in a fetch handler that logs into `lines`, so tests print nothing. */
export function harness(app: Application): Harness {
  const { errors, lines } = collector();
  const handler = toFetchHandler(app, { errors });
  return {
    handler,
    lines,
    request: (path = "/", init) =>
      handler(new Request(`http://localhost${path}`, init)),
  };
}

/** An application that answers with the environ value under `key`. */
export function echoKey(key: string): Application {
  return (environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [String(environ[key])];
  };
}

/** A `Content-Type: text/plain; charset=utf-8` header list. */
export const TEXT: Header[] = [["Content-Type", "text/plain; charset=utf-8"]];

/** An app that answers 200 with `headers` and whatever `body` returns. */
export function returning(
  body: () => unknown,
  headers: Header[] = TEXT,
): Application {
  return (_environ, startResponse) => {
    startResponse("200 OK", headers);
    return body() as Body;
  };
}

/**
 * The lesson's hola-mundo page, as the TypeScript app and the Python file
 * both answer it.
 */
export function assertLessonPage(response: TestResponse): void {
  assert.equal(response.statusLine, "200 OK");
  assert.equal(
    response.headers.get("content-type"),
    "text/html; charset=utf-8",
  );
  assert.match(response.text, /<h1>Hecho con Python<\/h1>/);
  assert.match(response.text, /<p>Hola mundo!<\/p>/);
}

/** A line of a JavaScript stack trace. */
export const STACK_FRAME = /^\s+at \S/m;

/** A response from `fetch` or the fetch handler, or the test client's. */
export type Answer = Response | TestResponse;

/**
 * Reads a response and asserts it is the gateway's generic 500: text/plain,
 * a message, and no stack. Returns the body.
 */
export async function assertServerError(response: Answer): Promise<string> {
  const body = response instanceof Response
    ? await response.text()
    : response.text;
  assert.equal(response.status, 500);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain/);
  assert.ok(body.length > 0, "the 500 carries a message");
  assert.doesNotMatch(body, STACK_FRAME, "no stack goes to the client");
  assert.doesNotMatch(body, /\w*Error:/, "no error text goes to the client");
  return body;
}

/**
 * Asserts the response every broken contract rule gets: the generic 500,
 * and exactly one log line in wsgi.errors, `lines` (the test client's
 * response carries its own), matching `rule`.
 */
export async function assertRuleBroken(
  response: Answer,
  rule: RegExp,
  lines: string[] = response instanceof Response ? [] : response.errors,
): Promise<void> {
  await assertServerError(response);
  assert.equal(
    lines.length,
    1,
    `one entry in wsgi.errors, got ${JSON.stringify(lines)}`,
  );
  assert.match(lines[0], rule);
  assert.equal(
    lines[0].trimEnd().split("\n").length,
    1,
    `the entry is a single line: ${JSON.stringify(lines[0])}`,
  );
}

/** Asserts wsgi.errors holds the error's message and its stack frames. */
export function assertStackLogged(lines: string[], message: string): void {
  const log = lines.join("");
  assert.ok(log.includes(message), `the log names ${message}: ${log}`);
  assert.match(log, STACK_FRAME, "the log carries the stack");
}

/**
 * Reads a streamed body chunk by chunk and asserts it breaks: the first
 * `expected` text arrives, then reading rejects instead of ending cleanly.
 */
export async function assertAbortedAfter(
  response: Answer,
  expected: string,
): Promise<void> {
  if (!(response instanceof Response)) {
    assert.ok(
      response.aborted,
      "reading the body must reject, not end as a success",
    );
    assert.equal(response.text, expected);
    return;
  }
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let received = "";
  await assert.rejects(async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      received += decoder.decode(value, { stream: true });
    }
  }, "reading the body must reject, not end as a success");
  assert.equal(received, expected);
}

/** Lets every queued callback run (one macrotask); times nothing. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Waits until `condition` holds, letting queued callbacks run between
 * checks, for a bounded number of turns; times nothing.
 */
export async function until(
  condition: () => boolean,
  what: string,
): Promise<void> {
  for (let turn = 0; turn < 5000 && !condition(); turn++) await settle();
  assert.ok(condition(), `never happened: ${what}`);
}

/** Adds a `close()` that counts its calls in `closed`. */
export function withClose<T extends object>(
  body: T,
): T & { closed: number; close(): void } {
  return Object.assign(body, {
    closed: 0,
    close(this: { closed: number }) {
      this.closed++;
    },
  });
}

const encoder = new TextEncoder();

/** Opens a TCP connection to `port` on 127.0.0.1, where `listen` serves. */
export function connect(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
}

/** Writes all of `bytes`: one `write()` may take only part of them. */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  for (let sent = 0; sent < bytes.byteLength;) {
    sent += await conn.write(bytes.subarray(sent));
  }
}

/**
 * Writes `request` to `conn` (each string of an array in its own write, as
 * separate TCP segments would arrive), reads until the server closes the
 * connection, closes `conn`, and returns everything received as text. The
 * request should end with `Connection: close`.
 */
export async function exchange(
  conn: Deno.Conn,
  request: string | string[],
): Promise<string> {
  try {
    for (const piece of typeof request === "string" ? [request] : request) {
      await writeAll(conn, encoder.encode(piece));
    }
    const decoder = new TextDecoder();
    const buffer = new Uint8Array(16 * 1024);
    let received = "";
    for (let n; (n = await conn.read(buffer)) !== null;) {
      received += decoder.decode(buffer.subarray(0, n), { stream: true });
    }
    return received + decoder.decode();
  } finally {
    conn.close();
  }
}

/** A real server on a free loopback port; `await using` shuts it down. */
export interface Listening extends AsyncDisposable {
  server: Deno.HttpServer;
  port: number;
  url: string;
  /** What the server wrote to wsgi.errors. */
  lines: string[];
}

/** Serves `app` on 127.0.0.1, a free port; wsgi.errors goes to `lines`. */
export function listen(
  app: Application,
  options: Partial<ServeOptions> = {},
): Listening {
  const { errors, lines } = collector();
  const server = serve(app, {
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    errors,
    ...options,
  } as ServeOptions);
  const port = (server.addr as Deno.NetAddr).port;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    lines,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** Whether the command `tool` runs: it is installed and on the PATH. */
export async function installed(
  tool: string,
  flag = "--version",
): Promise<boolean> {
  try {
    await new Deno.Command(tool, {
      args: [flag],
      stdout: "null",
      stderr: "null",
    }).output();
    return true;
  } catch {
    return false;
  }
}

/**
 * nginx on a recipe of deploy/: `{{NAME}}` filled from `fill` (PREFIX is
 * `dir`, where the config, pid and temp files go), in the foreground.
 */
export async function startNginx(
  recipe: string,
  dir: string,
  fill: Record<string, string>,
): Promise<{ child: Deno.ChildProcess; stderr: Promise<string> }> {
  const template = await Deno.readTextFile(recipe);
  const values: Record<string, string> = { PREFIX: dir, ...fill };
  await Deno.writeTextFile(
    `${dir}/nginx.conf`,
    template.replace(/\{\{(\w+)\}\}/g, (_, name) => values[name]),
  );
  const child = new Deno.Command("nginx", {
    args: ["-p", dir, "-c", `${dir}/nginx.conf`, "-g", "daemon off;"],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  return { child, stderr: new Response(child.stderr).text() };
}
