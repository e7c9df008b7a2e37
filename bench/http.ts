/**
 * HTTP benchmarks over loopback: the gateway against its raw `Deno.serve`
 * twin (and, for the lesson's page, Hono, gunicorn and wsgiref), each server
 * in its own process, A and B interleaved round after round after a warm-up.
 *
 *     deno run -A bench/http.ts [--rounds 5] [--duration 5] [--connections 50]
 *       [--warmup 2] [--scenario lesson ...] [--no-peers] [--micro]
 *       [--write-readme] [--quick] [--baseline DIR ...]
 *
 * Scenarios (all by default): see `HTTP_SCENARIOS` in bench/scenarios.ts.
 * Many small responses are driven by `wrk -t1` (req/s, p99); one large
 * response or upload by `curl`, repeated for the round's duration (MiB/s).
 * Every server is
 * fresh for each scenario, so its peak RSS (VmHWM) belongs to that
 * scenario. `--write-readme` also runs the micro-benchmarks and rewrites
 * the table between `<!-- bench:start -->` and `<!-- bench:end -->` in
 * bench/README.md, and bench/results.json. `--baseline DIR` serves the gateway
 * of another checkout too (e.g. `git worktree add /tmp/before <commit>`), so
 * a change is measured before and after in one run. `--quick` is for checking the suite
 * itself: 2 rounds of 1 s and transfers 16 times smaller; its figures mean
 * little.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { HTTP_SCENARIOS, type HttpScenario } from "./scenarios.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const README = `${ROOT}bench/README.md`;
const RESULTS = `${ROOT}bench/results.json`;
const MARKERS = ["<!-- bench:start -->", "<!-- bench:end -->"] as const;
const MiB = 1024 * 1024;

interface Options {
  rounds: number;
  duration: number;
  connections: number;
  warmup: number;
  scenarios: string[];
  peers: boolean;
  micro: boolean;
  writeReadme: boolean;
  quick: boolean;
  /** Earlier checkouts whose gateway runs beside this one. */
  baselines: string[];
}

// ---------------------------------------------------------------------------
// Servers: one process each, alive as long as we hold their stdin
// ---------------------------------------------------------------------------

/** A server to benchmark and how to start it on a given port. */
export interface Contestant {
  /** What the table calls it. */
  name: string;
  /** The program to run. */
  command: string;
  /** Its arguments, for a free port, a scenario and its transfer size. */
  args(port: number, scenario: string, bytes: number): string[];
  /** How to get the command when it is missing (peers only). */
  install?: string;
  /** The signal that stops it; else its standard input is closed. */
  stop?: Deno.Signal;
}

/** A contestant's running process. */
export interface Server {
  /** What runs. */
  contestant: Contestant;
  /** Where it listens, on 127.0.0.1. */
  port: number;
  /** Its process: close its stdin to stop it. */
  child: Deno.ChildProcess;
  /** The end of its standard error, to explain a failure. */
  stderr: { text: string };
}

const deno = Deno.execPath();

function twin(
  side: "wsgi" | "raw" | "raw1" | "reading" | "host",
  name: string,
): Contestant {
  return {
    name,
    command: deno,
    args: (port, scenario, bytes) => [
      "run",
      "--allow-net=127.0.0.1",
      "bench/servers/twin.ts",
      side,
      scenario,
      String(port),
      String(bytes),
    ],
  };
}

const GATEWAY = twin("wsgi", "WSGI gateway");
const RAW = twin("raw", "raw Deno.serve");
/**
 * Raw, with a handler that takes the request: Deno keeps the path and
 * headers only for a handler that has a parameter.
 */
const RAW1 = twin("raw1", "raw Deno.serve, (request) => handler");
/** Raw, but reading what an environ needs: the ceiling for this design. */
const READING = twin("reading", "raw, reading url/method/headers/remote");
/**
 * Raw, reading only what every request costs the gateway: the Host (which
 * must be checked) and the URL. Reading a header is what makes Deno copy
 * the request's headers as the response goes: the floor under the targets.
 */
const HOST = twin("host", "raw, reading the Host and the URL");

