import type { NodeCredentials } from "../../../protocol/api.ts";
import { CopyField } from "./CopyField.tsx";

/**
 * How to put a freshly issued token to use: the line that installs (or, after a new token, updates) the agent on
 * the machine, the token it asks for, shown only now, and the development alternative from a checkout.
 */
export function InstallSteps({ creds, rekeyed = false }: { creds: NodeCredentials; rekeyed?: boolean }) {
  const command = rekeyed ? `${creds.installCommand} --new-token` : creds.installCommand;
  return (
    <div class="install-steps">
      <ol class="stack">
        <li>
          {rekeyed ? "On the machine, give the installed agent the new token" : "On the machine, install the agent and start it"} (as root; it needs
          Node.js 20 or newer):
          <CopyField label="Install command" value={command} />
        </li>
        <li>
          When it asks for the token, paste this one. <strong>It is shown only now</strong>: if it is lost, issue a new one from the machine's page.
          <CopyField label="Token" value={creds.token} />
        </li>
      </ol>
      <p class="muted small">
        The script downloads the agent from this hub, checks its SHA-256 and installs it in /opt/cortex: the token in a file only root can
        read, the user cortex-{creds.id} that actions run as{creds.tier === "sudo" ? ", a sudoers rule letting it run only the package managers" : ""},
        and the service cortex-{creds.id}. Without systemd or root, add <code>--no-service</code>; with no terminal, add{" "}
        <code>--token-file &lt;file&gt;</code> (mode 0600). Run the same line again to update the agent.
      </p>
      <details>
        <summary>From a checkout of the hub (development)</summary>
        <p class="small">
          Save the token in {creds.id}.token (<code>chmod 600</code>), then run:
        </p>
        <CopyField label="Connect command" value={creds.connectCommand} />
      </details>
    </div>
  );
}
