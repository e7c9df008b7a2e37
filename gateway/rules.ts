/**
 * The rules of PEP 3333 that both sides check, each written once: the
 * gateway calls these checks on every request, the validator calls the same
 * ones and adds its stricter rules on top. A check returns what it checked,
 * or a {@linkcode Broken} rule: a short id (`startResponse.status`) and a
 * sentence a learner can act on.
 *
 * @module
 */

import type { Body, Header } from "../types.ts";

/** A rule of the contract, broken: its id and what was expected. */
export class Broken {
  constructor(readonly rule: string, readonly message: string) {}
}

/** Three digits, a space, a reason phrase (RFC 9112: tab, visible, obs-text). */
const STATUS = /^(\d{3}) ([\t\x20-\x7e\x80-\xff]*)$/;

/** An HTTP token (RFC 9110): what a method or a header name is made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * A header value as HTTP allows it and PEP 3333 narrows it: latin-1, tabs
 * but no other control characters (CR and LF would inject headers; Deno
 * panics on the rest).
 */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** PEP 3333: these headers belong to the server, never the application. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** RFC 9110: responses with these statuses carry no content. */
export const NO_CONTENT: ReadonlySet<number> = new Set([204, 205, 304]);

const statuses = new Map<string, [number, string]>();

/**
 * `"200 OK"` → `[200, "OK"]`. Remembered: an app says the same few statuses
 * over and over.
 */
export function checkStatus(status: unknown): [number, string] | Broken {
  if (typeof status !== "string") {
    return new Broken(
      "startResponse.status",
      `the status must be a string such as "200 OK", got ${describe(status)}`,
    );
  }
  const known = statuses.get(status);
  if (known !== undefined) return known;
  const match = STATUS.exec(status);
  if (match === null) {
    return new Broken(
      "startResponse.status",
      `the status ${
        JSON.stringify(status)
      } must be three digits, a space and a reason phrase without control characters, such as "200 OK"`,
    );
  }
  const code = Number(match[1]);
  if (code < 200 || code > 599) {
    return new Broken(
      "startResponse.status",
      `the status code ${code} cannot be sent by an application: use 200 to 599 (1xx responses belong to the server)`,
    );
  }
  const parsed: [number, string] = [code, match[2]];
  if (statuses.size < 256) statuses.set(status, parsed);
  return parsed;
}

/** The app's headers once checked: a copy, so later changes cannot sneak in. */
export interface Checked {
  list: Header[];
  /** The Content-Length the app declared, if it did. */
  length?: number;
  /** Whether the app set a Content-Type. */
  typed: boolean;
}

/** What a header name means to the gateway, once found to be allowed. */
const ORDINARY = 0, LENGTH = 1, TYPE = 2;

/**
 * Header names already found to be tokens and not hop-by-hop, and what
 * each is: no lowercase copy of a name per response.
 */
const goodNames = new Map<string, number>();

/** Checks the list given to startResponse, and copies it. */
export function checkHeaders(headers: unknown): Checked | Broken {
  if (!Array.isArray(headers)) {
    return new Broken(
      "startResponse.headers",
      `the headers must be an array of [name, value] pairs, got ${
        describe(headers)
      }`,
    );
  }
  const checked: Checked = { list: [], typed: false };
  for (const header of headers) {
    if (
      !Array.isArray(header) || header.length !== 2 ||
      typeof header[0] !== "string" || typeof header[1] !== "string"
    ) {
      return new Broken(
        "startResponse.headers",
        `each header must be a [name, value] pair of strings, got ${
          describe(header)
        }`,
      );
    }
    const [name, value] = header;
    let kind = goodNames.get(name);
    if (kind === undefined) {
      const broken = checkName(name);
      if (broken) return broken;
      const lower = name.toLowerCase();
      kind = lower === "content-length"
        ? LENGTH
        : lower === "content-type"
        ? TYPE
        : ORDINARY;
      if (goodNames.size < 512) goodNames.set(name, kind);
    }
    if (!FIELD_VALUE.test(value)) return badValue(name, value);
    if (kind === LENGTH) {
      if (!/^\d+$/.test(value)) {
        return new Broken(
          "header.Content-Length",
          `the Content-Length ${
            JSON.stringify(value)
          } is not a whole number of bytes`,
        );
      }
      checked.length = Number(value);
    } else if (kind === TYPE) checked.typed = true;
    checked.list.push([name, value]);
  }
  return checked;
}

/** Whether `text` is an HTTP token, as a method or a header name must be. */
export function isToken(text: string): boolean {
  return TOKEN.test(text);
}

function checkName(name: string): Broken | undefined {
  if (!TOKEN.test(name)) {
    return new Broken(
      "header.name",
      `the header name ${
        JSON.stringify(name)
      } is not an HTTP token (letters, digits and !#$%&'*+-.^_\`|~, no spaces or colons)`,
    );
  }
  if (HOP_BY_HOP.has(name.toLowerCase())) {
    return new Broken(
      "header.hop-by-hop",
      `the hop-by-hop header ${name} belongs to the server, not the application (PEP 3333)`,
    );
  }
}

function badValue(name: string, value: string): Broken {
  return new Broken(
    "header.value",
    /[\r\n\0]/.test(value)
      ? `the value of header ${name} contains CR, LF or NUL`
      : /[\u0100-\uffff]/.test(value)
      ? `the value of header ${name} must be latin-1 text (PEP 3333); encode other characters, e.g. RFC 8187`
      : `the value of header ${name} contains a control character`,
  );
}

/**
 * What an application returns must be iterable (a bare string too: the
 * gateway sends it whole; the validator adds a rule against it).
 */
export function checkBody(body: unknown): Body | Broken {
  if (typeof body === "string") return body as unknown as Body;
  if (body instanceof Uint8Array) {
    return new Broken(
      "app.return",
      "the application must return an iterable of chunks, not a bare Uint8Array (its items are numbers): return it in an array, [bytes]",
    );
  }
  if (
    typeof body !== "object" || body === null ||
    !(Symbol.iterator in body || Symbol.asyncIterator in body)
  ) {
    return new Broken(
      "app.return",
      `the application must return an iterable of chunks (an array, a generator…), got ${
        describe(body)
      }${body === undefined ? "; did you forget the return?" : ""}`,
    );
  }
  return body as Body;
}

/**
 * A body whose size is not the Content-Length the app declared: Deno would
 * silently cut a longer one, and a client would wait for a shorter one.
 */
export function wrongLength(declared: number, size: number): Broken {
  return new Broken(
    "body.Content-Length",
    size > declared
      ? `the body is longer than its Content-Length, ${declared}`
      : `the body has ${size} bytes, fewer than its Content-Length, ${declared}`,
  );
}

/** A body sent with a status that carries no content (RFC 9110). */
export function noContent(status: number): Broken {
  return new Broken(
    "body.no-content",
    `a ${status} response has no body, but the application sent one`,
  );
}

/** A chunk that is neither a string nor bytes, from `write()` or the body. */
export function notAChunk(
  chunk: unknown,
  rule: "write.chunk" | "body.chunk",
): Broken {
  return new Broken(
    rule,
    `chunks must be strings or Uint8Arrays, got ${describe(chunk)}`,
  );
}

/** Names a value in a message: `"text"`, `42`, `undefined`, `a Map`… */
export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "a function (call it?)";
  if (Array.isArray(value)) return `[${value.map(describe).join(", ")}]`;
  if (typeof value !== "object" || value === null) return String(value);
  return `a ${value.constructor?.name ?? "null-prototype object"}`;
}