/**
 * The gateway as the README runs it: `server.ts` with its defaults, the
 * access log on (to /dev/null), serving the scenario's app by name.
 */
const CLI: Contestant = {
  name: "server.ts (access log on)",
  command: deno,
  args: (port, scenario) => [
    "run",
    "--allow-net",
    "--allow-read",
    "server.ts",
    "-b",
    `127.0.0.1:${port}`,
    `bench/servers/apps.ts:${scenario}`,
  ],
  stop: "SIGTERM",
};

/**
 * The gateway of another checkout (a worktree of an earlier commit), served
 * by that checkout's own twin script: before and after, in one run.
 */
function baseline(dir: string): Contestant {
  const git = new Deno.Command("git", {
    args: ["-C", dir, "rev-parse", "--short", "HEAD"],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  const label = git.success ? new TextDecoder().decode(git.stdout).trim() : dir;
  return {
    name: `WSGI gateway at ${label}`,
    command: deno,
    args: (port, scenario, bytes) => [
      "run",
      "--allow-net=127.0.0.1",
      `--config=${dir}/deno.json`,
      `${dir}/bench/servers/twin.ts`,
      "wsgi",
      scenario,
      String(port),
      String(bytes),
    ],
    install: `${dir} may not have this scenario`,
  };
}

/** Peers serving the lesson's page, each skipped when it cannot start. */
const PEERS: Contestant[] = [
  {
    name: "Hono (npm:hono)",
    command: deno,
    // --no-lock: a dev-only peer must not write a deno.lock into the project.
    args: (port) => [
      "run",
      "--allow-net=127.0.0.1",
      "--no-lock",
      "bench/peers/hono.ts",
      String(port),
    ],
    install: "the npm registry must be reachable the first time",
  },
  {
    name: "gunicorn (2 sync workers)",
    command: "gunicorn",
    args: (port) => [
      "-c",
      "bench/peers/gunicorn.conf.py",
      "-b",
      `127.0.0.1:${port}`,
    ],
    install: "apt-get install gunicorn",
  },
  {
    name: "wsgiref simple_server",
    command: "python3",
    args: (port) => ["bench/peers/holamundo.py", String(port)],
    install: "apt-get install python3",
  },
];

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** Starts a contestant; a string says why it could not start. */
export async function start(
  contestant: Contestant,
  scenario: string,
  bytes: number,
): Promise<Server | string> {
  const port = freePort();
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(contestant.command, {
      args: contestant.args(port, scenario, bytes),
      cwd: ROOT,
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    return `${contestant.command} is not installed (${contestant.install})`;
  }
  const server: Server = { contestant, port, child, stderr: { text: "" } };
  keepTail(child.stderr, server.stderr);
  let exited = false;
  child.status.then(() => exited = true);
  // The first Hono run downloads npm:hono, hence the generous deadline.
  for (const deadline = Date.now() + 120_000; Date.now() < deadline;) {
    if (exited) break;
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return server;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  await stop(server);
  return `it did not start: ${server.stderr.text.trim() || "no output"}`;
}

/** Drains a stream, keeping its last few lines (a full pipe would block). */
async function keepTail(
  stream: ReadableStream<Uint8Array>,
  tail: { text: string },
): Promise<void> {
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    tail.text = (tail.text + text).slice(-2000);
  }
}

/**
 * Closes the server's stdin, which makes it shut down; kills it, and any
 * process it started, if it is still there after 5 s.
 */
export async function stop(server: Server): Promise<void> {
  const { child } = server;
  const family = [child.pid, ...descendants(child.pid)];
  const timer = setTimeout(() => {
    for (const pid of family) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }, 5000);
  try {
    if (server.contestant.stop) child.kill(server.contestant.stop);
    else await child.stdin.close();
  } catch {
    // It exited already.
  }
  await child.status;
  clearTimeout(timer);
}

/** The process's children, grandchildren…, from /proc. */
function descendants(pid: number): number[] {
  let children: number[];
  try {
    children = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`)
      .split(" ").filter(Boolean).map(Number);
  } catch {
    return [];
  }
  return children.flatMap((child) => [child, ...descendants(child)]);
}

/**
 * Peak resident memory since the process started (VmHWM), summed over the
 * process and its children: gunicorn's workers count as gunicorn.
 */
function peakRssMiB(pid: number): number | undefined {
  let kib = 0;
  for (const each of [pid, ...descendants(pid)]) {
    try {
      const status = Deno.readTextFileSync(`/proc/${each}/status`);
      kib += Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
    } catch {
      return undefined;
    }
  }
  return Number.isNaN(kib) ? undefined : kib / 1024;
}

/**
 * The CPU seconds a server (and its children) has used so far: per unit of
 * work, the figure that the load generator sharing the cores cannot blur.
 */
export function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const each of [pid, ...descendants(pid)]) {
    try {
      const stat = Deno.readTextFileSync(`/proc/${each}/stat`);
      // After the command's name in brackets: utime and stime, fields 14-15.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // A child that has gone: its time went with it.
    }
  }
  return ticks / 100;
}

// ---------------------------------------------------------------------------
// Load: wrk for many small responses, curl for one large transfer
// ---------------------------------------------------------------------------

/** One measurement of one server. */
export interface Sample {
  /** req/s for wrk, MiB/s for a transfer. */
  value: number;
  /** The 99th percentile latency, from wrk. */
  p99Ms?: number;
  /** The work done: requests for wrk, MiB for a transfer. */
  work?: number;
  /** The CPU seconds the server spent on it (its children included). */
  cpu?: number;
  /** Anything that makes the figure suspect: errors, wrong sizes. */
  problem?: string;
}

/** Loads the server on `port` once; `seconds` is wrk's duration. */
export type Measure = (port: number, seconds: number) => Promise<Sample>;

/** Runs a client to completion and returns its standard output. */
async function client(
  command: string,
  args: string[],
  timeoutSeconds: number,
): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command(command, {
    args,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutSeconds * 1000),
  }).output();
  const decoder = new TextDecoder();
  if (!success) {
    throw new Error(`${command} failed: ${decoder.decode(stderr).trim()}`);
  }
  return decoder.decode(stdout);
}

const TIME_UNITS: Record<string, number> = { us: 1e-3, ms: 1, s: 1e3, m: 6e4 };

/** `wrk -t1`: req/s and p99 over keep-alive connections. */
export function wrk(
  connections: number,
  path = "/",
  headers: string[] = [],
  script?: string,
): Measure {
  return async (port, seconds) => {
    const out = await client("wrk", [
      "-t1",
      `-c${connections}`,
      `-d${seconds}s`,
      "--latency",
      ...headers.flatMap((header) => ["-H", header]),
      ...(script ? ["-s", script] : []),
      `http://127.0.0.1:${port}${path}`,
    ], seconds + 60);
    const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(out);
    const requests = /^\s*(\d+) requests in/m.exec(out);
    const p99 = /^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$/m.exec(out);
    if (rps === null || p99 === null) throw new Error(`wrk said:\n${out}`);
    const problems = [
      /Non-2xx or 3xx responses: \d+/.exec(out)?.[0],
      /Socket errors: .*/.exec(out)?.[0],
      /\b0 requests in/.exec(out)?.[0],
    ].filter((found) => found !== undefined);
    return {
      value: Number(rps[1]),
      p99Ms: Number(p99[1]) * TIME_UNITS[p99[2]],
      work: requests ? Number(requests[1]) : undefined,
      problem: problems.join("; ") || undefined,
    };
  };
}

/** Reads curl's `-w` line: status, bytes moved, seconds; checks the size. */
function transfer(out: string, bytes: number): Sample {
  const [code, moved, seconds] = out.trim().split("\n").at(-1)!.split(" ");
  const problem = code !== "200"
    ? `HTTP ${code}`
    : Number(moved) !== bytes
    ? `${moved} bytes instead of ${bytes}`
    : undefined;
  return { value: bytes / MiB / Number(seconds), problem, work: bytes / MiB };
}

/**
 * Transfers again and again for the round's duration (once at least), like a
 * wrk run: one transfer alone swings by 2× on a shared machine. The sample is
 * the throughput over all of them (the harmonic mean of equal-sized ones).
 */
function repeated(once: Measure): Measure {
  return async (port, seconds) => {
    const values: number[] = [];
    let work = 0;
    const end = performance.now() + seconds * 1000;
    do {
      const sample = await once(port, seconds);
      if (sample.problem) return sample;
      values.push(sample.value);
      work += sample.work ?? 0;
    } while (performance.now() < end);
    return {
      value: values.length / values.reduce((t, v) => t + 1 / v, 0),
      work,
    };
  };
}

function download(bytes: number): Measure {
  return async (port) =>
    transfer(
      await client("curl", [
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{size_download} %{time_total}",
        `http://127.0.0.1:${port}/`,
      ], 600),
      bytes,
    );
}

function upload(bytes: number, file: string): Measure {
  return async (port) => {
    const out = await client("curl", [
      "-sS",
      "-X",
      "POST",
      "-T",
      file,
      // Both twins would answer 100-continue alike; skip the round trip.
      "-H",
      "Expect:",
      "-H",
      "Content-Type: application/octet-stream",
      "-w",
      "\n%{http_code} %{size_upload} %{time_total}",
      `http://127.0.0.1:${port}/`,
    ], 600);
    const sample = transfer(out, bytes);
    // The servers answer how many bytes they read.
    const received = Number(out.split("\n")[0]);
    if (received !== bytes) {
      sample.problem ??= `the server read ${received} of ${bytes} bytes`;
    }
    return sample;
  };
}

// ---------------------------------------------------------------------------
// One scenario: fresh servers, warm-up, interleaved rounds
// ---------------------------------------------------------------------------

/** One server's figures in one scenario. */
interface Row {
  scenario: string;
  server: string;
  unit: "req/s" | "MiB/s";
  median: number;
  rounds: number[];
  /** Median over raw's median, and the range of the per-round ratios. */
  ratio: number;
  roundRatios: [number, number];
  p99Ms?: number;
  /** Median server CPU per request (µs) or per MiB (ms), and raw's over it. */
  cpuPerUnit?: number;
  cpuRatio?: number;
  peakRssMiB?: number;
  problems: string[];
  /** The issue's goal for this row, and whether it was met. */
  target?: { goal: string; met: boolean };
}

export function median(values: number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function runScenario(
  name: string,
  scenario: HttpScenario,
  options: Options,
): Promise<Row[]> {
  const bytes = (scenario.bytes ?? 0) / (options.quick ? 16 : 1);
  console.log(`\n## ${name}: ${scenario.title}`);
  const contestants = [GATEWAY, RAW, ...options.baselines.map(baseline)];
  if (scenario.cli) contestants.push(CLI);
  if (name === "lesson") contestants.push(RAW1, READING, HOST);
  if (name === "lessonAsync") contestants.push(HOST);
  if (name === "lesson" && options.peers) contestants.push(...PEERS);
  const servers: Server[] = [];
  let file: string | undefined;
  try {
    for (const contestant of contestants) {
      const server = await start(contestant, name, bytes);
      if (typeof server !== "string") servers.push(server);
      else if (contestant.install) {
        console.log(`  ${contestant.name}: skipped, ${server}`);
      } else throw new Error(`${contestant.name}: ${server}`);
    }
    let measure: Measure;
    if (scenario.drive === "wrk") {
      measure = wrk(
        scenario.connections ?? options.connections,
        scenario.path,
        scenario.headers,
        scenario.script,
      );
    } else if (scenario.drive === "download") {
      measure = repeated(download(bytes));
    } else {
      file = await Deno.makeTempFile({ prefix: "wsgi-bench-upload-" });
      // A sparse file: zeros that cost neither disk nor page cache.
      await Deno.truncate(file, bytes);
      measure = repeated(upload(bytes, file));
    }

    for (const server of servers) await measure(server.port, options.warmup);
    const samples = new Map(servers.map((server) => [server, [] as Sample[]]));
    for (let round = 0; round < options.rounds; round++) {
      // Rotate who goes first, so no server always follows the same one.
      const shift = round % servers.length;
      const order = [...servers.slice(shift), ...servers.slice(0, shift)];
      const line: string[] = [];
      for (const server of order) {
        const before = cpuSeconds(server.child.pid);
        const sample = await measure(server.port, options.duration);
        sample.cpu = cpuSeconds(server.child.pid) - before;
        samples.get(server)!.push(sample);
        line.push(`${server.contestant.name} ${format(sample.value)}`);
      }
      console.log(`  round ${round + 1}: ${line.join(", ")}`);
    }
    return tabulate(name, scenario, servers, samples);
  } finally {
    await Promise.all(servers.map(stop));
    if (file) await Deno.remove(file);
  }
}

function tabulate(
  name: string,
  scenario: HttpScenario,
  servers: Server[],
  samples: Map<Server, Sample[]>,
): Row[] {
  const rawValues = samples.get(servers[1])!.map((s) => s.value);
  // µs per request, or ms per MiB.
  const scale = scenario.drive === "wrk" ? 1e6 : 1e3;
  const cpuPerUnit = (server: Server) => {
    const per = samples.get(server)!.flatMap((s) =>
      s.cpu !== undefined && s.work ? [s.cpu / s.work * scale] : []
    );
    return per.length ? median(per) : undefined;
  };
  const rawCpu = cpuPerUnit(servers[1]);
  const rows = servers.map((server): Row => {
    const mine = samples.get(server)!;
    const cpu = cpuPerUnit(server);
    const values = mine.map((s) => s.value);
    const perRound = values.map((value, i) => value / rawValues[i]);
    const p99s = mine.flatMap((s) => s.p99Ms ?? []);
    return {
      scenario: name,
      server: server.contestant.name,
      unit: scenario.drive === "wrk" ? "req/s" : "MiB/s",
      median: median(values),
      rounds: values,
      ratio: median(values) / median(rawValues),
      roundRatios: [Math.min(...perRound), Math.max(...perRound)],
      p99Ms: p99s.length ? median(p99s) : undefined,
      cpuPerUnit: cpu,
      cpuRatio: cpu && rawCpu ? rawCpu / cpu : undefined,
      // Read while the server still runs: its /proc entry goes with it.
      peakRssMiB: peakRssMiB(server.child.pid),
      problems: [...new Set(mine.flatMap((s) => s.problem ?? []))],
    };
  });
  const [gateway] = rows;
  const rssOk = scenario.maxRssMiB === undefined ||
    (gateway.peakRssMiB ?? Infinity) < scenario.maxRssMiB;
  gateway.target = {
    goal: `≥ ${scenario.target}× raw` +
      (scenario.maxRssMiB ? `, RSS < ${scenario.maxRssMiB} MiB` : ""),
    met: gateway.ratio >= scenario.target && rssOk,
  };
  const gunicorn = rows.find((row) => row.server.startsWith("gunicorn"));
  if (gunicorn) {
    const times = gateway.median / gunicorn.median;
    gunicorn.target = {
      goal: `gateway ÷ gunicorn = ${times.toFixed(1)}× (≥ 10×)`,
      met: times >= 10,
    };
  }
  return rows;
}

// ---------------------------------------------------------------------------
// Micro-benchmarks (deno bench), for the table in bench/README.md
// ---------------------------------------------------------------------------

interface MicroRow {
  group: string;
  rawNs: number;
  gatewayNs: number;
}

async function runMicro(): Promise<MicroRow[]> {
  console.log("\n## micro-benchmarks: deno bench bench/micro_bench.ts");
  const out = await client(deno, [
    "bench",
    "--json",
    "bench/micro_bench.ts",
  ], 900);
  // deno bench --json: { benches: [{ group, name, baseline, results: [{ ok: { avg } }] }] }
  const { benches } = JSON.parse(out) as {
    benches: {
      group: string;
      baseline: boolean;
      results: { ok?: { avg: number } }[];
    }[];
  };
  const groups = new Map<string, MicroRow>();
  for (const bench of benches) {
    const row = groups.get(bench.group) ??
      { group: bench.group, rawNs: NaN, gatewayNs: NaN };
    row[bench.baseline ? "rawNs" : "gatewayNs"] = bench.results[0].ok?.avg ??
      NaN;
    groups.set(bench.group, row);
  }
  return [...groups.values()];
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

function format(value: number): string {
  return value >= 100
    ? Math.round(value).toLocaleString("en-US")
    : value.toFixed(1);
}

async function machine(): Promise<Record<string, string>> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const wrkVersion = await new Deno.Command("wrk", { args: ["-v"] }).output();
  return {
    date: new Date().toISOString().slice(0, 10),
    cpu: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? "unknown CPU",
    nproc: String(navigator.hardwareConcurrency),
    os: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    wrk: new TextDecoder().decode(wrkVersion.stdout).split(" ")[1] ?? "?",
    loadavg: (await Deno.readTextFile("/proc/loadavg")).split(" ")
      .slice(0, 3).join(" "),
    command: ["deno run -A bench/http.ts", ...Deno.args].join(" "),
  };
}

function markdown(
  info: Record<string, string>,
  options: Options,
  rows: Row[],
  micro: MicroRow[],
): string {
  const load = options.quick
    ? " (--quick: a check of the suite, not a result)"
    : "";
  const lines = [
    `Measured ${info.date} on ${info.cpu}, ${info.nproc} cores, ${info.os}, ` +
    `Deno ${info.deno}, wrk ${info.wrk}; load average at start ${info.loadavg}${load}.`,
    `Command: \`${info.command}\`. Every server in its own process, fresh for ` +
    `each scenario; ${options.rounds} rounds, servers interleaved, after a warm-up; ` +
    `wrk -t1 -c${options.connections} -d${options.duration}s for pages (-c${HTTP_SCENARIOS.tiny10k.connections} for 10,000 chunks), curl ` +
    `transfers repeated for ${options.duration}s per round for the 1 GiB body and the upload. Medians; × raw is the ` +
    `ratio of medians (in brackets, the range of the per-round ratios). ` +
    `Server CPU is what the server process (and its children) spent per request ` +
    `(µs) or per MiB (ms), from /proc, median of the rounds; in brackets, raw's ` +
    `over this one: work done per CPU-second relative to raw, which the load ` +
    `generator sharing the cores blurs far less than the throughput.`,
    "",
    "| Scenario | Server | Median | × raw | Server CPU (raw ÷ this) | p99 | Peak RSS | Target |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  let previous = "";
  for (const row of rows) {
    const ratio = row.server === RAW.name
      ? "1"
      : `${row.ratio.toFixed(2)} (${
        row.roundRatios.map((r) => r.toFixed(2)).join("–")
      })`;
    lines.push(
      `| ${
        row.scenario === previous ? "" : HTTP_SCENARIOS[row.scenario].title
      } | ${row.server} | ` +
        `${format(row.median)} ${row.unit} | ${ratio} | ` +
        `${
          row.cpuPerUnit === undefined
            ? "—"
            : `${row.cpuPerUnit.toFixed(row.unit === "req/s" ? 1 : 2)} ${
              row.unit === "req/s" ? "µs" : "ms/MiB"
            } (${row.cpuRatio?.toFixed(2) ?? "?"})`
        } | ` +
        `${row.p99Ms === undefined ? "—" : `${row.p99Ms.toFixed(2)} ms`} | ` +
        `${
          row.peakRssMiB === undefined
            ? "?"
            : `${row.peakRssMiB.toFixed(0)} MiB`
        } | ` +
        `${
          row.target
            ? `${row.target.goal}: ${row.target.met ? "met" : "**missed**"}`
            : ""
        }` +
        `${row.problems.length ? ` ⚠ ${row.problems.join("; ")}` : ""} |`,
    );
    previous = row.scenario;
  }
  if (micro.length) {
    lines.push(
      "",
      "In-process, no socket (`deno bench bench/micro_bench.ts`), mean time per request:",
      "",
      "| Request | raw handler | toFetchHandler(app) | gateway cost |",
      "| --- | ---: | ---: | ---: |",
      ...micro.map(({ group, rawNs, gatewayNs }) =>
        `| ${group} | ${format(rawNs)} ns | ${format(gatewayNs)} ns | ` +
        `${format(gatewayNs - rawNs)} ns (${(gatewayNs / rawNs).toFixed(2)}×) |`
      ),
    );
  }
  return lines.join("\n");
}

async function writeReadme(table: string): Promise<void> {
  const readme = await Deno.readTextFile(README);
  const start = readme.indexOf(MARKERS[0]);
  const end = readme.indexOf(MARKERS[1]);
  if (start === -1 || end < start) {
    console.log(
      `\nbench/README.md has no ${
        MARKERS.join(" … ")
      } markers: the table above was not written.`,
    );
    return;
  }
  await Deno.writeTextFile(
    README,
    `${readme.slice(0, start + MARKERS[0].length)}\n\n${table}\n\n${
      readme.slice(end)
    }`,
  );
  // As `deno fmt` would lay the table out, so CI's `fmt --check` stays green.
  await client(deno, ["fmt", "--quiet", README], 60);
  console.log(
    `\nbench/README.md: results table rewritten between the markers.`,
  );
}

// ---------------------------------------------------------------------------

function parseOptions(): Options {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rounds: { type: "string", default: "5" },
      duration: { type: "string", default: "5" },
      connections: { type: "string", default: "50" },
      warmup: { type: "string", default: "2" },
      scenario: { type: "string", multiple: true },
      "no-peers": { type: "boolean", default: false },
      micro: { type: "boolean", default: false },
      "write-readme": { type: "boolean", default: false },
      quick: { type: "boolean", default: false },
      baseline: { type: "string", multiple: true },
    },
  });
  const quick = values.quick;
  const options: Options = {
    rounds: quick ? 2 : Number(values.rounds),
    duration: quick ? 1 : Number(values.duration),
    connections: Number(values.connections),
    warmup: quick ? 1 : Number(values.warmup),
    scenarios: values.scenario ?? Object.keys(HTTP_SCENARIOS),
    peers: !values["no-peers"],
    micro: values.micro || values["write-readme"],
    writeReadme: values["write-readme"],
    quick,
    baselines: values.baseline ?? [],
  };
  const unknown = options.scenarios.filter((s) => !(s in HTTP_SCENARIOS));
  if (unknown.length) {
    throw new Error(
      `unknown scenario ${unknown.join(", ")}; known: ${
        Object.keys(HTTP_SCENARIOS).join(", ")
      }`,
    );
  }
  return options;
}

