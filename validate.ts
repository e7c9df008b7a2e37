/**
 * A validator for both sides of the contract, in the spirit of Python's
 * `wsgiref.validate.validator` and Ruby's `Rack::Lint`: wrap an application
 * with {@linkcode validate} and every request is checked, the environ the
 * server built as well as everything the application does with it. The
 * first rule broken raises a {@linkcode ValidationError} whose message
 * starts with a short rule id and says what was expected, e.g.
 * `environ.PATH_INFO: must be empty or start with "/", got "x"`.
 *
 * Use it in development and in tests; it adds work to every request.
 *
 * It is one module, as wsgiref's `validate.py` is: the list of rules below
 * and the checks that enforce them read together, and the environ's checks
 * and the response's share the wrappers that carry a violation from one
 * step to the next (the input, the error stream, `startResponse`, the
 * body), which a split would cut apart.
 *
 * Under our gateway the client gets the usual 500 and `wsgi.errors` gets the
 * message; if the body had already started, the transfer is aborted. In a
 * test, `assert.throws(..., ValidationError)` works, and `error.rule` holds
 * the id. An application that catches the error does not escape it: the
 * same violation is thrown again at the next step. A conforming exchange is
 * not changed: the body is wrapped lazily, one chunk pulled for each chunk
 * the server pulls, and `close()` and a generator's `return()` are passed on
 * exactly once. A body the validator refuses is closed all the same.
 *
 * ## The rules, by id
 *
 * The status, header and body-shape checks are the gateway's own (written
 * once, in `gateway/rules.ts`); the validator adds the rest on top.
 *
 * - `environ`: the environ is a plain object.
 * - `environ.KEY`: the required keys are present (`REQUEST_METHOD`,
 *   `SCRIPT_NAME`, `PATH_INFO`, `QUERY_STRING`, `SERVER_NAME`,
 *   `SERVER_PORT`, `SERVER_PROTOCOL`, `wsgi.version`, `wsgi.url_scheme`,
 *   `wsgi.input`, `wsgi.errors`, `wsgi.multithread`, `wsgi.multiprocess`,
 *   `wsgi.run_once`), and:
 *   - every key without a dot (a CGI variable) is a string;
 *   - `REQUEST_METHOD` is an HTTP token;
 *   - `SCRIPT_NAME` is `""` or starts with `/`, and is never `/` alone;
 *   - `PATH_INFO` is `""` or starts with `/` (both may be empty, as wsgiref
 *     and Rack allow);
 *   - `SERVER_NAME` is not empty; `SERVER_PORT` is digits, and so is
 *     `CONTENT_LENGTH` when present and not empty;
 *   - `SERVER_PROTOCOL` is `HTTP/x.y`;
 *   - `HTTP_CONTENT_TYPE` and `HTTP_CONTENT_LENGTH` do not exist;
 *   - `wsgi.version` is `[1, 0]`; `wsgi.url_scheme` is `http` or `https`;
 *   - `wsgi.input` has `read`, `readline`, `readlines` and is async
 *     iterable; `wsgi.errors` has `write`, `writelines`, `flush`;
 *   - the `wsgi.*` flags are booleans.
 * - `startResponse.status`: a string of three digits, a space and a reason
 *   phrase, code 200–599.
 * - `startResponse.headers`: an array of `[name, value]` pairs of strings.
 * - `header.name`, `header.Status`, `header.hop-by-hop`, `header.value`:
 *   names are HTTP tokens; no `Status` header (the status is the first
 *   argument); no hop-by-hop header; values are latin-1 without control
 *   characters (a tab is fine).
 * - `header.Content-Length`, `header.Content-Type`: `Content-Length` is
 *   digits and absent from a 204; no `Content-Type` on 204, 205 or 304.
 * - `startResponse.once`, `startResponse.excInfo`: a second call needs
 *   `excInfo`, and `excInfo` is the `Error` that was caught.
 * - `app.return`: the app returns an iterable or async iterable (or a
 *   Promise of one), not nothing, not a bare string, not a bare
 *   `Uint8Array`.
 * - `body.chunk`, `write.chunk`: every chunk is a string or a `Uint8Array`.
 * - `body.before-startResponse`, `startResponse.never`: `startResponse`
 *   comes before the first chunk, and before the body ends.
 * - `body.no-content`, `body.Content-Type`, `body.Content-Length`: 204, 205
 *   and 304 have no body; a body has a `Content-Type`; a declared
 *   `Content-Length` matches the body in UTF-8 bytes (not checked for HEAD
 *   and 304).
 * - `body.close-once`, `body.after-close`: the server calls `close()` once
 *   and pulls nothing after it.
 * - `input.read`, `input.readline`, `input.readlines`, `input.close`: sizes
 *   are whole numbers or left out; the app never closes `wsgi.input`.
 * - `input.past-CONTENT_LENGTH`: without `wsgi.input_terminated`, a read
 *   never asks for more than `CONTENT_LENGTH` leaves.
 * - `input.result`: the server's reads give `Uint8Array`s, no more than was
 *   asked, a line ends at its first newline, and never more than
 *   `CONTENT_LENGTH` in all.
 * - `errors.write`, `errors.writelines`, `errors.close`: only strings go to
 *   `wsgi.errors`, and the app never closes it.
 *
 * Where it is stricter than our gateway, on purpose: the gateway sends a
 * bare string as one chunk, but the validator rejects it, as wsgiref does,
 * because in Python a `str` body goes out one character at a time and the
 * app is not portable. And a response with a body must say its
 * `Content-Type`, since WSGI has no default. A HEAD response may carry a
 * body: PEP 3333 leaves dropping it to the server, and our gateway does. A
 * `close()` that never comes cannot be seen from inside the exchange
 * (wsgiref can only warn at garbage collection), so the tests check that
 * our gateway calls it.
 *
 * @example
 * ```ts
 * import { serve } from "@denowsgi/wsgi";
 * import { validate } from "@denowsgi/wsgi/validate";
 *
 * await using server = serve(validate((_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return ["Hola mundo!\n"];
 * }), { hostname: "127.0.0.1", port: 0, onListen() {} });
 * ```
 *
 * @module
 */

