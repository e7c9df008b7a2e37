/**
 * The server's one clock (gateway/clock.ts): every entry is looked at on
 * each tick until it says it is done or is deleted, whatever the others do
 * during the same look, and the clock stops once it holds nothing.
 */
import assert from "node:assert/strict";
import { Clock, type Due } from "../gateway/clock.ts";

/** What the entries saw, look by look (a look passes one `now` to all). */
class Looks {
  #looks = new Map<number, string[]>();

  /** An entry that records its looks and does what `act` says on each. */
  entry(name: string, act?: () => boolean): Due {
    return {
      clockIndex: -1,
      tick: (now) => {
        const names = this.#looks.get(now) ?? [];
        this.#looks.set(now, [...names, name]);
        return act?.() ?? true;
      },
    };
  }

  /** Waits for the next look, and gives the names it looked at, sorted. */
  async next(): Promise<string[]> {
    const seen = this.#looks.size;
    while (this.#looks.size === seen) {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    return [...this.#looks.values()][seen].toSorted();
  }
}

Deno.test("clock: each entry is looked at once a look, until it is done or deleted", async () => {
  const clock = new Clock([0.05]);
  assert.equal(clock.tick, 10);
  const looks = new Looks();
  let left = 2;
  const a = looks.entry("a");
  const b = looks.entry("b", () => --left > 0);
  const c = looks.entry("c");
  clock.add(a);
  clock.add(b);
  clock.add(c);
  clock.add(a); // twice is once
  assert.deepEqual(await looks.next(), ["a", "b", "c"]);
  clock.delete(c);
  clock.delete(c); // twice is once
  // b says it is done at this look: dropped.
  assert.deepEqual(await looks.next(), ["a", "b"]);
  assert.deepEqual(await looks.next(), ["a"]);
  assert.equal(b.clockIndex, -1);
  assert.equal(c.clockIndex, -1);
  clock.delete(a);
});

Deno.test("clock: entries deleted or added during a look are never skipped", async () => {
  const clock = new Clock([0.05]);
  const looks = new Looks();
  const late = looks.entry("late");
  const entries = ["e0", "e1", "e2", "e3"].map((name) => looks.entry(name));
  // The last entry's look deletes two others, adds one, and is done.
  entries.push(looks.entry("e4", () => {
    clock.delete(entries[1]);
    clock.delete(entries[3]);
    clock.add(late);
    return false;
  }));
  for (const due of entries) clock.add(due);
  // Each entry still there is looked at; the one added may be, or not.
  const first = (await looks.next()).filter((name) => name !== "late");
  assert.deepEqual([...new Set(first)], ["e0", "e2", "e4"]);
  assert.deepEqual(await looks.next(), ["e0", "e2", "late"]);
  for (const due of [entries[0], entries[2], late]) clock.delete(due);
});
