/**
 * Python on the gateway against Python's own servers, over loopback: the
 * lesson's page (bench/peers/holamundo.py, the same file for everyone) on
 * the gateway through Pyodide, with two interpreters either way (`server.ts
 * -w 2`: two processes of one; `--threads 2`: one process of two) and with
 * one (one process: its main thread and one interpreter's thread), under
 * gunicorn (2 sync workers) and under wsgiref; and a small Flask app
 * (bench/peers/flask_app.py) and a Flask view with a database
 * (bench/peers/flask_sqlite.py: our sqlite3 against CPython's) on the
 * gateway and under gunicorn. Every
 * server starts once; then rounds of `wrk -t1`, one server after the other
 * in each round, and the medians; at the end, each server's peak RSS (its
 * process tree's VmHWM, summed).
 *
 *     deno run -A bench/python.ts [--rounds 5] [--duration 5] [--connections 10] [--write]
 *
 * `--write` puts the table in bench/python.md, keeping what the file says
 * below it (from its first `## ` heading on). Needs wrk, gunicorn and
 * python3-flask (`apt-get install -y wrk gunicorn python3-flask`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type Contestant, median, start, stop, wrk } from "./http.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const DIST_PACKAGES = "/usr/lib/python3/dist-packages";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "5" },
    duration: { type: "string", default: "5" },
    connections: { type: "string", default: "10" },
    write: { type: "boolean", default: false },
  },
});
const rounds = Number(values.rounds);
const duration = Number(values.duration);
const connections = Number(values.connections);

/** server.ts itself, with `-w 2` or `--threads 2`: two interpreters either way. */
function gateway(flags: string[], spec: string, ...path: string[]) {
  return {
    command: Deno.execPath(),
    args: (port: number) => [
      "run",
      "-A",
      "server.ts",
      "--no-access-log",
      "-b",
      `127.0.0.1:${port}`,
      ...flags,
      ...path.flatMap((dir) => ["--pythonpath", dir]),
      spec,
    ],
    stop: "SIGTERM" as const,
  };
}

function gunicorn(app: string) {
  return {
    command: "gunicorn",
    args: (port: number) => [
      "-c",
      "bench/peers/gunicorn.conf.py",
      "-b",
      `127.0.0.1:${port}`,
      app,
    ],
    install: "apt-get install -y gunicorn",
  };
}

/** Each app's servers; the first is the one the ratios are for. */
const GROUPS: { app: string; contestants: Contestant[] }[] = [
  {
    app: "the lesson's page (holamundo.py)",
    contestants: [
      {
        name: "Deno gateway + Pyodide, -w 2",
        ...gateway(["-w", "2"], "bench/peers/holamundo.py"),
      },
      {
        name: "Deno gateway + Pyodide, --threads 2",
        ...gateway(["--threads", "2"], "bench/peers/holamundo.py"),
      },
      {
        name: "Deno gateway + Pyodide, one interpreter",
        ...gateway([], "bench/peers/holamundo.py"),
      },
      {
        name: "gunicorn, 2 sync workers",
        ...gunicorn("holamundo:application"),
      },
      {
        name: "wsgiref simple_server",
        command: "python3",
        args: (port) => ["bench/peers/holamundo.py", String(port)],
      },
    ],
  },
  {
    app: "a small Flask app (flask_app.py)",
    contestants: [
      {
        name: "Deno gateway + Pyodide, -w 2",
        ...gateway(["-w", "2"], "bench/peers/flask_app.py:app", DIST_PACKAGES),
      },
      {
        name: "Deno gateway + Pyodide, --threads 2",
        ...gateway(
          ["--threads", "2"],
          "bench/peers/flask_app.py:app",
          DIST_PACKAGES,
        ),
      },
      {
        name: "Deno gateway + Pyodide, one interpreter",
        ...gateway([], "bench/peers/flask_app.py:app", DIST_PACKAGES),
      },
      { name: "gunicorn, 2 sync workers", ...gunicorn("flask_app:app") },
    ],
  },
  {
    app:
      "a Flask view with one indexed SELECT and one INSERT (flask_sqlite.py)",
    contestants: [
      {
        name: "Deno gateway + Pyodide, -w 2",
        ...gateway(
          ["-w", "2"],
          "bench/peers/flask_sqlite.py:app",
          DIST_PACKAGES,
        ),
      },
      { name: "gunicorn, 2 sync workers", ...gunicorn("flask_sqlite:app") },
    ],
  },
];

