import { computed } from "@preact/signals";
import { useState } from "preact/hooks";
import type { NodeCredentials, RegisterNodeRequest } from "../../../protocol/api.ts";
import { TIER_DESCRIPTIONS } from "../../../protocol/tier-policy.ts";
import type { CapabilityTier } from "../../../protocol/tiers.ts";
import { messageOf, request } from "../api.ts";
import { allNodes, nodeSignal } from "../live.ts";
import { sitePaths } from "../paths.ts";
import { canManageNodes } from "../permissions.ts";
import { role } from "../session.ts";
import { InstallSteps } from "../components/InstallSteps.tsx";
import { Link } from "../components/Link.tsx";
import { Notice } from "../components/Notice.tsx";
import { neverConnected, NodeStatusBadge } from "../components/StatusBadge.tsx";

const TIERS = Object.keys(TIER_DESCRIPTIONS) as CapabilityTier[];
const knownGroups = computed(() => [...new Set(allNodes().flatMap((n) => (n.group ? [n.group] : [])))].sort());

function Waiting({ creds }: { creds: NodeCredentials }) {
  const node = nodeSignal(creds.id)?.value;
  const status = node?.status ?? "disconnected";
  const waiting = !node || neverConnected(node);
  return (
    <div class="waiting" aria-live="polite">
      {status === "connected" ? (
        <p class="notice notice-ok">
          <strong>{creds.name} is online.</strong> <Link href={`/machines/${encodeURIComponent(creds.id)}`}>Open it</Link>
        </p>
      ) : (
        <p>
          <span class="spinner" aria-hidden="true" /> Waiting for {creds.name} to connect…{waiting || !node ? null : <> <NodeStatusBadge node={node} /></>}
          {status === "error" && node?.lastError ? <span class="error-text"> {node.lastError}</span> : null}
        </p>
      )}
    </div>
  );
}

export function AddMachine({ site }: { site: string }) {
  const [form, setForm] = useState<{ name: string; id: string; group: string; tier: CapabilityTier }>({ name: "", id: "", group: "", tier: "unprivileged" });
  const [creds, setCreds] = useState<NodeCredentials | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  if (!canManageNodes(role.value)) {
    return <p>Only the site's admins can add machines.</p>;
  }

  async function register(e: Event) {
    e.preventDefault();
    setBusy(true);
    setError("");
    const body: RegisterNodeRequest = {
      name: form.name.trim(),
      tier: form.tier,
      ...(form.id.trim() ? { id: form.id.trim() } : {}),
      ...(form.group.trim() ? { group: form.group.trim() } : {}),
    };
    try {
      setCreds(await request<NodeCredentials>(sitePaths(site).nodes, { body }));
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }

  if (creds) {
    return (
      <section aria-labelledby="add-title">
        <div class="page-head">
          <h1 id="add-title">Connect {creds.name}</h1>
        </div>
        <section class="panel secret-once">
          <InstallSteps creds={creds} />
          <p class="muted small">
            The agent dials out to {creds.endpoint}; the machine needs no open port. It runs at tier {creds.tier}: {TIER_DESCRIPTIONS[creds.tier]}.
          </p>
          <Waiting creds={creds} />
          <button type="button" onClick={() => (setCreds(null), setForm({ ...form, name: "", id: "" }))}>
            Add another machine
          </button>
        </section>
      </section>
    );
  }

  return (
    <section aria-labelledby="add-title">
      <div class="page-head">
        <h1 id="add-title">Add a machine</h1>
      </div>
      <form class="panel stack" onSubmit={register}>
        <label for="add-name">
          Name
          <input id="add-name" value={form.name} onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} required maxLength={100} placeholder="render-01" />
        </label>
        <label for="add-id">
          Id <span class="muted">(optional; made from the name when empty: lowercase letters, digits and -)</span>
          <input id="add-id" value={form.id} onInput={(e) => setForm({ ...form, id: e.currentTarget.value })} pattern="[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?" maxLength={63} />
        </label>
        <label for="add-group">
          Group <span class="muted">(optional)</span>
          <input id="add-group" list="add-groups" value={form.group} onInput={(e) => setForm({ ...form, group: e.currentTarget.value })} maxLength={100} />
          <datalist id="add-groups">
            {knownGroups.value.map((g) => (
              <option key={g} value={g} />
            ))}
          </datalist>
        </label>
        <fieldset>
          <legend>Tier: the most this machine will let the hub do</legend>
          {TIERS.map((t) => (
            <label key={t} class="check tier-choice">
              <input type="radio" name="tier" value={t} checked={form.tier === t} onChange={() => setForm({ ...form, tier: t })} />
              <span>
                <strong>{t}</strong> <span class="muted">{TIER_DESCRIPTIONS[t]}</span>
              </span>
            </label>
          ))}
        </fieldset>
        <Notice>{error}</Notice>
        <div class="form-actions">
          <button type="submit" class="primary" disabled={busy || !form.name.trim()}>
            Register
          </button>
        </div>
      </form>
    </section>
  );
}
