import type { ChatTarget } from "../../../../protocol/chat.ts";
import { allNodes } from "../../live.ts";

/** One machine of the site, or all of them (every machine online at the moment of each tool call). */
export function TargetPicker({ value, onChange, disabled }: { value: ChatTarget; onChange: (t: ChatTarget) => void; disabled?: boolean }) {
  const nodes = allNodes().filter((n) => n.status !== "deregistered");
  const online = nodes.filter((n) => n.status === "connected").length;
  const current = "node" in value ? value.node : "";
  const known = current === "" || nodes.some((n) => n.id === current);
  return (
    <label class="target-picker">
      Target
      <select value={current} disabled={disabled} onChange={(e) => onChange(e.currentTarget.value ? { node: e.currentTarget.value } : { all: true })}>
        <option value="">All machines ({online} online)</option>
        {known ? null : <option value={current}>{current} (removed)</option>}
        {nodes.map((n) => (
          <option key={n.id} value={n.id}>
            {n.name}
            {n.status === "connected" ? "" : ` (${n.status})`}
          </option>
        ))}
      </select>
    </label>
  );
}
