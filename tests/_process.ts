/**
 * What the tests that run `server.ts` as a process share: a bounded wait
 * and a child's output read as lines. Imports nothing, so that loading it
 * costs nothing.
 *
 * @module
 */

/**
 * How long a child may take to start (compiling included, and Pyodide's
 * seconds for a .py app on a busy machine) or to answer.
 */
export const WAIT_MS = 60_000;

/** Rejects with `what` if `promise` has not settled within WAIT_MS. */
export async function within<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${what}`)),
          WAIT_MS,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A byte stream as text lines, without their line ends. */
export async function* lines(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<string> {
  let buffered = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    buffered += text;
    let end;
    while ((end = buffered.indexOf("\n")) !== -1) {
      yield buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
    }
  }
  if (buffered) yield buffered;
}