/** The peak RSS of a process and its descendants (VmHWM, summed), in MiB. */
function peakRss(pid: number): number {
  const children = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...children.get(ppid) ?? [], Number(entry.name)]);
    } catch {
      // Gone meanwhile.
    }
  }
  let kib = 0;
  for (const stack = [pid]; stack.length > 0;) {
    const next = stack.pop()!;
    try {
      const status = Deno.readTextFileSync(`/proc/${next}/status`);
      kib += Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
    } catch {
      // Gone meanwhile.
    }
    stack.push(...children.get(next) ?? []);
  }
  return kib / 1024;
}

const servers = [];
try {
  for (const { contestants } of GROUPS) {
    for (const contestant of contestants) {
      const server = await start(contestant, "python", 0);
      if (typeof server === "string") {
        throw new Error(`${contestant.name}: ${server}`);
      }
      servers.push(server);
    }
  }
  const measure = wrk(connections);
  for (const server of servers) await measure(server.port, 2); // warm-up
  const samples = new Map(servers.map((s) => [s, [] as number[]]));
  const p99s = new Map(servers.map((s) => [s, [] as number[]]));
  for (let round = 1; round <= rounds; round++) {
    for (const server of servers) {
      const sample = await measure(server.port, duration);
      if (sample.problem) {
        throw new Error(`${server.contestant.name}: ${sample.problem}`);
      }
      samples.get(server)!.push(sample.value);
      p99s.get(server)!.push(sample.p99Ms!);
    }
    console.error(`round ${round}/${rounds} done`);
  }
  const lines = [
    `\`wrk -t1 -c${connections} -d${duration}s\` over loopback, ${rounds} interleaved rounds after a 2 s warm-up, medians; ` +
    `load average at the end: ${
      (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(
        " ",
      )
    } on ${navigator.hardwareConcurrency} cores.`,
    "",
    "| app | server | req/s | p99 ms | first row ÷ this | peak RSS MiB (process tree) |",
    "| --- | --- | ---: | ---: | ---: | ---: |",
  ];
  let at = 0;
  for (const { app, contestants } of GROUPS) {
    const group = servers.slice(at, at += contestants.length);
    const ours = median(samples.get(group[0])!);
    for (const server of group) {
      const rps = median(samples.get(server)!);
      lines.push(
        `| ${app} | ${server.contestant.name} | ${rps.toFixed(0)} | ${
          median(p99s.get(server)!).toFixed(2)
        } | ${(ours / rps).toFixed(2)} | ${
          peakRss(server.child.pid).toFixed(0)
        } |`,
      );
    }
  }
  const table = lines.join("\n");
  console.log(table);
  if (values.write) {
    const command =
      `deno run -A bench/python.ts --rounds ${rounds} --duration ${duration} --connections ${connections}`;
    // What the file says below the table (its first `## ` section on) stays.
    const file = `${ROOT}bench/python.md`;
    const old = await Deno.readTextFile(file).catch(() => "");
    const prose = old.indexOf("\n## ");
    await Deno.writeTextFile(
      file,
      `# Python on the gateway: numbers\n\nMeasured with \`${command}\` (${
        new Date().toISOString().slice(0, 10)
      }).\n\n${table}\n${prose === -1 ? "" : old.slice(prose)}`,
    );
  }
} finally {
  for (const server of servers) await stop(server);
}
