/**
 * Reading a request, for applications: small functions over the environ,
 * as Werkzeug's `parse_qs`, form parser and cookie helpers, built on the
 * platform (`URLSearchParams`, and Deno's own `FormData` parser for
 * `multipart/form-data`).
 *
 * - {@linkcode parseQs} and {@linkcode query}: the query string, every
 *   value of a repeated key kept.
 * - {@linkcode readForm}: a posted form read from `wsgi.input`, urlencoded
 *   or multipart with files, bounded by a size limit.
 * - {@linkcode parseCookies} and {@linkcode dumpCookie}: the Cookie header
 *   read, a Set-Cookie value written.
 * - {@linkcode RequestError}: what a malformed or oversized request throws;
 *   `error.respond(environ, startResponse)` turns it into its 4xx.
 *
 * @example A form that remembers a name in a cookie
 * ```ts
 * import type { Application } from "@denowsgi/wsgi";
 * import { dumpCookie, parseCookies, readForm, RequestError } from "@denowsgi/wsgi/request";
 *
 * const app: Application = async (environ, startResponse) => {
 *   let name = parseCookies(environ).nombre ?? "desconocido";
 *   const headers: [string, string][] = [["Content-Type", "text/plain; charset=utf-8"]];
 *   if (environ.REQUEST_METHOD === "POST") {
 *     try {
 *       name = String((await readForm(environ)).get("nombre") ?? "");
 *     } catch (error) {
 *       if (error instanceof RequestError) return error.respond(environ, startResponse);
 *       throw error;
 *     }
 *     headers.push(["Set-Cookie", dumpCookie("nombre", encodeURIComponent(name), { httpOnly: true })]);
 *   }
 *   startResponse("200 OK", headers);
 *   return [`Hola ${decodeURIComponent(name)}\n`];
 * };
 * ```
 *
 * @module
 */

import type { Environ, StartResponse } from "./types.ts";
import { isToken } from "./gateway/rules.ts";

/**
 * A request the application cannot take: a malformed body (400), one too
 * large (413), or one of a type it does not read (415). Thrown by
 * {@linkcode readForm}; catch it and return `error.respond(environ,
 * startResponse)` to answer with its status and a plain-text reason, and
 * log one line to `wsgi.errors`. Uncaught, it is an application error like
 * any other: a 500.
 *
 * @example
 * ```ts
 * import type { Application } from "@denowsgi/wsgi";
 * import { readForm, RequestError } from "@denowsgi/wsgi/request";
 *
 * const app: Application = async (environ, startResponse) => {
 *   try {
 *     const form = await readForm(environ, { maxBytes: 64 * 1024 });
 *     startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *     return [`${[...form.keys()].length} fields\n`];
 *   } catch (error) {
 *     if (error instanceof RequestError) return error.respond(environ, startResponse);
 *     throw error;
 *   }
 * };
 * ```
 */
export class RequestError extends Error {
  /** The HTTP status that says what is wrong with the request. */
  readonly status: 400 | 413 | 415;

  /** `message` says what is wrong, in words the client may read. */
  constructor(status: 400 | 413 | 415, message: string) {
    super(message);
    this.status = status;
  }

  /** The status line, e.g. `"413 Content Too Large"`. */
  get statusLine(): string {
    return `${this.status} ${REASONS[this.status]}`;
  }

  /**
   * Starts the response with this error's status and returns its body (the
   * message as plain text), after one line in `wsgi.errors`.
   */
  respond(environ: Environ, startResponse: StartResponse): string[] {
    environ["wsgi.errors"].write(
      `[wsgi] ${environ.REQUEST_METHOD} ${environ.REQUEST_URI}: ${this.statusLine}: ${this.message}\n`,
    );
    startResponse(this.statusLine, [
      ["Content-Type", "text/plain; charset=utf-8"],
    ]);
    return [`${this.statusLine}: ${this.message}\n`];
  }
}

const REASONS = {
  400: "Bad Request",
  413: "Content Too Large",
  415: "Unsupported Media Type",
} as const;

/**
 * Python's `urllib.parse.parse_qs`: each key with the list of its values,
 * in order, `+` read as a space and escapes decoded as UTF-8 (a malformed
 * one stays as it is). As in Python, keys with a blank value are left out
 * unless `keepBlankValues`. The object has no prototype, so a key such as
 * `__proto__` or `constructor` is only a key.
 *
 * @example
 * ```ts
 * import { parseQs } from "@denowsgi/wsgi/request";
 *
 * parseQs("tag=a&tag=b&q=caf%C3%A9+bar&empty=");
 * // { tag: ["a", "b"], q: ["café bar"] }
 * parseQs("empty=", { keepBlankValues: true }); // { empty: [""] }
 * ```
 */
export function parseQs(
  queryString: string,
  options: { keepBlankValues?: boolean } = {},
): Record<string, string[]> {
  const parsed: Record<string, string[]> = Object.create(null);
  for (const [key, value] of new URLSearchParams(queryString)) {
    if (value === "" && !options.keepBlankValues) continue;
    (parsed[key] ??= []).push(value);
  }
  return parsed;
}

