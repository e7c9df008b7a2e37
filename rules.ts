/**
 * The rules of PEP 3333 that both sides check: the gateway, on every
 * request, and the validator, with a learner's explanation. Keeping them in
 * one place keeps the two from drifting apart.
 *
 * @module
 */

/**
 * The error thrown into an application that breaks a rule of the contract:
 * a bad status or header, a second `startResponse` without `excInfo`, a
 * chunk that is not a string or bytes. The gateway answers such a request
 * with a 500 and one log line naming the rule, even if the application
 * catches the error.
 *
 * @example
 * ```ts
 * import { type Application, ContractError } from "@denowsgi/wsgi";
 *
 * const app: Application = (_environ, startResponse) => {
 *   try {
 *     startResponse("200", []);
 *   } catch (error) {
 *     console.log(error instanceof ContractError); // true: no reason phrase
 *   }
 *   return [];
 * };
 * ```
 */
export class ContractError extends Error {}

/** Three digits, a space, a reason phrase (RFC 9112: tab, visible, obs-text). */
export const STATUS: RegExp = /^(\d{3}) ([\t\x20-\x7e\x80-\xff]*)$/;

/** An HTTP token (RFC 9110): what a method or a header name is made of. */
export const TOKEN: RegExp = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * A header value as HTTP allows it and PEP 3333 narrows it: latin-1, tabs
 * but no other control characters (CR and LF would inject headers; Deno
 * panics on the rest).
 */
export const FIELD_VALUE: RegExp = /^[\t\x20-\x7e\x80-\xff]*$/;

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
