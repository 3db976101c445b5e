import { describe, expect, it } from "vitest";
import { gpuProbe, parseNvidiaSmi, type RunCommand } from "../../agent/metrics/nvidia-smi.ts";
import { GpuMetrics } from "../../protocol/metrics.ts";

const TWO_GPUS = `NVIDIA GeForce RTX 3090, 87, 20123, 24576, 71
NVIDIA A100-SXM4-80GB, 0, 3, 81920, 34
`;

describe("parseNvidiaSmi", () => {
  it("reads one GPU per line of csv,noheader,nounits output", () => {
    expect(parseNvidiaSmi(TWO_GPUS)).toEqual([
      { name: "NVIDIA GeForce RTX 3090", utilizationPercent: 87, memoryUsedMb: 20123, memoryTotalMb: 24576, temperatureC: 71 },
      { name: "NVIDIA A100-SXM4-80GB", utilizationPercent: 0, memoryUsedMb: 3, memoryTotalMb: 81920, temperatureC: 34 },
    ]);
  });

  it("reads unreported fields as 0 and leaves out an unreported temperature", () => {
    const gpus = parseNvidiaSmi("Tesla K80, [N/A], 10, 11441, [Not Supported]\r\n");
    expect(gpus).toEqual([{ name: "Tesla K80", utilizationPercent: 0, memoryUsedMb: 10, memoryTotalMb: 11441 }]);
  });

  it("keeps a comma inside the product name", () => {
    expect(parseNvidiaSmi("Quadro RTX 8000, Rev B, 5, 100, 48601, 40")[0]).toMatchObject({
      name: "Quadro RTX 8000, Rev B",
      utilizationPercent: 5,
      memoryUsedMb: 100,
    });
  });

  it("skips blank and malformed lines and returns nothing for empty output", () => {
    expect(parseNvidiaSmi("")).toEqual([]);
    expect(parseNvidiaSmi("\nNo devices were found\n")).toEqual([]);
  });

  it("produces values the Metrics schema accepts, clamping utilization into 0-100", () => {
    const gpus = parseNvidiaSmi("Odd GPU, 140, -1, 100, -5");
    expect(gpus[0]).toMatchObject({ utilizationPercent: 100, memoryUsedMb: 0, temperatureC: -5 });
    for (const gpu of [...gpus, ...parseNvidiaSmi(TWO_GPUS)]) expect(() => GpuMetrics.parse(gpu)).not.toThrow();
  });
});

describe("gpuProbe", () => {
  it("runs the documented nvidia-smi query", async () => {
    const calls: [string, readonly string[]][] = [];
    const probe = gpuProbe(async (file, args) => {
      calls.push([file, args]);
      return TWO_GPUS;
    });
    expect(await probe()).toHaveLength(2);
    expect(calls).toEqual([
      [
        "nvidia-smi",
        ["--query-gpu=name,utilization.gpu,memory.used,memory.total,temperature.gpu", "--format=csv,noheader,nounits"],
      ],
    ]);
  });

  it("remembers that nvidia-smi is not installed and stops running it", async () => {
    let runs = 0;
    const missing: RunCommand = async () => {
      runs += 1;
      throw Object.assign(new Error("spawn nvidia-smi ENOENT"), { code: "ENOENT" });
    };
    const probe = gpuProbe(missing);
    expect(await probe()).toBeUndefined();
    expect(await probe()).toBeUndefined();
    expect(runs).toBe(1);
  });

  it("tries again after any other failure", async () => {
    let runs = 0;
    const probe = gpuProbe(async () => {
      runs += 1;
      if (runs === 1) throw Object.assign(new Error("driver not loaded"), { code: 9 });
      return TWO_GPUS;
    });
    expect(await probe()).toBeUndefined();
    expect(await probe()).toHaveLength(2);
  });
});
