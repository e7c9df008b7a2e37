/**
 * The JavaScript half of the Python `sqlite3` module (`python/sqlite3/`):
 * Deno's built-in SQLite (`node:sqlite`'s `DatabaseSync`, synchronous, so
 * Python calls it directly through Pyodide's bridge), shaped so that one
 * Python call is one crossing: a statement runs and hands back its first rows
 * in one call, later rows come in batches.
 *
 * Values cross as Pyodide converts them, with two repairs named in a `fix`
 * list of (row, column, kind) triples: an integral REAL (a JavaScript number
 * Pyodide would make an `int`; every INTEGER is read as a BigInt) and a BLOB
 * (a `Uint8Array`, which Python makes a `memoryview`). Parameters go the other
 * way: Python's ints become BigInts (a JavaScript number binds as REAL), but
 * for the integral floats Python names in `reals`.
 *
 * Also `pbkdf2`, for `hashlib.pbkdf2_hmac` (Pyodide's `hashlib` has none).
 *
 * @module
 */

import {
  type AggregateOptions,
  DatabaseSync,
  type DatabaseSyncOptions,
  type SQLInputValue,
  type StatementSync,
} from "node:sqlite";
import { pbkdf2Sync } from "node:crypto";

/** A Python callable, as JavaScript holds it. */
interface PyCallable {
  (...args: unknown[]): unknown;
  destroy?(): void;
}

/** Rows, the values to repair, and whether the statement is done. */
type Batch = [rows: unknown[][], fix: number[], done: boolean];

/** The last error a bridge call threw, for Python to classify. */
let lastError: unknown;

/** What Python holds for an open database. */
class Database {
  readonly db: DatabaseSync;
  /** `changes()`, `last_insert_rowid()`, `total_changes()`. */
  #counts: StatementSync | undefined;
  /** Python callables held by registered functions, freed at close. */
  readonly held: PyCallable[] = [];

  constructor(path: string, readOnly: boolean, timeout: number) {
    // readBigInts and returnArrays (Node 24's) work; Deno's types lack them.
    const options = {
      readOnly,
      readBigInts: true,
      returnArrays: true,
      // SQLite's own defaults, which CPython's sqlite3 keeps.
      enableForeignKeyConstraints: false,
      enableDoubleQuotedStringLiterals: true,
    } as DatabaseSyncOptions;
    this.db = new DatabaseSync(path, options);
    this.db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.round(timeout))}`);
  }

  counts(): [bigint, bigint, bigint] {
    this.#counts ??= this.db.prepare(
      "SELECT changes(), last_insert_rowid(), total_changes()",
    );
    return this.#counts.get() as unknown as [bigint, bigint, bigint];
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
    for (const callable of this.held.splice(0)) callable.destroy?.();
  }
}

/** Whitespace, comments and semicolons from `from` on: where SQL resumes. */
export function skipBlank(sql: string, from = 0): number {
  let i = from;
  while (i < sql.length) {
    const ch = sql[i];
    if (
      ch === " " || ch === "\t" || ch === "\n" || ch === "\r" || ch === "\f" ||
      ch === ";"
    ) {
      i++;
    } else if (ch === "-" && sql[i + 1] === "-") {
      const end = sql.indexOf("\n", i);
      i = end < 0 ? sql.length : end + 1;
    } else if (ch === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else break;
  }
  return i;
}

const NAME_CHAR = /[\p{L}\p{N}_$\u0080-\uffff]/u;

/**
 * A statement's parameters as SQLite numbers them: `names[i]` is the name of
 * parameter `i + 1` (`:a`, `@a`, `$a`, `?3`), `null` for a bare `?`.
 * DatabaseSync does not tell the count or the names; this scanner does, past
 * strings, quoted names and comments.
 */
export function parameterNames(sql: string): (string | null)[] {
  const names: (string | null)[] = [];
  const at = (index: number, name: string | null) => {
    while (names.length < index) names.push(null);
    if (name !== null) names[index - 1] ??= name;
  };
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i];
    if (ch === "'" || ch === '"' || ch === "`" || ch === "[") {
      const close = ch === "[" ? "]" : ch;
      let j = sql.indexOf(close, i + 1);
      while (j >= 0 && close !== "]" && sql[j + 1] === close) {
        j = sql.indexOf(close, j + 2);
      }
      i = j < 0 ? sql.length : j + 1;
    } else if (
      (ch === "-" && sql[i + 1] === "-") || (ch === "/" && sql[i + 1] === "*")
    ) {
      i = skipBlank(sql, i);
    } else if (ch === "?") {
      let j = i + 1;
      while (j < sql.length && sql[j] >= "0" && sql[j] <= "9") j++;
      if (j > i + 1) at(Number(sql.slice(i + 1, j)), sql.slice(i, j));
      else at(names.length + 1, null);
      i = j;
    } else if (
      (ch === ":" || ch === "@" || ch === "$") &&
      NAME_CHAR.test(sql[i + 1] ?? "")
    ) {
      let j = i + 1;
      while (j < sql.length && NAME_CHAR.test(sql[j])) j++;
      const name = sql.slice(i, j);
      if (!names.includes(name)) at(names.length + 1, name);
      i = j;
    } else if (NAME_CHAR.test(ch)) {
      let j = i + 1;
      while (j < sql.length && NAME_CHAR.test(sql[j])) j++;
      i = j;
    } else i++;
  }
  return names;
}

