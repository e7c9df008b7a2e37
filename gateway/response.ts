/**
 * Step 4 of a request: the body becomes a `Response`. An array goes out in
 * one piece; anything else streams, pulled one chunk ahead of the client,
 * with Content-Length enforced and the body closed however the stream ends.
 *
 * @module
 */

import { concat, encoder, utf8Length } from "./bytes.ts";
import type { Clock, Due } from "./clock.ts";
import type { Ending } from "./log.ts";
import { ClientGone } from "./input.ts";
import type { Chunk, Header } from "../types.ts";
import { type Broken, type Checked, NO_CONTENT, wrongLength } from "./rules.ts";

/** What a response is made of once it is fixed. */
export interface Committed {
  status: number;
  statusText: string;
  headers: Header[];
}

/**
 * What the writer needs of one exchange, and all it sees of it:
 * `exchange.ts` implements it.
 */
export interface Responder {
  /** The client asked for HEAD. */
  readonly head: boolean;
  /** The headers as checked, once startResponse was called. */
  readonly headers: Checked | undefined;
  /** Whether Deno frames the body (under `serve`) or another reader does. */
  readonly onWire: boolean;
  /** Seconds a client may take nothing of a streamed body; 0 is forever. */
  readonly sendTimeout: number;
  /** The server's clock, which looks at a stream's client and first chunk. */
  readonly clock: Clock;
  /** Whether the trace wants each chunk's size. */
  readonly tracing: boolean;
  /** Fires when the client goes away before there is a response. */
  readonly gone: AbortSignal;
  /** What write() gave before the body; the writer's to add to, once. */
  written(): Uint8Array[];
  /** A body's chunk as bytes; a chunk that is neither breaks a rule. */
  toBytes(chunk: unknown): Uint8Array;
  /** The body's next non-empty chunk; undefined once it is over. */
  next(): Uint8Array | undefined | Promise<Uint8Array | undefined>;
  /** Fixes the status and headers; throws the rule the app broke. */
  commit(hasContent: boolean): Committed;
  /** HEAD and 304 may declare the length of a body they do not carry. */
  headersOnly(status: number): boolean;
  break(broken: Broken): never;
  /**
   * Closes the body, once, however the response ended, and lets go of the
   * request body's unread rest: called before the stream closes.
   */
  finish(completed: boolean): void;
  /** The stream fails after its start: logged, the body closed. */
  abort(
    controller: ReadableStreamDefaultController<Uint8Array>,
    error: unknown,
  ): void;
  /** The client left in the middle of the body. */
  left(): void;
  /** A chunk handed to the client, for the trace. */
  sent(size: number): void;
  /** The response is over: its status, and the bytes its body carried. */
  ended(status: number, body: number | string, how?: Ending): void;
}

/**
 * An array (or a lone string): every chunk is known, so the body goes out
 * in one piece. Strings stay a string, which Deno encodes natively.
 */
export function respondAtOnce(
  exchange: Responder,
  body: Chunk[] | string,
): Response {
  const chunks = typeof body === "string" ? [body] : body;
  const parts = exchange.written();
  let text: string | undefined = parts.length === 0 ? "" : undefined;
  for (const chunk of chunks) {
    if (text !== undefined && typeof chunk === "string") {
      text += chunk;
      if (exchange.tracing) exchange.sent(utf8Length(chunk));
      continue;
    }
    if (text) parts.push(encoder.encode(text));
    text = undefined;
    const bytes = exchange.toBytes(chunk);
    exchange.sent(bytes.byteLength);
    if (bytes.byteLength > 0) parts.push(bytes);
  }
  // The response does not wait for close(): wsgiref too calls it after.
  exchange.finish(true);
  const content = text ?? concat(parts);
  const init = exchange.commit(content.length > 0);
  const declared = exchange.headers!.length;
  const onWire = exchange.onWire;
  // Measuring a long string costs: only when the headers need the length
  // (a log measures it when it writes its line, off the request's path).
  const length = typeof content !== "string"
    ? content.byteLength
    : onWire && declared === undefined
    ? -1
    : utf8Length(content);
  if (
    declared !== undefined && declared !== length &&
    !exchange.headersOnly(init.status)
  ) {
    exchange.break(wrongLength(declared, length));
  }
  // RFC 9110: a 204 or 304 declares no length of its own.
  if (!onWire && declared === undefined && !NO_CONTENT.has(init.status)) {
    init.headers = [...init.headers, ["Content-Length", String(length)]];
  }
  exchange.ended(init.status, length >= 0 ? length : content as string);
  if (content.length === 0 || (!onWire && exchange.head)) {
    return new Response(null, init);
  }
  // Deno labels a string body text/plain, and WSGI has no default type.
  const bytes = typeof content === "string" && !exchange.headers!.typed
    ? encoder.encode(content)
    : content;
  // A SharedArrayBuffer view is as good a body as any other.
  return new Response(bytes as string | BufferSource, init);
}

/**
 * Any other iterable streams: nothing is committed until the first
 * non-empty chunk, then chunks are pulled as the client reads them, one
 * chunk ahead.
 */
