/**
 * Step 4 of a request: the body becomes a `Response`. An array goes out in
 * one piece; anything else streams, pulled one chunk ahead of the client,
 * with Content-Length enforced and the body closed however the stream ends.
 *
 * @module
 */

import type { Chunk } from "../types.ts";
import { concat, encoder, utf8Length } from "./bytes.ts";
import { watchdog } from "./deadline.ts";
import type { Exchange } from "./exchange.ts";
import { ClientGone } from "./input.ts";
import { NO_CONTENT, wrongLength } from "./rules.ts";

/**
 * An array (or a lone string): every chunk is known, so the body goes out
 * in one piece. Strings stay a string, which Deno encodes natively.
 */
export function respondAtOnce(
  exchange: Exchange,
  body: Chunk[] | string,
): Response {
  const chunks = typeof body === "string" ? [body] : body;
  let text: string | undefined = exchange.pending.length === 0 ? "" : undefined;
  for (const chunk of chunks) {
    if (text !== undefined && typeof chunk === "string") {
      text += chunk;
      if (exchange.watch?.tracing) exchange.watch.chunk(utf8Length(chunk));
      continue;
    }
    if (text) exchange.pending.push(encoder.encode(text));
    text = undefined;
    const bytes = exchange.toBytes(chunk);
    exchange.watch?.chunk(bytes.byteLength);
    if (bytes.byteLength > 0) exchange.pending.push(bytes);
  }
  // The response does not wait for close(): wsgiref too calls it after.
  exchange.finish(true);
  const content = text ?? concat(exchange.pending);
  const init = exchange.commit(content.length > 0);
  const declared = exchange.headers!.length;
  const onWire = exchange.context.onWire;
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
  // Deno drops the body of a HEAD itself: only others need to ask.
  exchange.watch?.end(
    init.status,
    exchange.head ? 0 : length >= 0 ? length : content as string,
  );
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
  exchange: Exchange,
): Promise<Response> {
  const first = exchange.next();
  const empty =
    !(first instanceof Promise ? await unlessGone(exchange, first) : first);
  // A first chunk past the declared length: still time for a 500.
  const declared = exchange.headers?.length ?? Infinity;
  if (!empty && exchange.pending[0].byteLength > declared) {
    exchange.break(wrongLength(declared, exchange.pending[0].byteLength));
  }
  const init = exchange.commit(!empty);
  if (empty || exchange.head) {
    exchange.finish(false);
    exchange.watch?.end(init.status, 0);
    // A null body would make Deno declare `Content-Length: 0`, which HEAD
    // of a non-empty streamed body must not; an empty stream declares none.
    if (!empty) return new Response(emptyStream(), init);
    if (!exchange.context.onWire && declared === Infinity) {
      init.headers = [...init.headers, ["Content-Length", "0"]];
    }
    return new Response(null, init);
  }
  // Bytes handed to the stream, and bytes its reader has taken: the
  // stream holds one chunk ahead, and a pull means that one was taken.
  let handed = 0;
  let taken = 0;
  // A client that takes nothing for sendTimeout seconds while a chunk waits
  // for it: pulls counted, one timer for the whole stream.
  let pulls = 0;
  let waiting = false;
  let seen = 0;
  const patience = exchange.context.timeouts.send;
  let stop: (() => void) | undefined;
  const watch = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    stop = watchdog(patience, () => {
      const stalled = waiting && pulls === seen;
      seen = pulls;
      return stalled;
    }, () => {
      failed(
        controller,
        new ClientGone(
          `the client took nothing for ${patience} s (sendTimeout)`,
        ),
      );
      cancelled = true;
    });
  };
  // Each pull hands over one chunk. It stays synchronous while the body
  // is: a promise per chunk would double the cost of small chunks.
  const deliver = (
    controller: ReadableStreamDefaultController<Uint8Array>,
    more: boolean,
  ) => {
    // The client may have gone while an async body was between chunks.
    if (cancelled) return;
    if (more) {
      const chunk = exchange.pending.shift()!;
      handed += chunk.byteLength;
      // Deno would silently cut a body longer than its Content-Length.
      if (handed > declared) {
        exchange.break(wrongLength(declared, handed));
      }
      exchange.watch?.chunk(chunk.byteLength);
      controller.enqueue(chunk);
      waiting = true;
      // The declared length is all Deno sends: the response is complete,
      // and a body that would go on is closed rather than cut off.
      if (handed === declared) {
        stop?.();
        controller.close();
        exchange.finish(false);
        exchange.watch?.end(init.status, handed);
      }
    } else {
      stop?.();
      if (handed < declared && declared !== Infinity) {
        exchange.break(wrongLength(declared, handed));
      }
      controller.close();
      exchange.watch?.end(init.status, taken);
    }
  };
  const failed = (
    controller: ReadableStreamDefaultController<Uint8Array>,
    error: unknown,
  ) => {
    if (cancelled) return;
    stop?.();
    exchange.abort(controller, error);
    exchange.watch?.end(init.status, taken);
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
        const more = exchange.next();
        if (!(more instanceof Promise)) return deliver(controller, more);
        return more.then((more) => deliver(controller, more))
          .catch((error) => failed(controller, error));
      } catch (error) {
        return failed(controller, error);
      }
    },
    cancel: () => {
      stop?.();
      cancelled = true;
      exchange.log("the client went away before the whole body was sent");
      exchange.clientGone();
      exchange.finish(false);
      exchange.watch?.end(init.status, taken);
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
 * wait for its first event for a long time. Only a body still silent after
 * a turn of the event loop is watched: Deno prints a notice once `signal`
 * is in use, and most bodies answer at once.
 */
async function unlessGone(
  exchange: Exchange,
  first: Promise<boolean>,
): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const later = new Promise<"later">((resolve) => {
    timer = setTimeout(() => resolve("later"), 0);
  });
  const quick = await Promise.race([first, later]).finally(() =>
    clearTimeout(timer)
  );
  if (quick !== "later") return quick;
  const signal = exchange.environ["deno.request"].signal;
  return new Promise((resolve, reject) => {
    const gone = () => {
      exchange.finish(false);
      reject(
        new ClientGone("the client went away before the response started"),
      );
    };
    signal.addEventListener("abort", gone, { once: true });
    first.then(resolve, reject).finally(() =>
      signal.removeEventListener("abort", gone)
    );
  });
}

function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (controller) => controller.close() });
}