/** Each prepared statement's parameter names (see `parameterNames`). */
const parameters = new WeakMap<StatementSync, (string | null)[]>();

/**
 * Python's values, in SQLite's order, made DatabaseSync's arguments: ints
 * as BigInt, None as NULL; a named parameter (`:a`, `?3`) goes in the object
 * DatabaseSync takes first, as it binds positional values to bare `?` only.
 */
function bind(
  statement: StatementSync,
  params: unknown[],
  reals: number[],
): unknown[] {
  for (let i = 0; i < params.length; i++) {
    const value = params[i];
    if (value === undefined) params[i] = null;
    else if (
      typeof value === "number" && Number.isInteger(value) &&
      !reals.includes(i)
    ) params[i] = BigInt(value);
  }
  const names = parameters.get(statement) ?? [];
  if (!names.some((name) => name !== null)) return params;
  const named: Record<string, unknown> = {};
  const anonymous: unknown[] = [];
  names.forEach((name, i) => {
    if (name === null) anonymous.push(params[i]);
    else named[name] = params[i];
  });
  return [named, ...anonymous];
}

/** Where Pyodide's conversion needs repair (see the module's comment). */
function repairs(rows: unknown[][]): number[] {
  const fix: number[] = [];
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    for (let c = 0; c < row.length; c++) {
      const value = row[c];
      if (typeof value === "number") {
        if (Number.isInteger(value)) fix.push(r, c, 0);
      } else if (value instanceof Uint8Array) fix.push(r, c, 1);
    }
  }
  return fix;
}

function pull(iterator: Iterator<unknown>, size: number): Batch {
  const rows: unknown[][] = [];
  while (rows.length < size) {
    const step = iterator.next();
    if (step.done) return [rows, repairs(rows), true];
    rows.push(step.value as unknown[]);
  }
  return [rows, repairs(rows), false];
}

/** Arguments of a user-defined function, and the integral REALs among them. */
function callArgs(args: unknown[]): [number[], ...unknown[]] {
  const reals: number[] = [];
  for (let i = 0; i < args.length; i++) {
    const value = args[i];
    if (typeof value === "number" && Number.isInteger(value)) reals.push(i);
  }
  return [reals, ...args];
}

/** A user-defined function's result, as SQLite takes it. */
function result(value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value === "number" && Number.isInteger(value)) {
    return BigInt(value);
  }
  if (value !== null && typeof value === "object" && "real" in value) {
    return (value as { real: number }).real;
  }
  return value;
}

/** A Python exception in a callback becomes the error CPython reports. */
function callback<T>(message: string, call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw Object.assign(new Error(message), { cause: error, callback: true });
  }
}

/** A function whose `length` is `n`: DatabaseSync counts arguments so. */
function withLength<F extends (...args: never[]) => unknown>(f: F, n: number) {
  return Object.defineProperty(f, "length", { value: Math.max(0, n) });
}

/**
 * The calls Python makes, registered as the `_denosqlite` module. Every call
 * that throws leaves its error for `error()`: Pyodide shows Python a
 * JavaScript error's message, not its `errcode`.
 */
