/**
 * `wsgi.file_wrapper`: an open file as a body.
 *
 * @module
 */

import type { FileWrapper } from "../types.ts";

/**
 * `wsgi.file_wrapper`: the file's own stream, pulled as the client reads.
 * Deno closes a file whose stream ends or is cancelled; `close()` covers a
 * body that is never read (HEAD, an error before the first chunk).
 */
export const fileWrapper: FileWrapper = (file) => ({
  async *[Symbol.asyncIterator]() {
    yield* file.readable;
  },
  close() {
    try {
      file.close?.();
    } catch {
      // Already closed with its stream.
    }
  },
});
