/**
 * One clock per server. Every deadline of a request (the application's
 * answer, a read that waits on the client, a client that takes nothing of a
 * stream) is a number in an entry the clock looks at on one coarse tick, as
 * nginx and HAProxy keep theirs: no timer is set or cleared per request or
 * per read, which costs a call into Deno each way.
 *
 * The tick is a tenth of the shortest timeout in force (at least 10 ms, at
 * most 1 s). Entries read the time from the clock too (its last look: a
 * `performance.now()` is a call into Deno), so a timeout fires within one
 * tick of its time, either side. The clock runs only while something is
 * registered, and it never keeps a process alive.
 *
 * @module
 */

/** Something with a deadline: looked at on every tick while registered. */
export interface Due {
  /**
   * The clock's look, at `now` (a `performance.now()`); false once nothing
   * is left to watch, and the entry is dropped.
   */
  tick(now: number): boolean;
  /**
   * Where the clock holds the entry, -1 while it does not: the clock's to
   * write. A Set would give each entry a hash, and its table shrinks and
   * grows as requests come and go: 3% of an async request, measured in
   * process.
   */
  clockIndex: number;
}

/** The shortest and longest tick, in milliseconds. */
const FINEST = 10;
const COARSEST = 1000;

/** A coarse clock that looks at its entries on each tick. */
export class Clock {
  /** Milliseconds between looks. */
  readonly tick: number;
  #entries: Due[] = [];
  #timer?: ReturnType<typeof setInterval>;
  /** The time of the last look, while the clock runs. */
  #now = 0;

  /** A clock for these timeouts, in seconds (0 is none). */
  constructor(timeouts: number[]) {
    const shortest = Math.min(
      ...timeouts.filter((seconds) => seconds > 0).map((s) => s * 1000),
    );
    this.tick = Math.max(FINEST, Math.min(COARSEST, shortest / 10));
  }

  /**
   * The time (a `performance.now()`): the last look's while the clock runs,
   * at most a tick old.
   */
  get now(): number {
    return this.#timer === undefined ? performance.now() : this.#now;
  }

  /** Watches `entry` from the next tick on. */
  add(entry: Due): void {
    if (entry.clockIndex !== -1) return;
    entry.clockIndex = this.#entries.push(entry) - 1;
    if (this.#timer === undefined) {
      this.#now = performance.now();
      const timer = this.#timer = setInterval(() => this.#look(), this.tick);
      // A server's own listener keeps its process alive; the clock does not.
      Deno.unrefTimer(timer);
    }
  }

  /** Stops watching `entry`. The clock stops at its next empty look. */
  delete(entry: Due): void {
    const index = entry.clockIndex;
    if (index === -1) return;
    entry.clockIndex = -1;
    // The last entry takes the hole: nothing moves but it.
    const last = this.#entries.pop()!;
    if (last !== entry) {
      this.#entries[index] = last;
      last.clockIndex = index;
    }
  }

  #look(): void {
    const now = this.#now = performance.now();
    const entries = this.#entries;
    // From the end: the last entry, moved into a dropped one's place, lands
    // where it is still to be looked at or was already, so none is skipped
    // (one may be looked at twice, one added meanwhile now or next time).
    for (let i = entries.length - 1; i >= 0; i--) {
      const entry = entries[i];
      if (entry !== undefined && !entry.tick(now)) this.delete(entry);
      if (i > entries.length) i = entries.length;
    }
    if (entries.length === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