const calls = {
  open(path: string, readOnly: boolean, timeout: number): Database {
    return new Database(path, readOnly, timeout);
  },

  /**
   * Prepares the statement at the start of `sql`: `[statement, tail,
   * parameter names, column names, declared types]`, or `null` when `sql`
   * holds no statement (DatabaseSync must never see an empty one).
   */
  prepare(database: Database, sql: string): unknown[] | null {
    const start = skipBlank(sql);
    if (start === sql.length) return null;
    const statement = database.db.prepare(sql.slice(start));
    const source = statement.sourceSQL;
    const columns = statement.columns();
    const names = parameterNames(source);
    parameters.set(statement, names);
    return [
      statement,
      sql.slice(start + source.length),
      names,
      columns.map((column) => column.name),
      columns.map((column) => column.type),
    ];
  },

  /**
   * Runs a statement: mode 0 has no rows (`run`), mode 1 is DML with rows
   * (`all`, so it completes now), mode 2 a query read `size` rows at a time.
   * `[iterator or null, rows, fix, done, changes, lastrowid]`.
   */
  execute(
    database: Database,
    statement: StatementSync,
    params: unknown[],
    reals: number[],
    mode: number,
    size: number,
  ): unknown[] {
    const values = bind(statement, params, reals) as never[];
    if (mode === 0) {
      const { changes, lastInsertRowid } = statement.run(...values);
      return [null, [], [], true, changes, lastInsertRowid];
    }
    if (mode === 1) {
      const rows = statement.all(...values) as unknown as unknown[][];
      const [changes, lastrowid] = database.counts();
      return [null, rows, repairs(rows), true, changes, lastrowid];
    }
    const iterator = statement.iterate(...values) as Iterator<unknown>;
    const [rows, fix, done] = pull(iterator, size);
    const [, lastrowid] = database.counts();
    return [done ? null : iterator, rows, fix, done, -1, lastrowid];
  },

  /** The next rows of a query. */
  fetch(iterator: Iterator<unknown>, size: number): Batch {
    return pull(iterator, size);
  },

  /** Ends a query early, so its statement can run again. */
  stop(iterator: Iterator<unknown>): void {
    iterator.return?.();
  },

  /** `[changes, last_insert_rowid, total_changes]`. */
  counts(database: Database): [bigint, bigint, bigint] {
    return database.counts();
  },

  inTransaction(database: Database): boolean {
    return database.db.isTransaction;
  },

  close(database: Database): void {
    database.close();
  },

  /** `create_function`: `call(reals, ...args)` is the Python side. */
  createFunction(
    database: Database,
    name: string,
    narg: number,
    call: PyCallable,
    deterministic: boolean,
  ): void {
    database.held.push(call);
    const f = (...args: unknown[]) =>
      result(callback(
        "user-defined function raised exception",
        () => call(...callArgs(args)),
      ));
    database.db.function(
      name,
      { varargs: narg < 0, deterministic, useBigIntArguments: true },
      withLength(f, narg) as (...args: unknown[]) => SQLInputValue,
    );
  },

  /**
   * `create_aggregate`: `make()` is a new instance of the Python class,
   * `step(instance, reals, ...args)` and `finish(instance)` call it. A group
   * without rows gives NULL, as in CPython (no instance is made).
   */
  createAggregate(
    database: Database,
    name: string,
    narg: number,
    make: PyCallable,
    step: PyCallable,
    finish: PyCallable,
  ): void {
    database.held.push(make, step, finish);
    type State = { instance?: PyCallable };
    const options = {
      start: () => ({}),
      step: withLength((state: State, ...args: unknown[]) => {
        callback("user-defined aggregate's 'step' method raised error", () => {
          state.instance ??= make() as PyCallable;
          step(state.instance, ...callArgs(args));
        });
        return state;
      }, narg + 1),
      result: (state: State) => {
        const instance = state.instance;
        if (instance === undefined) return null;
        try {
          return result(callback(
            "user-defined aggregate's 'finalize' method raised error",
            () => finish(instance),
          ));
        } finally {
          instance.destroy?.();
        }
      },
      varargs: narg < 0,
      useBigIntArguments: true,
    };
    database.db.aggregate(
      name,
      options as unknown as AggregateOptions<SQLInputValue>,
    );
  },

  /** A REAL result that is integral, which a bare number would not say. */
  real(value: number): { real: number } {
    return { real: value };
  },

  /** `hashlib.pbkdf2_hmac`, by `node:crypto`. */
  pbkdf2(
    digest: string,
    password: Uint8Array,
    salt: Uint8Array,
    iterations: number,
    length: number,
  ): Uint8Array {
    return new Uint8Array(
      pbkdf2Sync(password, salt, iterations, length, digest),
    );
  },

  /**
   * The last error: `[name, message, errcode, errstr, code, callback]`
   * (`errcode` is SQLite's extended result code when Deno gives it).
   */
  error(): unknown[] {
    const error = lastError as Record<string, unknown> | undefined;
    if (error === null || typeof error !== "object") {
      return ["Error", String(error), null, null, null, false];
    }
    return [
      error.name ?? "Error",
      error.message ?? String(error),
      error.errcode ?? null,
      error.errstr ?? null,
      error.code ?? null,
      error.callback === true,
    ];
  },
};

/** The `_denosqlite` module: every call keeps the error it throws. */
export const bridge: typeof calls = Object.fromEntries(
  Object.entries(calls).map(([name, call]) => [
    name,
    name === "error" ? call : (...args: unknown[]) => {
      try {
        return (call as (...args: unknown[]) => unknown)(...args);
      } catch (error) {
        lastError = error;
        throw error;
      }
    },
  ]),
) as typeof calls;
