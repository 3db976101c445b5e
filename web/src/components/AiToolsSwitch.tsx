import { useState } from "preact/hooks";
import type { NodeView } from "../../../protocol/api.ts";
import { messageOf, request } from "../api.ts";
import { sitePaths } from "../paths.ts";
import { Notice } from "./Notice.tsx";

/** The machine's "AI tools allowed" switch (site admins): off, the chat's tool calls to it are refused by the hub. */
export function AiToolsSwitch({ site, node, changed }: { site: string; node: NodeView; changed: (n: NodeView) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  async function toggle(allowed: boolean) {
    setBusy(true);
    setError("");
    try {
      changed(await request<NodeView>(sitePaths(site).node(node.id), { method: "PATCH", body: { aiToolsAllowed: allowed } }));
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <section class="panel" aria-labelledby="ai-tools-title">
      <h2 id="ai-tools-title">AI chat</h2>
      <label class="check">
        <input type="checkbox" checked={node.aiToolsAllowed} disabled={busy} onChange={(e) => toggle(e.currentTarget.checked)} /> AI tools allowed on this machine
      </label>
      <p class="muted small">
        {node.aiToolsAllowed
          ? "The chat may call tools here, within the asker's role and this machine's tier."
          : "The chat's tool calls to this machine are refused; people can still ask about it from what the hub knows."}
      </p>
      <Notice>{error}</Notice>
    </section>
  );
}