import type {
  Application,
  Body,
  Chunk,
  Environ,
  ErrorStream,
  InputStream,
  StartResponse,
} from "./types.ts";
import { ContractError } from "./types.ts";
import { encoder } from "./gateway/bytes.ts";
import { lines } from "./gateway/input.ts";
import {
  Broken,
  checkBody,
  checkHeaders,
  checkStatus,
  describe,
  isToken,
  NO_CONTENT,
  noContent,
  notAChunk,
  wrongLength,
} from "./gateway/rules.ts";

/**
 * A broken rule of the WSGI contract, found by {@linkcode validate}. The
 * message reads `rule: explanation`; `rule` alone is the short id, such as
 * `startResponse.status` or `body.chunk`.
 *
 * @example Asserting an application breaks a rule
 * ```ts
 * import assert from "node:assert/strict";
 * import { validate, ValidationError } from "@denowsgi/wsgi/validate";
 * import type { Environ } from "@denowsgi/wsgi";
 *
 * const app = validate((_environ, startResponse) => {
 *   startResponse("200", []);
 *   return [];
 * });
 * const environ = { PATH_INFO: "x" } as unknown as Environ;
 * assert.throws(() => app(environ, () => () => {}), ValidationError);
 * ```
 */
export class ValidationError extends ContractError {
  /** The short id of the rule, e.g. `environ.PATH_INFO`. */
  readonly rule: string;

  /** Makes the error for `rule`; the message is `rule: explanation`. */
  constructor(rule: string, explanation: string) {
    super(`${rule}: ${explanation}`);
    this.name = "ValidationError";
    this.rule = rule;
  }
}

/**
 * Wraps an application so that every request checks the contract on both
 * sides. It changes nothing in a conforming exchange: the body is wrapped
 * lazily (one chunk pulled when the server pulls one), so streaming and
 * backpressure stay as they were, and `close()` and a generator's
 * `return()` are forwarded exactly once.
 *
 * A violation throws a {@linkcode ValidationError}: from the wrapped app
 * when the environ is wrong or the body is not a body, from `startResponse`
 * or `write` when their arguments are wrong, from `wsgi.input` and
 * `wsgi.errors` when they are misused, and from the body's iterator when a
 * chunk is wrong. An application that catches the error does not escape it:
 * the first violation is thrown again at the next step of the exchange.
 *
 * @example In a test, through the fetch handler
 * ```ts
 * import { toFetchHandler } from "@denowsgi/wsgi";
 * import { validate } from "@denowsgi/wsgi/validate";
 *
 * const handler = toFetchHandler(validate((_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return "not a list"; // the validator answers: app.return
 * }));
 * const response = await handler(new Request("http://localhost/"));
 * console.log(response.status); // 500, and wsgi.errors names the rule
 * await response.body?.cancel();
 * ```
 */
