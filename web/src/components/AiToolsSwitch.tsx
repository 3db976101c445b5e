import { useEffect, useState } from "preact/hooks";
import type { NodeView } from "../../../protocol/api.ts";
import { messageOf, request } from "../api.ts";
import { sitePaths } from "../paths.ts";
import { Notice } from "./Notice.tsx";

/** The machine's "AI tools allowed" switch (site admins): off, the chat's tool calls to it are refused by the hub. */
export function AiToolsSwitch({ site, node, changed }: { site: string; node: NodeView; changed: (n: NodeView) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  // The box shows the choice at once; a refusal puts it back to what the hub keeps.
  const [shown, setShown] = useState(node.aiToolsAllowed);
  useEffect(() => setShown(node.aiToolsAllowed), [node.aiToolsAllowed]);
  async function toggle(allowed: boolean) {
    setShown(allowed);
    setBusy(true);
    setError("");
    try {
      changed(await request<NodeView>(sitePaths(site).node(node.id), { method: "PATCH", body: { aiToolsAllowed: allowed } }));
    } catch (err) {
      setShown(node.aiToolsAllowed);
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <section class="panel" aria-labelledby="ai-tools-title">
      <h2 id="ai-tools-title">AI chat</h2>
      <label class="check">
        <input type="checkbox" checked={shown} disabled={busy} onChange={(e) => toggle(e.currentTarget.checked)} /> AI tools allowed on this machine
      </label>
      <p class="muted small">
        {shown
          ? "The chat may call tools here, within the asker's role and this machine's tier."
          : "The chat's tool calls to this machine are refused; people can still ask about it from what the hub knows."}
      </p>
      <Notice>{error}</Notice>
    </section>
  );
}
