import type { FanOutTarget, NodeView } from "../../protocol/api.ts";
import { fail, ok, type HubResult } from "../shared/hub-result.ts";

/**
 * The registered nodes a fan-out or a deployment names: every one (`all`, narrowed by `allOf`), a group, or a list
 * of ids (each must exist; repeats count once). Deregistered nodes are never targets.
 */
export function resolveTargets(registered: readonly NodeView[], target: FanOutTarget, allOf: (nodes: NodeView[]) => HubResult<NodeView[]>): HubResult<NodeView[]> {
  const nodes = registered.filter((v) => v.status !== "deregistered");
  if ("all" in target) return allOf(nodes);
  if ("group" in target) {
    const members = nodes.filter((n) => n.group === target.group);
    return members.length ? ok(members) : fail(404, "group_empty", `no registered nodes in group ${target.group}`);
  }
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const unknown = target.nodes.filter((id) => !byId.has(id));
  if (unknown.length) return fail(404, "node_not_found", `unknown node(s): ${unknown.slice(0, 10).join(", ")}`);
  return ok([...new Set(target.nodes)].map((id) => byId.get(id)!));
}
