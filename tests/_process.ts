/**
 * What the tests that run `server.ts` as a process share: a bounded wait,
 * a child's output read as lines, a command run to its exit. Imports
 * nothing, so that loading it costs nothing.
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

/**
 * Runs `program` to its exit, its input closed, within WAIT_MS (else it is
 * killed and the wait fails): its exit code, and its output as text.
 */
export async function runToEnd(
  program: string,
  options: Omit<Deno.CommandOptions, "stdin" | "stdout" | "stderr">,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(program, {
    ...options,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  try {
    const { code, stdout, stderr } = await within("the exit", output);
    const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    return { code, stdout: decode(stdout), stderr: decode(stderr) };
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await output.catch(() => {});
    throw error;
  }
}

/** How a {@linkcode ServerProcess} is started. */
export interface ServerStart {
  /** Permissions for `deno run`; network and reading by default. */
  permissions?: string[];
  /** A shell line run first, to lower a limit (`ulimit -n 64`). */
  shell?: string;
  /** The working folder; the project's by default. */
  cwd?: string | URL;
  /** Variables added to the environment it inherits. */
  env?: Record<string, string>;
}

/**
 * `server.ts` as an operator runs it, in a process of its own: its
 * "Serving … on URL" line read for the URL (`-b 127.0.0.1:0` for a free
 * port), its standard error gathered, killed when disposed.
 */
export class ServerProcess implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly stderr: Promise<string>;
  /** The URL of its first address, once it serves. */
  readonly url: Promise<string>;

  constructor(args: string[], start: ServerStart = {}) {
    const root = new URL("..", import.meta.url);
    const deno = [
      "run",
      ...(start.permissions ?? ["--allow-net", "--allow-read"]),
      new URL("server.ts", root).pathname,
      ...args,
    ];
    const shell = start.shell;
    const child = this.child = new Deno.Command(shell ? "bash" : "deno", {
      args: shell ? ["-c", `${shell}; exec deno "$@"`, "bash", ...deno] : deno,
      cwd: start.cwd ?? root,
      env: start.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = this.stderr = new Response(child.stderr).text();
    this.url = (async () => {
      let seen = "";
      const reader = child.stdout.pipeThrough(new TextDecoderStream())
        .getReader();
      for (;;) {
        const { value, done } = await within("the Serving line", reader.read());
        if (done) break;
        seen += value;
        const match = /on (https?:\/\/\S+\/)/.exec(seen);
        if (match) {
          reader.releaseLock();
          return match[1];
        }
      }
      throw new Error(`server.ts did not start:\n${await stderr}`);
    })();
  }

  /** A signal (SIGTERM by default), then the exit code and stderr. */
  async stop(
    signal: Deno.Signal = "SIGTERM",
  ): Promise<{ code: number; stderr: string }> {
    this.child.kill(signal);
    const { code } = await within("the exit", this.child.status);
    return { code, stderr: await this.stderr };
  }

  /** The child's peak resident memory, in MiB (Linux). */
  async peakMiB(): Promise<number> {
    // Deno asks for every permission to read /proc: a shell reads it.
    const { stdout } = await new Deno.Command("bash", {
      args: ["-c", `cat /proc/${this.child.pid}/status`],
    }).output();
    const status = new TextDecoder().decode(stdout);
    return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await this.child.status;
    await this.stderr;
    await this.child.stdout.cancel().catch(() => {});
  }
}
