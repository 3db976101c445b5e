import { env, runInDurableObject } from "cloudflare:test";
import { DIRECTORY_NAME } from "../../durable-objects/directory/directory.ts";

/**
 * A small, seeded fuzzer: valid messages mutated the ways that have broken parsers before (missing and retyped
 * fields, huge and odd strings, deep nesting, truncated JSON, stray bytes). The same seed gives the same cases, so
 * a failure can be replayed; changing FUZZ_SEED explores other cases.
 */

/** mulberry32: a tiny deterministic generator, plenty for choosing mutations. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const FUZZ_SEED = 20261123;

/** Stands in for an odd value until the message is text. */
const ODD = "\u0001odd\u0001";

/** Every plain object in a JSON value, the value itself first. */
function objectsIn(value: Record<string, unknown>): Record<string, unknown>[] {
  const found: Record<string, unknown>[] = [];
  const stack: unknown[] = [value];
  while (stack.length) {
    const v = stack.pop();
    if (v && typeof v === "object") {
      if (!Array.isArray(v)) found.push(v as Record<string, unknown>);
      stack.push(...Object.values(v));
    }
  }
  return found;
}

export class Mutator {
  constructor(readonly random: () => number) {}

  int(n: number): number {
    return Math.floor(this.random() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** Nesting far past any stack a recursive walk can afford. */
  deep(levels = 2000 + this.int(8000)): string {
    return this.random() < 0.5 ? "[".repeat(levels) + "]".repeat(levels) : '{"a":'.repeat(levels) + "1" + "}".repeat(levels);
  }

  /** A value of a random odd kind, as JSON text. */
  oddValue(): string {
    const kinds: (() => string)[] = [
      () => "null",
      () => "true",
      () => String(this.int(2 ** 31) - 2 ** 30),
      () => "1e308",
      () => "-0",
      () => "9007199254740993",
      () => JSON.stringify("x".repeat(this.pick([0, 1, 1000, 70_000, 600_000]))),
      () => JSON.stringify("\u0000\uffff\u202e" + "é".repeat(50)),
      () => '"\\ud800"',
      () => "[]",
      () => "{}",
      () => JSON.stringify(Array.from({ length: this.pick([1, 100, 5000]) }, (_, i) => i)),
      () => '{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}',
      () => this.deep(),
      () => this.deep(),
    ];
    return this.pick(kinds)();
  }

  /** `message` (a JSON object) mutated, as the text that goes on the wire (built as text: deep values stay text). */
  mutate(message: Record<string, unknown>): string {
    const obj: Record<string, unknown> = structuredClone(message);
    for (let n = this.int(3); n > 0; n--) {
      const keys = Object.keys(obj);
      if (keys.length) delete obj[this.pick(keys)];
    }
    const text = JSON.stringify(obj);
    switch (this.int(7)) {
      case 0:
      case 1:
      case 6: {
        // Any object in the message, nested ones included (params, target, metrics), gets a field set to an odd
        // value, written in as text so that a deep value never goes through a recursive JSON.stringify here.
        const holders = objectsIn(obj);
        const holder = holders.length > 1 && this.random() < 0.7 ? this.pick(holders.slice(1)) : holders[0]!;
        const keys = Object.keys(holder);
        const key = keys.length && this.random() < 0.8 ? this.pick(keys) : `extra${this.int(5)}`;
        holder[key] = ODD;
        return JSON.stringify(obj).replace(JSON.stringify(ODD), () => (this.random() < 0.3 ? this.deep() : this.oddValue()));
      }
      case 2:
        return text.slice(0, this.int(text.length));
      case 3: {
        const at = this.int(text.length);
        return text.slice(0, at) + this.pick(["\u0000", "}", "]", ",", '"', "\\", "\ud800", "\n"]) + text.slice(at);
      }
      case 4:
        return this.pick([this.deep(), "", " ", "null", "[]", '"text"', "0", `[${text}]`]);
      default:
        return text;
    }
  }
}

/**
 * Everything an object's SQLite storage holds, as one string: equal strings mean nothing changed. `last_used_at`
 * is left out: a session or key records that it was used (at most once a minute) whatever the request asked.
 */
function dump(sql: SqlStorage): string {
  const tables = sql
    .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY name")
    .toArray()
    .map((t) => t.name);
  const rows = (t: string) => sql.exec(`SELECT * FROM "${t}" ORDER BY 1`).toArray().map((r) => ({ ...r, last_used_at: null }));
  return JSON.stringify(tables.map((t) => [t, rows(t)]));
}

export function siteState(site: string): Promise<string> {
  const stub = env.SITE_HUB.get(env.SITE_HUB.idFromName(site));
  return runInDurableObject(stub, (_hub, state) => dump(state.storage.sql));
}

export function directoryState(): Promise<string> {
  const stub = env.DIRECTORY.get(env.DIRECTORY.idFromName(DIRECTORY_NAME));
  return runInDurableObject(stub, (_dir, state) => dump(state.storage.sql));
}

export function siteStorageBytes(site: string): Promise<number> {
  const stub = env.SITE_HUB.get(env.SITE_HUB.idFromName(site));
  return runInDurableObject(stub, (_hub, state) => state.storage.sql.databaseSize);
}
