import { agentUpdateAvailable } from "../../../protocol/agent-version-compare.ts";
import { servedAgent } from "../agent-release.ts";

/** A node's agent version, flagged when the hub serves a newer one (re-running the install line updates it). */
export function AgentVersion({ version }: { version: string | null }) {
  if (!version) return <span class="muted">—</span>;
  const served = servedAgent.value;
  const outdated = served !== null && agentUpdateAvailable(version, served.version);
  return (
    <span class="agent-version">
      {version}
      {outdated ? (
        <span class="badge tone-pending update-available" title={`This hub serves ${served.version}: run the install line on the machine again to update it.`}>
          update available
        </span>
      ) : null}
    </span>
  );
}