export async function respondStreaming(
  exchange: Responder,
): Promise<Response> {
  const next = exchange.next();
  // The first chunk, held for the first pull.
  let held = next instanceof Promise ? await unlessGone(exchange, next) : next;
  const empty = held === undefined;
  // A first chunk past the declared length: still time for a 500.
  const declared = exchange.headers?.length ?? Infinity;
  if (held !== undefined && held.byteLength > declared) {
    exchange.break(wrongLength(declared, held.byteLength));
  }
  const init = exchange.commit(!empty);
  if (empty || exchange.head) {
    exchange.finish(false);
    exchange.ended(init.status, 0);
    // A null body would make Deno declare `Content-Length: 0`, which HEAD
    // of a non-empty streamed body must not; an empty stream declares none.
    if (!empty) return new Response(emptyStream(), init);
    if (!exchange.onWire && declared === Infinity) {
      init.headers = [...init.headers, ["Content-Length", "0"]];
    }
    return new Response(null, init);
  }
  // Bytes handed to the stream, and bytes its reader has taken: the
  // stream holds one chunk ahead, and a pull means that one was taken.
  let handed = 0;
  let taken = 0;
  // A client that takes nothing for sendTimeout seconds while a chunk waits
  // for it: pulls counted, and looked at by the server's clock once per
  // period (so a stall is seen after one to two periods, and a tick).
  let pulls = 0;
  let waiting = false;
  let seen = 0;
  const patience = exchange.sendTimeout * 1000;
  const clock = exchange.clock;
  let guard: Due | undefined;
  const stop = () => guard && clock.delete(guard);
  const watch = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    let looked = clock.now;
    guard = {
      clockIndex: -1,
      tick: (now) => {
        if (cancelled) return false;
        if (now - looked < patience) return true;
        looked = now;
        const stalled = waiting && pulls === seen;
        seen = pulls;
        if (!stalled) return true;
        failed(
          controller,
          new ClientGone(
            `the client took nothing for ${patience / 1000} s (sendTimeout)`,
          ),
        );
        cancelled = true;
        return false;
      },
    };
    clock.add(guard);
  };
  // Each pull hands over one chunk. It stays synchronous while the body
  // is: a promise per chunk would double the cost of small chunks.
  const deliver = (
    controller: ReadableStreamDefaultController<Uint8Array>,
    chunk: Uint8Array | undefined,
  ) => {
    // The client may have gone while an async body was between chunks.
    if (cancelled) return;
    if (chunk !== undefined) {
      handed += chunk.byteLength;
      // Deno would silently cut a body longer than its Content-Length.
      if (handed > declared) {
        exchange.break(wrongLength(declared, handed));
      }
      exchange.sent(chunk.byteLength);
      controller.enqueue(chunk);
      waiting = true;
      // The declared length is all Deno sends: the response is complete,
      // and a body that would go on is closed rather than cut off.
      if (handed === declared) {
        stop();
        // Finished first: the request body is let go before Deno sees the
        // response end (else it closes the connection).
        exchange.finish(false);
        controller.close();
        exchange.ended(init.status, handed);
      }
    } else {
      stop();
      if (handed < declared && declared !== Infinity) {
        exchange.break(wrongLength(declared, handed));
      }
      controller.close();
      exchange.ended(init.status, taken);
    }
  };
  const failed = (
    controller: ReadableStreamDefaultController<Uint8Array>,
    error: unknown,
  ) => {
    if (cancelled) return;
    stop();
    exchange.abort(controller, error);
    exchange.ended(init.status, taken, "aborted");
  };
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    start: (controller) => {
      if (patience > 0) watch(controller);
    },
    pull: (controller) => {
      taken = handed;
      pulls++;
      waiting = false;
      try {
        const chunk = held ?? exchange.next();
        held = undefined;
        if (!(chunk instanceof Promise)) return deliver(controller, chunk);
        return chunk.then((chunk) => deliver(controller, chunk))
          .catch((error) => failed(controller, error));
      } catch (error) {
        return failed(controller, error);
      }
    },
    cancel: () => {
      stop();
      cancelled = true;
      exchange.left();
      exchange.ended(init.status, taken, "left");
    },
    // One chunk ahead of the reader, as any ReadableStream by default: a
    // pending read then finds its chunk ready (measured: a third cheaper
    // per chunk than pulling on demand), and memory stays one chunk.
  }, { highWaterMark: 1 });
  return new Response(stream, init);
}

/**
 * Waits for an async body's first chunk, unless the client leaves first:
 * with no Response yet, Deno has no stream to cancel, and an SSE body may
 * wait for its first event for a long time. Only a body still silent at the
 * clock's first look after a whole tick is watched: Deno prints a notice
 * once `signal` is in use, and most bodies answer at once.
 */
function unlessGone(
  exchange: Responder,
  first: Promise<Uint8Array | undefined>,
): Promise<Uint8Array | undefined> {
  const { promise, resolve, reject } = Promise.withResolvers<
    Uint8Array | undefined
  >();
  const clock = exchange.clock;
  let since = 0;
  let unhook: (() => void) | undefined;
  const silent: Due = {
    clockIndex: -1,
    tick: (now) => {
      if (now - since < clock.tick) return true;
      const signal = exchange.gone;
      const gone = () => {
        exchange.finish(false);
        reject(
          new ClientGone("the client went away before the response started"),
        );
      };
      if (signal.aborted) gone();
      else {
        signal.addEventListener("abort", gone, { once: true });
        unhook = () => signal.removeEventListener("abort", gone);
      }
      return false;
    },
  };
  clock.add(silent);
  since = clock.now;
  first.then(resolve, reject).finally(() => {
    clock.delete(silent);
    unhook?.();
  });
  return promise;
}

function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (controller) => controller.close() });
}
