/**
 * Peak memory of one `wsgi.input.read()` of a whole body of known length:
 * a server in this process, `curl` uploading `--mb` MiB of zeros with a
 * Content-Length, and VmHWM / VmRSS from /proc/self/status before, at the
 * peak and after.
 *
 *     deno run -A --v8-flags=--expose-gc bench/input_rss.ts [--mb 512] [--root DIR]
 *
 * @module
 */
import { parseArgs } from "node:util";

const flags = parseArgs({
  options: {
    mb: { type: "string", default: "512" },
    root: { type: "string", default: new URL("..", import.meta.url).href },
  },
}).values;
const { serve } = await import(new URL("mod.ts", flags.root).href);
const size = Number(flags.mb) * 1024 * 1024;

function memory(): { rss: number; peak: number } {
  const status = Deno.readTextFileSync("/proc/self/status");
  const kib = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)![1]);
  return { rss: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 };
}

let got = 0;
const server = serve(
  async (
    environ: Record<string, { read(): Promise<Uint8Array> }>,
    startResponse: (s: string, h: string[][]) => void,
  ) => {
    got = (await environ["wsgi.input"].read()).byteLength;
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [`${got}\n`];
  },
  {
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    limitRequestBody: 0,
    accessLog: false,
  },
);
const before = memory();
const file = await Deno.makeTempFile();
await Deno.truncate(file, size);
const curl = await new Deno.Command("curl", {
  args: [
    "-s",
    "-o",
    "/dev/null",
    "-H",
    "Expect:",
    "--data-binary",
    `@${file}`,
    `http://127.0.0.1:${server.addr.port}/`,
  ],
}).output();
await Deno.remove(file);
(globalThis as { gc?: () => void }).gc?.();
const after = memory();
await server.shutdown();
console.log(
  `read ${got / 1048576} MiB (curl ${
    curl.success ? "ok" : "failed"
  }): RSS before ${before.rss.toFixed(0)} MiB, ` +
    `peak ${after.peak.toFixed(0)} MiB, after (gc) ${
      after.rss.toFixed(0)
    } MiB; root ${flags.root}`,
);
