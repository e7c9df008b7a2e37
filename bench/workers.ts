/**
 * `-w 1` against `-w 2` on this machine, each a supervisor and its worker
 * processes: a CPU-bound burst (16 concurrent requests of 250 ms of CPU
 * each, sent by curl, which uses little CPU itself), the lesson's page
 * under `wrk -t1 -c50`, and the stall test: while one request spins 3 s,
 * how long an unrelated request takes. Rounds interleave 1 and 2 workers;
 * medians; ratios in one run.
 *
 *     deno run -A bench/workers.ts [--rounds 3] [--duration 5]
 *
 * @module
 */
import { parseArgs } from "node:util";

const ROOT = new URL("..", import.meta.url).pathname;
const args = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    duration: { type: "string", default: "5" },
  },
});
const rounds = Number(args.values.rounds);
const duration = Number(args.values.duration);

async function withServer<T>(
  workers: number,
  app: string,
  body: (url: string) => Promise<T>,
): Promise<T> {
  const child = new Deno.Command("deno", {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-run=deno",
      "server.ts",
      "-b",
      "127.0.0.1:0",
      "-w",
      String(workers),
      "--no-access-log",
      "--graceful-timeout",
      "0",
      app,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/http:\/\/\S+\//.test(text)) {
    const { done, value } = await reader.read();
    if (done) throw new Error("the server ended before listening");
    text += value;
  }
  try {
    return await body(/http:\/\/\S+\//.exec(text)![0]);
  } finally {
    child.kill("SIGTERM");
    await reader.cancel();
    await child.status;
  }
}

async function wrk(url: string): Promise<number> {
  const { stdout } = await new Deno.Command("wrk", {
    args: ["-t1", "-c50", `-d${duration}s`, url],
  }).output();
  const text = new TextDecoder().decode(stdout);
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(text)![1]);
}

/** ms for 16 requests of 250 ms of CPU each, sent at once by curl. */
async function burst(url: string): Promise<number> {
  const urls = Array.from({ length: 16 }, () => `${url}spin?ms=250`);
  const start = performance.now();
  const { success } = await new Deno.Command("curl", {
    args: [
      "-sf",
      "-o",
      "/dev/null",
      "--parallel",
      "--parallel-max",
      "16",
      "--max-time",
      "30",
      ...urls,
    ],
    stdout: "null",
  }).output();
  if (!success) throw new Error("a burst request failed");
  return performance.now() - start;
}

/**
 * ms for four fresh-connection requests to /fast sent together while
 * /spin?ms=3000 runs (their median): each connection lands on a worker,
 * and one on the busy worker waits for the spin to end.
 */
async function stall(url: string): Promise<number> {
  const fresh = async (path: string) => {
    using client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
    const start = performance.now();
    await (await fetch(`${url}${path}`, { client })).text();
    return performance.now() - start;
  };
  const slow = fresh("spin?ms=3000");
  await new Promise((resolve) => setTimeout(resolve, 200));
  const times = await Promise.all([1, 2, 3, 4].map(() => fresh("fast")));
  await slow;
  return median(times);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const results: Record<
  number,
  { burst: number[]; page: number[]; stall: number[] }
> = {
  1: { burst: [], page: [], stall: [] },
  2: { burst: [], page: [], stall: [] },
};
for (let round = 1; round <= rounds; round++) {
  for (const workers of round % 2 ? [1, 2] : [2, 1]) {
    await withServer(workers, "tests/fixtures/cpu.ts", async (url) => {
      await burst(url); // warm-up
      results[workers].burst.push(await burst(url));
      results[workers].stall.push(await stall(url));
    });
    await withServer(
      workers,
      "examples/holamundo.ts:holaMundoApp",
      async (url) => {
        results[workers].page.push(await wrk(url));
      },
    );
    console.error(`round ${round}, ${workers} worker(s) done`);
  }
}
const of = (w: number, key: "burst" | "page" | "stall") =>
  median(results[w][key]);
console.log(
  `| workers | 16 × 250 ms of CPU at once | lesson's page, wrk -t1 -c50 | /fast while /spin runs 3 s |
|---|---|---|---|
| 1 | ${of(1, "burst").toFixed(0)} ms | ${of(1, "page").toFixed(0)} req/s | ${
    of(1, "stall").toFixed(0)
  } ms |
| 2 | ${of(2, "burst").toFixed(0)} ms | ${of(2, "page").toFixed(0)} req/s | ${
    of(2, "stall").toFixed(0)
  } ms |
| speed-up | ${(of(1, "burst") / of(2, "burst")).toFixed(2)}× | ${
    (of(2, "page") / of(1, "page")).toFixed(2)
  }× | |

${rounds} interleaved rounds, medians; wrk -t1 -c50 -d${duration}s; Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores.`,
);