export function validate(app: Application): Application {
  return (environ, startResponse) => {
    checkEnviron(environ);
    return new Checker(environ).run(app, startResponse);
  };
}

// ---------------------------------------------------------------------------
// The environ the server built
// ---------------------------------------------------------------------------

const REQUIRED_STRINGS = [
  "REQUEST_METHOD",
  "SCRIPT_NAME",
  "PATH_INFO",
  "QUERY_STRING",
  "SERVER_NAME",
  "SERVER_PORT",
  "SERVER_PROTOCOL",
] as const;
const REQUIRED_FLAGS = [
  "wsgi.multithread",
  "wsgi.multiprocess",
  "wsgi.run_once",
] as const;
const REQUIRED = [
  ...REQUIRED_STRINGS,
  "wsgi.version",
  "wsgi.url_scheme",
  "wsgi.input",
  "wsgi.errors",
  ...REQUIRED_FLAGS,
];
const INPUT_METHODS = ["read", "readline", "readlines"] as const;
const ERRORS_METHODS = ["write", "writelines", "flush"] as const;

// RFC 9110 token: what a method or a header name may be made of.
const DIGITS = /^\d+$/;

function reject(rule: string, explanation: string): never {
  throw new ValidationError(rule, explanation);
}

function checkEnviron(environ: unknown): asserts environ is Environ {
  if (!isPlainObject(environ)) {
    reject("environ", `must be a plain object, got ${describe(environ)}`);
  }
  for (const key of REQUIRED) {
    if (!(key in environ)) reject(`environ.${key}`, "is required but missing");
  }
  // CGI variables are the keys without a dot; the rest are extensions.
  for (const [key, value] of Object.entries(environ)) {
    if (!key.includes(".") && typeof value !== "string") {
      reject(
        `environ.${key}`,
        `CGI variables (keys without a dot) must be strings, got ${
          describe(value)
        }`,
      );
    }
  }
  const e = environ as Record<string, unknown> & Environ;
  for (const key of ["HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"]) {
    if (key in e) {
      reject(
        `environ.${key}`,
        `must not exist: the header goes in ${key.slice(5)}, without HTTP_`,
      );
    }
  }
  const shape = (key: string, ok: boolean, expected: string) => {
    if (!ok) reject(`environ.${key}`, `${expected}, got ${describe(e[key])}`);
  };
  shape(
    "REQUEST_METHOD",
    isToken(e.REQUEST_METHOD),
    "must be an HTTP token such as GET",
  );
  shape(
    "SCRIPT_NAME",
    e.SCRIPT_NAME === "" ||
      (e.SCRIPT_NAME.startsWith("/") && e.SCRIPT_NAME !== "/"),
    'must be empty or start with "/", and never be "/" alone (the root is "", with PATH_INFO "/")',
  );
  shape(
    "PATH_INFO",
    e.PATH_INFO === "" || e.PATH_INFO.startsWith("/"),
    'must be empty or start with "/"',
  );
  shape("SERVER_NAME", e.SERVER_NAME !== "", "must not be empty");
  shape(
    "SERVER_PORT",
    DIGITS.test(e.SERVER_PORT),
    "must be a port number in digits",
  );
  shape(
    "SERVER_PROTOCOL",
    /^HTTP\/\d(\.\d)?$/.test(e.SERVER_PROTOCOL),
    'must name the HTTP version, such as "HTTP/1.1"',
  );
  shape(
    "CONTENT_LENGTH",
    e.CONTENT_LENGTH === undefined || e.CONTENT_LENGTH === "" ||
      DIGITS.test(e.CONTENT_LENGTH),
    "when present, must be a number of bytes in digits",
  );
  const version = e["wsgi.version"];
  shape(
    "wsgi.version",
    Array.isArray(version) && version.length === 2 && version[0] === 1 &&
      version[1] === 0,
    "must be the array [1, 0]",
  );
  shape(
    "wsgi.url_scheme",
    e["wsgi.url_scheme"] === "http" || e["wsgi.url_scheme"] === "https",
    'must be "http" or "https"',
  );
  const input = e["wsgi.input"];
  shape(
    "wsgi.input",
    hasMethods(input, INPUT_METHODS) &&
      typeof input[Symbol.asyncIterator] === "function",
    "must have read, readline and readlines methods and be async iterable",
  );
  shape(
    "wsgi.errors",
    hasMethods(e["wsgi.errors"], ERRORS_METHODS),
    "must have write, writelines and flush methods",
  );
  for (const key of [...REQUIRED_FLAGS, "wsgi.input_terminated"]) {
    shape(
      key,
      typeof e[key] === "boolean" ||
        (key === "wsgi.input_terminated" && !(key in e)),
      "must be true or false",
    );
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function hasMethods<K extends string>(
  value: unknown,
  names: readonly K[],
): value is Record<K | symbol, () => unknown> {
  return typeof value === "object" && value !== null &&
    names.every((name) =>
      typeof (value as Record<K, unknown>)[name] === "function"
    );
}

// ---------------------------------------------------------------------------
// What the application does
// ---------------------------------------------------------------------------

type AnyIterator = Iterator<unknown> | AsyncIterator<unknown>;

/** What one request has shown so far, from the app call to close(). */
class Checker {
  readonly environ: Environ;
  /** The first violation, thrown again if the application swallowed it. */
  violation?: ValidationError;
  /** The status code of the last startResponse call, once there is one. */
  code?: number;
  contentType = false;
  declaredLength?: number;
  sent = 0;
  closed = false;

  constructor(environ: Environ) {
    this.environ = environ;
  }

  violate(rule: string, explanation: string): never {
    const error = new ValidationError(rule, explanation);
    this.violation ??= error;
    throw error;
  }

  /** Throws the first violation again: catching it does not make it right. */
  recheck(): void {
    if (this.violation) throw this.violation;
  }

  run(app: Application, startResponse: StartResponse): Body | Promise<Body> {
    const environ = this.environ;
    environ["wsgi.input"] = new CheckedInput(environ, this);
    environ["wsgi.errors"] = checkedErrors(environ["wsgi.errors"], this);
    const result = app(environ, this.wrapStartResponse(startResponse));
    return result instanceof Promise
      ? result.then((body) => this.wrapBody(body))
      : this.wrapBody(result);
  }

  // -- startResponse and write ----------------------------------------------

  wrapStartResponse(startResponse: StartResponse): StartResponse {
    return (status, headers, excInfo) => {
      this.recheck();
      if (excInfo !== undefined && !(excInfo instanceof Error)) {
        this.violate(
          "startResponse.excInfo",
          `must be the error you caught (an Error), got ${describe(excInfo)}`,
        );
      }
      if (this.code !== undefined && excInfo === undefined) {
        this.violate(
          "startResponse.once",
          "startResponse() was called a second time without excInfo; only an error handler may call it again, passing the caught error as the third argument",
        );
      }
      const code = this.checkStart(status, headers);
      // After the first chunk the server rethrows excInfo: that is its job.
      const write = startResponse(status, headers, excInfo);
      this.code = code;
      this.contentType = headers.some(([name]) =>
        name.toLowerCase() === "content-type"
      );
      const length = headers.find(([name]) =>
        name.toLowerCase() === "content-length"
      );
      this.declaredLength = length && Number(length[1]);
      return (chunk) => {
        this.recheck();
        this.chunk(chunk, "write.chunk");
        write(chunk);
      };
    };
  }

  /** The gateway's status and header rules, then the validator's own. */
  checkStart(status: unknown, headers: unknown): number {
    const parsed = this.#shared(checkStatus(status));
    const checked = this.#shared(checkHeaders(headers));
    const [code] = parsed;
    for (const [name] of checked.list) {
      const lower = name.toLowerCase();
      if (lower === "status") {
        this.violate(
          "header.Status",
          "there is no Status header in WSGI (it is CGI's): the status is startResponse's first argument",
        );
      }
      if (lower === "content-length" && code === 204) {
        this.violate(
          "header.Content-Length",
          "a 204 response has no content, so it must not have a Content-Length",
        );
      }
      if (lower === "content-type" && NO_CONTENT.has(code)) {
        this.violate(
          "header.Content-Type",
          `a ${code} response has no content, so it must not have a Content-Type`,
        );
      }
    }
    return code;
  }

  /** What a shared check returned, or its broken rule raised. */
  #shared<T>(result: T | Broken): T {
    if (result instanceof Broken) this.#raise(result);
    return result;
  }

  #raise(broken: Broken): never {
    return this.violate(broken.rule, broken.message);
  }

  // -- the body ---------------------------------------------------------------

  /**
   * Checks the returned body and wraps it. A body refused here never reaches
   * the server, so its close() is called here, as the server would have.
   */
  wrapBody(body: unknown): Body | Promise<Body> {
    try {
      return this.checkBody(body);
    } catch (violation) {
      const close = (body as { close?: unknown } | null | undefined)?.close;
      if (typeof close !== "function" || this.closed) throw violation;
      this.closed = true;
      // The violation is the story: an error from close() must not hide it.
      const rethrow = (): never => {
        throw violation;
      };
      return Promise.resolve().then(() => close.call(body)).then(
        rethrow,
        rethrow,
      );
    }
  }

  checkBody(body: unknown): Body {
    this.recheck();
    if (typeof body === "string") {
      this.violate(
        "app.return",
        `the application returned a bare string; return it in an array, [${
          JSON.stringify(body.slice(0, 20))
        }…]. In Python a str body is sent one character at a time, so wsgiref rejects it, and so does this validator, though this gateway would send it whole`,
      );
    }
    const original = this.#shared(checkBody(body));
    const close = () => this.close(original);
    if (Array.isArray(body)) {
      // Every chunk is already known: check them now and keep an array, so
      // the server can send it as one buffer just as it would unwrapped.
      for (const chunk of body) this.chunk(chunk, "body.chunk");
      this.end();
      return Object.assign(body.slice(), { close });
    }
    if (Symbol.asyncIterator in original) {
      return {
        [Symbol.asyncIterator]: () =>
          this.iterate(original[Symbol.asyncIterator]()) as AsyncIterator<
            Chunk
          >,
        close,
      };
    }
    return {
      [Symbol.iterator]: () =>
        this.iterate(original[Symbol.iterator]()) as Iterator<Chunk>,
      close,
    };
  }

  /**
   * An iterator that pulls the app's one step per step the server takes, and
   * forwards `return()` once. Sync stays sync, async stays async.
   */
  iterate(inner: AnyIterator): AnyIterator {
    let finished = false;
    const step = (result: IteratorResult<unknown>) => {
      if (result.done) {
        finished = true;
        this.end();
      } else this.chunk(result.value, "body.chunk");
      return result as IteratorResult<Chunk>;
    };
    return {
      next: () => {
        this.recheck();
        if (this.closed || finished) {
          this.violate(
            "body.after-close",
            "the server asked the body for a chunk after it was closed or finished",
          );
        }
        const result = inner.next();
        return result instanceof Promise ? result.then(step) : step(result);
      },
      return: (value?: unknown) => {
        if (finished) return { done: true, value };
        finished = true;
        return inner.return?.(value) ?? { done: true, value };
      },
    } as AnyIterator;
  }

  /** Checks one chunk, from write() or from the body. */
  chunk(chunk: unknown, rule: "write.chunk" | "body.chunk"): void {
    if (typeof chunk !== "string" && !(chunk instanceof Uint8Array)) {
      this.#raise(notAChunk(chunk, rule));
    }
    const size = typeof chunk === "string"
      ? this.declaredLength === undefined
        ? chunk.length // only emptiness matters with no Content-Length
        : encoder.encode(chunk).byteLength
      : chunk.byteLength;
    if (size === 0) return;
    if (this.code === undefined) {
      this.violate(
        "body.before-startResponse",
        "the body produced a chunk before startResponse() was called; call it first (in a generator, before the first yield)",
      );
    }
    if (NO_CONTENT.has(this.code)) this.#raise(noContent(this.code));
    if (!this.contentType) {
      this.violate(
        "body.Content-Type",
        'the response has a body but no Content-Type header; WSGI has no default type, so say what you send, e.g. ["Content-Type", "text/html; charset=utf-8"]',
      );
    }
    this.sent += size;
    if (this.lengthMatters() && this.sent > this.declaredLength!) {
      this.#raise(wrongLength(this.declaredLength!, this.sent));
    }
  }

  /** The body has no more chunks. */
  end(): void {
    if (this.code === undefined) {
      this.violate(
        "startResponse.never",
        "the body ended but startResponse() was never called",
      );
    }
    if (this.lengthMatters() && this.sent < this.declaredLength!) {
      this.#raise(wrongLength(this.declaredLength!, this.sent));
    }
  }

  /** HEAD and 304 may declare the length of a body they do not carry. */
  lengthMatters(): boolean {
    return this.declaredLength !== undefined &&
      this.environ.REQUEST_METHOD !== "HEAD" && this.code !== 304;
  }

  close(body: Body): void | Promise<void> {
    if (this.closed) {
      this.violate(
        "body.close-once",
        "the server called the body's close() twice; PEP 3333 asks for exactly once",
      );
    }
    this.closed = true;
    return body.close?.();
  }
}

