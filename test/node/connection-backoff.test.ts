import { describe, expect, it } from "vitest";
import { Backoff, STABLE_CONNECTION_MS } from "../../agent/connection/backoff.ts";
import { DEFAULT_RECONNECT_MS, MAX_RECONNECT_MS } from "../../protocol/limits.ts";

const delays = (backoff: Backoff, count: number) => Array.from({ length: count }, () => backoff.nextDelay());
const almostOne = () => 0.999_999;

describe("reconnect backoff", () => {
  it("doubles from reconnectMs (1 s by default) and caps at 30 s", () => {
    expect(delays(new Backoff({ random: almostOne }), 8)).toEqual([
      1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000,
    ]);
    expect(DEFAULT_RECONNECT_MS).toBe(1_000);
    expect(MAX_RECONNECT_MS).toBe(30_000);
  });

  it("starts from the configured reconnectMs", () => {
    expect(delays(new Backoff({ baseMs: 250, random: almostOne }), 4)).toEqual([250, 500, 1_000, 2_000]);
  });

  it("stays capped after very many attempts", () => {
    const backoff = new Backoff({ random: almostOne });
    expect(delays(backoff, 200).at(-1)).toBe(MAX_RECONNECT_MS);
  });

  it("spreads each delay uniformly between zero and the ceiling (full jitter)", () => {
    expect(delays(new Backoff({ random: () => 0 }), 3)).toEqual([0, 0, 0]);
    expect(delays(new Backoff({ random: () => 0.5 }), 7)).toEqual([500, 1_000, 2_000, 4_000, 8_000, 15_000, 15_000]);
    const seen = delays(new Backoff(), 500);
    for (const [attempt, delay] of seen.entries()) {
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThanOrEqual(Math.min(MAX_RECONNECT_MS, 1_000 * 2 ** attempt));
    }
    expect(new Set(seen.slice(10)).size).toBeGreaterThan(100);
  });

  it("starts over after a connection that stayed registered long enough", () => {
    const backoff = new Backoff({ random: almostOne });
    delays(backoff, 4);
    backoff.connectionEnded(STABLE_CONNECTION_MS);
    expect(delays(backoff, 2)).toEqual([1_000, 2_000]);
  });

  it("keeps growing after connections that dropped soon after registering", () => {
    const backoff = new Backoff({ random: almostOne, stableAfterMs: 5_000 });
    const seen: number[] = [];
    for (let i = 0; i < 4; i++) {
      backoff.connectionEnded(4_999);
      seen.push(backoff.nextDelay());
    }
    expect(seen).toEqual([1_000, 2_000, 4_000, 8_000]);
    backoff.connectionEnded(5_000);
    expect(backoff.nextDelay()).toBe(1_000);
  });
});
