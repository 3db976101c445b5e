import type { FanOutTarget, NodeView } from "../../protocol/api.ts";
import { fail, ok, type HubResult } from "../shared/hub-result.ts";

/**
 * Where targets are looked up: the site's registry, asked for no more than the target names. A node's view reads
 * its socket's state, so a fan-out to 1,000 of 10,000 machines builds 1,000 views, not 10,000. None of these
 * returns a deregistered node.
 */
export interface TargetSource {
  registeredViews(): NodeView[];
  groupViews(group: string): NodeView[];
  /** The registered nodes among `ids`, in no particular order. */
  viewsAmong(ids: readonly string[]): NodeView[];
}

/**
 * The registered nodes a fan-out or a deployment names: every one (`all`, narrowed by `allOf`), a group, or a list
 * of ids (each must exist; repeats count once). Deregistered nodes are never targets.
 */
export function resolveTargets(source: TargetSource, target: FanOutTarget, allOf: (nodes: NodeView[]) => HubResult<NodeView[]>): HubResult<NodeView[]> {
  if ("all" in target) return allOf(source.registeredViews());
  if ("group" in target) {
    const members = source.groupViews(target.group);
    return members.length ? ok(members) : fail(404, "group_empty", `no registered nodes in group ${target.group}`);
  }
  const byId = new Map(source.viewsAmong(target.nodes).map((n) => [n.id, n]));
  const unknown = target.nodes.filter((id) => !byId.has(id));
  if (unknown.length) return fail(404, "node_not_found", `unknown node(s): ${unknown.slice(0, 10).join(", ")}`);
  return ok([...new Set(target.nodes)].map((id) => byId.get(id)!));
}