// ---------------------------------------------------------------------------
// wsgi.input and wsgi.errors
// ---------------------------------------------------------------------------

/**
 * `wsgi.input` with its arguments checked (the app's side) and its results
 * checked (the server's side).
 */
class CheckedInput implements InputStream {
  #input: InputStream;
  #check: Checker;
  /** CONTENT_LENGTH as a number, when the request declared one. */
  #length?: number;
  #terminated: boolean;
  #received = 0;

  constructor(environ: Environ, check: Checker) {
    this.#input = environ["wsgi.input"];
    this.#check = check;
    const length = environ.CONTENT_LENGTH;
    if (length) this.#length = Number(length);
    this.#terminated = environ["wsgi.input_terminated"] === true;
  }

  async read(size?: number): Promise<Uint8Array> {
    this.#ask("read", size);
    const bytes = await this.#input.read(...present(size));
    return this.#got("read", bytes, size);
  }

  async readline(size?: number): Promise<Uint8Array> {
    this.#ask("readline", size);
    const line = await this.#input.readline(...present(size));
    const newline = line instanceof Uint8Array ? line.indexOf(0x0a) : -1;
    if (newline !== -1 && newline !== line.byteLength - 1) {
      this.#check.violate(
        "input.result",
        "the server's readline() returned bytes past the first newline",
      );
    }
    return this.#got("readline", line, size);
  }

  async readlines(hint?: number): Promise<Uint8Array[]> {
    this.#ask("readlines", hint);
    const lines: unknown = await this.#input.readlines(...present(hint));
    if (!Array.isArray(lines)) {
      this.#check.violate(
        "input.result",
        `the server's readlines() must return an array, got ${describe(lines)}`,
      );
    }
    return lines.map((line) => this.#got("readlines", line, undefined));
  }

  [Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    return lines(() => this.readline());
  }

  /** PEP 3333: the server owns the input stream. */
  close(): never {
    return this.#check.violate(
      "input.close",
      "wsgi.input belongs to the server; the application must not close it",
    );
  }

  #ask(method: string, size: number | undefined): void {
    this.#check.recheck();
    if (size !== undefined && !Number.isInteger(size)) {
      this.#check.violate(
        `input.${method}`,
        `the size must be a whole number or left out, got ${describe(size)}`,
      );
    }
    // Only a server that marks its input terminated can be read past the
    // end; elsewhere such a read may wait forever for bytes that never come.
    const left = (this.#length ?? 0) - this.#received;
    if (!this.#terminated && size !== undefined && size > left) {
      this.#check.violate(
        "input.past-CONTENT_LENGTH",
        `${method}(${size}) asks for more than the ${left} bytes CONTENT_LENGTH leaves, and this server does not set wsgi.input_terminated`,
      );
    }
  }

  #got(method: string, bytes: unknown, size: number | undefined): Uint8Array {
    if (!(bytes instanceof Uint8Array)) {
      return this.#check.violate(
        "input.result",
        `the server's ${method}() must give Uint8Arrays, got ${
          describe(bytes)
        }`,
      );
    }
    if (size !== undefined && size >= 0 && bytes.byteLength > size) {
      this.#check.violate(
        "input.result",
        `the server's ${method}(${size}) returned ${bytes.byteLength} bytes`,
      );
    }
    this.#received += bytes.byteLength;
    if (this.#length !== undefined && this.#received > this.#length) {
      this.#check.violate(
        "input.result",
        `the server's wsgi.input gave more bytes than CONTENT_LENGTH, ${this.#length}`,
      );
    }
    return bytes;
  }
}

/** Leaves an omitted argument omitted, as the app wrote the call. */
function present(size: number | undefined): [] | [number] {
  return size === undefined ? [] : [size];
}

function checkedErrors(errors: ErrorStream, check: Checker): ErrorStream {
  const text = (rule: string, value: unknown) => {
    if (typeof value !== "string") {
      check.violate(
        rule,
        `only strings can be written, got ${describe(value)}`,
      );
    }
    return value;
  };
  return {
    write(value) {
      errors.write(text("errors.write", value));
    },
    writelines(lines) {
      errors.writelines(
        Array.from(lines, (line) => text("errors.writelines", line)),
      );
    },
    flush() {
      errors.flush();
    },
    close() {
      check.violate(
        "errors.close",
        "wsgi.errors belongs to the server; the application must not close it",
      );
    },
  } as ErrorStream;
}
