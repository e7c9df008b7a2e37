/**
 * Shared helper for the environ and wsgi.input end-to-end tests: one raw
 * HTTP/1.1 exchange over a connection, for what `fetch` cannot send (an
 * underscore header name, a chosen Host, a chunked upload, pipelining).
 *
 * @module
 */

const encoder = new TextEncoder();

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
      const bytes = encoder.encode(piece);
      for (let sent = 0; sent < bytes.byteLength;) {
        sent += await conn.write(bytes.subarray(sent));
      }
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
