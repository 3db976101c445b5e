import { useState } from "preact/hooks";
import type { NodeCredentials } from "../../../protocol/api.ts";
import type { LiveNode } from "../../../protocol/live-messages.ts";
import { messageOf, request } from "../api.ts";
import { sitePaths } from "../paths.ts";
import { InstallSteps } from "./InstallSteps.tsx";
import { Notice } from "./Notice.tsx";

/** Rekey and remove: shown only to people who may manage machines; both ask before acting. */
export function NodeAdmin({ site, node }: { site: string; node: LiveNode }) {
  const [creds, setCreds] = useState<NodeCredentials | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const paths = sitePaths(site);
  const gone = node.status === "deregistered";

  async function act(fn: () => Promise<void>) {
    setBusy(true);
    setError("");
    try {
      await fn();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="panel" aria-labelledby="admin-title">
      <h2 id="admin-title">Manage</h2>
      {gone ? (
        <p class="muted">This machine was removed. Register it again from “Add a machine” with the same id to bring it back.</p>
      ) : (
        <div class="button-row">
          <button
            type="button"
            disabled={busy}
            onClick={() =>
              confirm(`Issue a new token for ${node.name}? Its agent is disconnected until it is given the new token.`) &&
              act(async () => setCreds(await request<NodeCredentials>(paths.rekey(node.id), { method: "POST" })))
            }
          >
            New token
          </button>
          <button
            type="button"
            class="danger"
            disabled={busy}
            onClick={() =>
              confirm(`Remove ${node.name}? Its agent is disconnected and its token stops working.`) &&
              act(async () => void (await request(paths.node(node.id), { method: "DELETE" })))
            }
          >
            Remove machine
          </button>
        </div>
      )}
      <Notice>{error}</Notice>
      {creds ? (
        <div class="secret-once">
          <p>
            <strong>New token issued for {creds.name}.</strong>
          </p>
          <InstallSteps creds={creds} rekeyed />
        </div>
      ) : null}
    </section>
  );
}
