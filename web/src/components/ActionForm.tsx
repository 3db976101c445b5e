import { useState } from "preact/hooks";
import type { DirectiveRequest } from "../../../protocol/api.ts";
import type { ActionCall, ActionName } from "../../../protocol/directives.ts";
import { DEFAULT_SANDBOX_ROOT, evaluateTier } from "../../../protocol/tier-policy.ts";
import type { CapabilityTier } from "../../../protocol/tiers.ts";

const LABELS: Partial<Record<ActionName, string>> = {
  bash: "Shell command",
  read: "Read a file",
  glob: "Find files",
  grep: "Search in files",
};

interface Fields {
  command: string;
  cwd: string;
  timeoutS: string;
  path: string;
  pattern: string;
  glob: string;
  caseInsensitive: boolean;
}

function paramsOf(action: ActionName, f: Fields): Record<string, unknown> {
  switch (action) {
    case "bash":
      return { command: f.command, ...(f.cwd ? { cwd: f.cwd } : {}), ...(f.timeoutS ? { timeoutMs: Math.round(Number(f.timeoutS) * 1000) } : {}) };
    case "read":
      return { path: f.path };
    case "glob":
      return { pattern: f.pattern, path: f.path };
    case "grep":
      return { pattern: f.pattern, path: f.path, caseInsensitive: f.caseInsensitive, ...(f.glob ? { glob: f.glob } : {}) };
    default:
      return {};
  }
}

function ready(action: ActionName, f: Fields): boolean {
  if (action === "bash") return f.command.trim().length > 0;
  if (action === "read") return f.path.trim().length > 0;
  return f.pattern.trim().length > 0 && f.path.trim().length > 0;
}

/**
 * Picks an action among those the person may run and fills in its params. When a single machine's tier is known,
 * the tier policy from protocol/ tells before sending whether the hub would refuse, and why.
 */
export function ActionForm(props: {
  actions: readonly ActionName[];
  tier: CapabilityTier | null;
  /** The sandbox an unprivileged machine reported; file paths start there. */
  sandboxRoot?: string | null;
  busy: boolean;
  submitLabel: string;
  onSubmit: (req: DirectiveRequest) => void;
  idPrefix: string;
}) {
  const [action, setAction] = useState<ActionName>(props.actions[0]!);
  const [f, setF] = useState<Fields>({
    command: "",
    cwd: "",
    timeoutS: "",
    path: props.tier === "unprivileged" ? `${props.sandboxRoot ?? DEFAULT_SANDBOX_ROOT}/` : "",
    pattern: "",
    glob: "",
    caseInsensitive: false,
  });
  const set = (patch: Partial<Fields>) => setF({ ...f, ...patch });
  const id = (name: string) => `${props.idPrefix}-${name}`;
  const current = props.actions.includes(action) ? action : props.actions[0]!;
  const params = paramsOf(current, f);
  const sandbox = props.sandboxRoot ? { sandboxRoot: props.sandboxRoot } : {};
  const decision = props.tier && ready(current, f) ? evaluateTier(props.tier, { action: current, params } as ActionCall, sandbox) : { allowed: true as const };

  return (
    <form
      class="action-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (!props.busy && ready(current, f) && decision.allowed) props.onSubmit({ action: current, params });
      }}
    >
      {props.actions.length > 1 ? (
        <label for={id("action")}>
          Action
          <select id={id("action")} value={current} onChange={(e) => setAction(e.currentTarget.value as ActionName)}>
            {props.actions.map((a) => (
              <option key={a} value={a}>
                {LABELS[a] ?? a}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      {current === "bash" ? (
        <>
          <label for={id("command")} class="wide">
            Command
            <input
              id={id("command")}
              class="mono"
              value={f.command}
              onInput={(e) => set({ command: e.currentTarget.value })}
              placeholder="uptime && df -h"
              autocomplete="off"
              spellcheck={false}
              required
            />
          </label>
          <label for={id("cwd")}>
            Working folder <span class="muted">(optional)</span>
            <input id={id("cwd")} class="mono" value={f.cwd} onInput={(e) => set({ cwd: e.currentTarget.value })} placeholder="/srv/app" />
          </label>
          <label for={id("timeout")}>
            Time limit, s <span class="muted">(optional)</span>
            <input id={id("timeout")} type="number" min={1} max={600} value={f.timeoutS} onInput={(e) => set({ timeoutS: e.currentTarget.value })} placeholder="120" />
          </label>
        </>
      ) : (
        <>
          {current !== "read" ? (
            <label for={id("pattern")}>
              {current === "glob" ? "Pattern" : "Regular expression"}
              <input
                id={id("pattern")}
                class="mono"
                value={f.pattern}
                onInput={(e) => set({ pattern: e.currentTarget.value })}
                placeholder={current === "glob" ? "**/*.log" : "error|warn"}
                required
              />
            </label>
          ) : null}
          <label for={id("path")} class={current === "read" ? "wide" : undefined}>
            {current === "read" ? "File" : "In folder"}
            <input id={id("path")} class="mono" value={f.path} onInput={(e) => set({ path: e.currentTarget.value })} placeholder="/var/log" required />
          </label>
          {current === "grep" ? (
            <>
              <label for={id("glob")}>
                Only files matching <span class="muted">(optional)</span>
                <input id={id("glob")} class="mono" value={f.glob} onInput={(e) => set({ glob: e.currentTarget.value })} placeholder="*.log" />
              </label>
              <label class="check" for={id("ci")}>
                <input id={id("ci")} type="checkbox" checked={f.caseInsensitive} onChange={(e) => set({ caseInsensitive: e.currentTarget.checked })} />
                Ignore case
              </label>
            </>
          ) : null}
        </>
      )}
      <div class="form-actions">
        <button type="submit" class="primary" disabled={props.busy || !ready(current, f) || !decision.allowed}>
          {props.submitLabel}
        </button>
        {!decision.allowed ? (
          <p class="notice notice-error small" role="status">
            This machine's tier refuses it: {decision.reason}
          </p>
        ) : null}
      </div>
    </form>
  );
}