/**
 * The request's query, `QUERY_STRING`, as {@linkcode parseQs} reads it.
 *
 * @example
 * ```ts
 * import type { Application } from "@denowsgi/wsgi";
 * import { query } from "@denowsgi/wsgi/request";
 *
 * const app: Application = (environ, startResponse) => {
 *   const tags = query(environ).tag ?? []; // ?tag=a&tag=b → ["a", "b"]
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [tags.join(", ")];
 * };
 * ```
 */
export function query(
  environ: Environ,
  options: { keepBlankValues?: boolean } = {},
): Record<string, string[]> {
  return parseQs(environ.QUERY_STRING, options);
}

/**
 * Options for {@linkcode readForm}.
 *
 * @example
 * ```ts
 * import type { FormOptions } from "@denowsgi/wsgi/request";
 *
 * const options: FormOptions = { maxBytes: 10 * 1024 * 1024 }; // uploads up to 10 MiB
 * ```
 */
export interface FormOptions {
  /**
   * The most bytes of body read, files included; a larger body is a 413
   * before any of it is parsed. 1 MiB by default, as nginx's
   * `client_max_body_size`.
   */
  maxBytes?: number;
}

const FORM_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data"];

/**
 * Reads a posted form from `wsgi.input`: `application/x-www-form-urlencoded`
 * or `multipart/form-data`, whose files come as `File` values. A request
 * with no body and no Content-Type gives an empty form. Reads the body, so
 * call it once.
 *
 * Throws a {@linkcode RequestError}: 413 when the body is larger than
 * `maxBytes` (by its Content-Length, or once that many bytes have come), 400
 * when it cannot be parsed, 415 for another Content-Type.
 *
 * @example
 * ```ts
 * import { readForm } from "@denowsgi/wsgi/request";
 * import { Client } from "@denowsgi/wsgi/testing";
 *
 * const client = new Client(async (environ, startResponse) => {
 *   const form = await readForm(environ);
 *   const file = form.get("foto") as File;
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [`${form.get("nombre")}: ${file.name}, ${file.size} bytes`];
 * });
 * const body = new FormData();
 * body.set("nombre", "Ada");
 * body.set("foto", new File(["PNG…"], "ada.png"));
 * (await client.post("/", { body })).text; // "Ada: ada.png, 6 bytes"
 * ```
 */
export async function readForm(
  environ: Environ,
  options: FormOptions = {},
): Promise<FormData> {
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  const type = environ.CONTENT_TYPE ?? "";
  const length = Number(environ.CONTENT_LENGTH ?? "");
  const essence = type.split(";", 1)[0].trim().toLowerCase();
  // Nothing posted (no type, no length, not chunked): an empty form.
  const posted = type !== "" || length > 0 ||
    environ.HTTP_TRANSFER_ENCODING !== undefined;
  if (!posted) return new FormData();
  if (!FORM_TYPES.includes(essence)) {
    throw new RequestError(
      415,
      `a form must be sent as ${FORM_TYPES.join(" or ")}, not ${
        JSON.stringify(type)
      }`,
    );
  }
  const tooLarge = () =>
    new RequestError(413, `the form is larger than ${maxBytes} bytes`);
  if (length > maxBytes) throw tooLarge();
  const body = await environ["wsgi.input"].read(maxBytes + 1);
  if (body.byteLength > maxBytes) throw tooLarge();
  // Deno's parser takes a body cut short as a shorter form: refuse one
  // that does not end with its closing delimiter.
  if (essence === "multipart/form-data" && !closed(type, body)) {
    throw new RequestError(
      400,
      "the multipart/form-data body does not end with its closing boundary",
    );
  }
  try {
    return await new Request("http://localhost/", {
      method: "POST",
      headers: { "content-type": type },
      body: body as BufferSource,
    }).formData();
  } catch (error) {
    throw new RequestError(
      400,
      `the ${essence} body could not be parsed (${
        error instanceof Error ? error.message : error
      })`,
    );
  }
}

/** Whether a multipart body ends with `--boundary--` (and blank space). */
function closed(type: string, body: Uint8Array): boolean {
  const boundary = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(type);
  if (boundary === null) return true; // The parser says what is missing.
  const end = `--${boundary[1] ?? boundary[2]}--`;
  const tail = latin1.decode(body.subarray(-(end.length + 64)));
  return tail.trimEnd().endsWith(end);
}

const latin1 = new TextDecoder("latin1");

/**
 * The request's cookies, from `HTTP_COOKIE`: name → value. Values are
 * given as sent (a pair of surrounding double quotes removed), not
 * decoded: decode what you encoded when you set it. When a name comes
 * twice, the first wins, as browsers send the most specific path first.
 * The object has no prototype.
 *
 * @example
 * ```ts
 * import type { Application } from "@denowsgi/wsgi";
 * import { parseCookies } from "@denowsgi/wsgi/request";
 *
 * const app: Application = (environ, startResponse) => {
 *   const { tema = "claro" } = parseCookies(environ); // Cookie: tema=oscuro
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [tema];
 * };
 * ```
 */