/** The load generators; without them there is no HTTP level. */
async function checkTools(): Promise<boolean> {
  const missing: string[] = [];
  for (const tool of ["wrk", "curl"]) {
    try {
      await new Deno.Command(tool, { args: ["--version"] }).output();
    } catch {
      missing.push(tool);
    }
  }
  if (missing.length === 0) return true;
  console.error(
    `The HTTP benchmarks need ${missing.join(" and ")} on the PATH: ` +
      `apt-get install ${missing.join(" ")} (Debian, Ubuntu), ` +
      `brew install ${missing.join(" ")} (macOS).`,
  );
  return false;
}

if (import.meta.main) {
  const options = parseOptions();
  if (!await checkTools()) Deno.exit(1);
  const info = await machine();
  console.log(
    `${info.cpu}, ${info.nproc} cores, Deno ${info.deno}, load ${info.loadavg}`,
  );
  const rows: Row[] = [];
  for (const name of options.scenarios) {
    rows.push(...await runScenario(name, HTTP_SCENARIOS[name], options));
  }
  const micro = options.micro ? await runMicro() : [];
  const table = markdown(info, options, rows, micro);
  console.log(`\n${table}`);
  if (options.writeReadme) {
    await writeReadme(table);
    await Deno.writeTextFile(
      RESULTS,
      JSON.stringify({ ...info, options, rows, micro }, null, 2) + "\n",
    );
    console.log(`bench/results.json written.`);
  }
}
