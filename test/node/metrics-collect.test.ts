import { describe, expect, it } from "vitest";
import os from "node:os";
import { collectMetrics, createMetricsCollector } from "../../agent/metrics/collect-metrics.ts";
import { cpuPercent, cpuTimes } from "../../agent/metrics/cpu-usage.ts";
import { Metrics } from "../../protocol/metrics.ts";

const core = (user: number, sys: number, idle: number): os.CpuInfo => ({
  model: "test",
  speed: 1000,
  times: { user, nice: 0, sys, idle, irq: 0 },
});

describe("cpu usage", () => {
  it("is the busy share of the time between two samples, over every core", () => {
    const before = cpuTimes([core(100, 0, 900), core(100, 0, 900)]);
    const after = cpuTimes([core(400, 100, 1000), core(100, 0, 1600)]);
    // busy +400 of +1200 total.
    expect(cpuPercent(before, after)).toBe(33.3);
  });

  it("is the average since boot for the first sample, and 0 when no time has passed", () => {
    const sample = cpuTimes([core(250, 0, 750)]);
    expect(cpuPercent(undefined, sample)).toBe(25);
    expect(cpuPercent(sample, sample)).toBe(0);
  });
});

describe("collectMetrics", () => {
  it("returns metrics that validate against the schema, with this machine's numbers", async () => {
    const metrics = await collectMetrics(3);
    expect(Metrics.parse(metrics)).toEqual(metrics);
    expect(metrics.activeDirectives).toBe(3);
    expect(metrics.cpuCount).toBe(os.cpus().length);
    expect(metrics.memoryTotalMb).toBe(Math.round(os.totalmem() / 1024 / 1024));
    expect(metrics.memoryMb).toBeGreaterThan(0);
    expect(metrics.memoryMb).toBeLessThanOrEqual(metrics.memoryTotalMb);
    expect(metrics.diskTotalMb).toBeGreaterThan(0);
    expect(metrics.diskFreeMb).toBeLessThanOrEqual(metrics.diskTotalMb);
    expect(metrics.loadAverage).toHaveLength(3);
    expect(metrics.uptimeSeconds).toBeGreaterThan(0);
  });

  it("measures CPU between calls and includes the GPUs the probe reports", async () => {
    const gpu = { name: "Test GPU", utilizationPercent: 50, memoryUsedMb: 1, memoryTotalMb: 2 };
    const collect = createMetricsCollector(async () => [gpu]);
    await collect(0);
    const spinUntil = Date.now() + 50;
    while (Date.now() < spinUntil);
    const second = await collect(0);
    expect(second.cpuPercent).toBeGreaterThan(0);
    expect(second.gpus).toEqual([gpu]);
  });

  it("leaves gpus out when the machine has no nvidia-smi", async () => {
    const metrics = await createMetricsCollector(async () => undefined)(0);
    expect(metrics).not.toHaveProperty("gpus");
    expect(() => Metrics.parse(metrics)).not.toThrow();
  });
});
