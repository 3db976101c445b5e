import type { DeploymentEvent, DeploymentView, TargetView } from "../../protocol/roost-api.ts";
import { redactText } from "../../protocol/redaction.ts";
import type { Viewer } from "./viewer-visibility.ts";

function redactedTarget(target: TargetView): TargetView {
  return target.error === null ? target : { ...target, error: redactText(target.error) };
}

/**
 * A deployment as a viewer gets it. Its `after` command is an admin's shell command (it may carry a token), and the
 * targets' errors and the hold reason quote what agents printed: a confined viewer (a member, a read or chat key)
 * gets them through the redactor, as it gets the parameters and errors of the directives the deployment ran.
 */
export function deploymentFor<V extends Omit<DeploymentView, "targets"> & { targets?: TargetView[] }>(view: V, viewer: Pick<Viewer, "confined">): V {
  if (!viewer.confined) return view;
  return {
    ...view,
    after: view.after === null ? null : redactText(view.after),
    reason: view.reason === null ? null : redactText(view.reason),
    ...(view.targets ? { targets: view.targets.map(redactedTarget) } : {}),
  };
}

/** A deployment's live event as a viewer gets it (see `deploymentFor`). */
export function deploymentEventFor(event: DeploymentEvent, viewer: Pick<Viewer, "confined">): DeploymentEvent {
  if (!viewer.confined) return event;
  if (event.event === "target") return { ...event, target: redactedTarget(event.target) };
  return { ...event, deployment: deploymentFor(event.deployment, viewer) };
}
