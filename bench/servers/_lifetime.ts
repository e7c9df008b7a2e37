/**
 * Benchmark servers live exactly as long as the driver that started them:
 * the driver holds their standard input, and when it closes (the driver is
 * done, or died) the server shuts down and the process exits.
 *
 * @module
 */

/** Serves until standard input closes, then shuts the server down. */
export async function serveUntilStdinCloses(
  server: Deno.HttpServer,
): Promise<void> {
  for await (const _ of Deno.stdin.readable) {
    // The driver never writes; anything it does write is ignored.
  }
  await server.shutdown();
}

/** Where benchmark servers listen: loopback, on the port the driver chose. */
export function listenOn(port: string): Deno.ServeTcpOptions {
  return { hostname: "127.0.0.1", port: Number(port), onListen() {} };
}