export function parseCookies(environ: Environ): Record<string, string> {
  const cookies: Record<string, string> = Object.create(null);
  for (const pair of (environ.HTTP_COOKIE ?? "").split(";")) {
    const equals = pair.indexOf("=");
    if (equals === -1) continue;
    const name = pair.slice(0, equals).trim();
    let value = pair.slice(equals + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1);
    }
    if (name !== "" && !(name in cookies)) cookies[name] = value;
  }
  return cookies;
}

/**
 * The attributes of a cookie, for {@linkcode dumpCookie}.
 *
 * @example
 * ```ts
 * import type { CookieOptions } from "@denowsgi/wsgi/request";
 *
 * const session: CookieOptions = { path: "/", httpOnly: true, secure: true, sameSite: "Lax" };
 * ```
 */
export interface CookieOptions {
  /** The path the cookie is sent for; the request's directory if unset. */
  path?: string;
  /** The domain (and its subdomains) it is sent to; this host only if unset. */
  domain?: string;
  /** Seconds it lives; `0` deletes it at once. */
  maxAge?: number;
  /** When it expires, for clients that ignore Max-Age. */
  expires?: Date;
  /** Sent over HTTPS only. */
  secure?: boolean;
  /** Hidden from the page's JavaScript. */
  httpOnly?: boolean;
  /** Whether other sites' requests carry it; `"None"` needs `secure`. */
  sameSite?: "Strict" | "Lax" | "None";
}

/** RFC 6265 cookie-octet: visible ASCII but `"`, `,`, `;` and `\`. */
const COOKIE_VALUE = /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*$/;
/** An attribute value: no `;` and no control characters. */
const ATTRIBUTE_VALUE = /^[\x20-\x3A\x3C-\x7E]*$/;

/**
 * A `Set-Cookie` header value, as Werkzeug's `dump_cookie`. Throws a
 * `TypeError` for what would break the header or let the value add
 * attributes of its own: a name that is not an HTTP token, a value with a
 * space, `"`, `,`, `;`, `\` or a non-ASCII character (encode it first, with
 * `encodeURIComponent`), a `;` or control character in Path or Domain, a
 * Max-Age that is not a whole number, an invalid date, or `SameSite=None`
 * without `secure`.
 *
 * @example
 * ```ts
 * import { dumpCookie } from "@denowsgi/wsgi/request";
 *
 * dumpCookie("sesion", "abc123", { path: "/", maxAge: 3600, httpOnly: true, sameSite: "Lax" });
 * // "sesion=abc123; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax"
 * dumpCookie("sesion", "", { path: "/", maxAge: 0 }); // deletes it
 * ```
 */
export function dumpCookie(
  name: string,
  value: string,
  options: CookieOptions = {},
): string {
  if (!isToken(name)) {
    throw new TypeError(
      `the cookie name ${JSON.stringify(name)} is not an HTTP token`,
    );
  }
  if (!COOKIE_VALUE.test(value)) {
    throw new TypeError(
      `the value of cookie ${name} holds a character a cookie cannot carry (space, quote, comma, semicolon, backslash, control or non-ASCII); encode it first, e.g. with encodeURIComponent`,
    );
  }
  const parts = [`${name}=${value}`];
  for (
    const [label, text] of [["Path", options.path], ["Domain", options.domain]]
  ) {
    if (text === undefined) continue;
    if (!ATTRIBUTE_VALUE.test(text)) {
      throw new TypeError(
        `the ${label} of cookie ${name} holds a ";" or a control character`,
      );
    }
    parts.push(`${label}=${text}`);
  }
  if (options.maxAge !== undefined) {
    if (!Number.isInteger(options.maxAge)) {
      throw new TypeError(
        `the Max-Age of cookie ${name} must be a whole number of seconds`,
      );
    }
    parts.push(`Max-Age=${options.maxAge}`);
  }
  if (options.expires !== undefined) {
    if (Number.isNaN(options.expires.getTime())) {
      throw new TypeError(`the Expires of cookie ${name} is not a valid date`);
    }
    parts.push(`Expires=${options.expires.toUTCString()}`);
  }
  if (options.secure) parts.push("Secure");
  if (options.httpOnly) parts.push("HttpOnly");
  if (options.sameSite !== undefined) {
    if (!["Strict", "Lax", "None"].includes(options.sameSite)) {
      throw new TypeError(`SameSite must be "Strict", "Lax" or "None"`);
    }
    if (options.sameSite === "None" && !options.secure) {
      throw new TypeError(
        `a SameSite=None cookie must also be secure (browsers drop it otherwise)`,
      );
    }
    parts.push(`SameSite=${options.sameSite}`);
  }
  return parts.join("; ");
}
