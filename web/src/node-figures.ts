import type { LiveNode } from "../../protocol/live-messages.ts";
import { megabytes } from "./format.ts";

/** The four gauges of a node, as percentages with a detail line; null when the node sends no live metrics. */
export interface NodeFigures {
  cpu: number | null;
  memory: number | null;
  memoryDetail: string;
  disk: number | null;
  diskDetail: string;
  gpu: number | null;
  gpuDetail: string;
}

export function figuresOf(node: LiveNode): NodeFigures {
  const m = node.status === "connected" ? node.metrics : null;
  if (!m) return { cpu: null, memory: null, memoryDetail: "", disk: null, diskDetail: "", gpu: null, gpuDetail: "" };
  const diskUsed = Math.max(0, m.diskTotalMb - m.diskFreeMb);
  const gpus = m.gpus ?? [];
  return {
    cpu: m.cpuPercent,
    memory: m.memoryTotalMb > 0 ? (m.memoryMb / m.memoryTotalMb) * 100 : null,
    memoryDetail: `${megabytes(m.memoryMb)} / ${megabytes(m.memoryTotalMb)}`,
    disk: m.diskTotalMb > 0 ? (diskUsed / m.diskTotalMb) * 100 : null,
    diskDetail: `${megabytes(diskUsed)} / ${megabytes(m.diskTotalMb)}`,
    gpu: gpus.length ? gpus.reduce((s, g) => s + g.utilizationPercent, 0) / gpus.length : null,
    gpuDetail: gpus.length ? `${gpus.length} GPU${gpus.length > 1 ? "s" : ""}` : "",
  };
}
