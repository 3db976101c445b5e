import { Option, type Command } from "commander";
import { NodeCredentials, NodeListResponse, NodeStatus, NodeView } from "../../protocol/api.ts";
import { CapabilityTier } from "../../protocol/tiers.ts";
import { TIER_DESCRIPTIONS } from "../../protocol/tier-policy.ts";
import type { CliContext, JsonOption } from "./cli-context.ts";
import { ago, duration, facts, json, megabytes, table, when } from "./format.ts";
import { nodeId } from "./option-parsers.ts";

const TIER_HELP = CapabilityTier.options.map((tier) => `  ${tier.padEnd(13)}${TIER_DESCRIPTIONS[tier]}`).join("\n");

export function addNodeCommands(node: Command, cli: CliContext): void {
  node
    .command("register")
    .description("register a node and print its token (shown once) and the line that installs the agent on the machine")
    .requiredOption("--name <name>", "human-readable name")
    .option("--id <id>", "node id (default: derived from the name)", nodeId)
    .option("--group <group>", "group, for fan-out with `cortex exec --group`")
    .addOption(new Option("--tier <tier>", "capability ceiling").choices(CapabilityTier.options).default("unprivileged"))
    .option("--json", "print the credentials as JSON")
    .addHelpText("after", `\nTiers:\n${TIER_HELP}\n`)
    .action(
      cli.action(async (options: JsonOption & { name: string; id?: string; group?: string; tier: CapabilityTier }, command: Command) => {
        const client = cli.client(command);
        const body = { name: options.name, id: options.id, group: options.group, tier: options.tier };
        const credentials = await client.request("POST", client.sitePath("nodes"), NodeCredentials, { body });
        cli.out(options.json ? json(credentials) : credentialsText(credentials, `Registered node ${credentials.id}`));
      }),
    );

  node
    .command("list")
    .description("list the site's nodes with their status and live metrics")
    .addOption(new Option("--status <status>", "only nodes with this status").choices(NodeStatus.options))
    .option("--group <group>", "only nodes of this group")
    .option("--json", "print {nodes: [...]} as JSON")
    .action(
      cli.action(async (options: JsonOption & { status?: NodeStatus; group?: string }, command: Command) => {
        const client = cli.client(command);
        const { nodes } = await client.request("GET", client.sitePath("nodes"), NodeListResponse);
        const shown = nodes.filter(
          (n) => (!options.status || n.status === options.status) && (!options.group || n.group === options.group),
        );
        if (options.json) return cli.out(json({ nodes: shown }));
        if (shown.length === 0) return cli.out(nodes.length ? "No node matches.\n" : `No nodes in site ${client.settings.site}.\n`);
        cli.out(table(["id", "name", "group", "tier", "status", "last heartbeat", "cpu", "mem", "disk free", "version"], shown.map(nodeRow)));
      }),
    );

  node
    .command("show")
    .description("show everything the hub knows about a node")
    .argument("<id>", "node id", nodeId)
    .option("--json", "print the node as JSON")
    .action(
      cli.action(async (id: string, options: JsonOption, command: Command) => {
        const client = cli.client(command);
        const view = await client.request("GET", client.sitePath("nodes", id), NodeView);
        cli.out(options.json ? json(view) : facts(nodeFacts(view)));
      }),
    );

  node
    .command("deregister")
    .description("remove a node: its token stops working and a connected agent is disconnected")
    .argument("<id>", "node id", nodeId)
    .option("--json", "print the deregistered node as JSON")
    .action(
      cli.action(async (id: string, options: JsonOption, command: Command) => {
        const client = cli.client(command);
        const view = await client.request("DELETE", client.sitePath("nodes", id), NodeView);
        cli.out(options.json ? json(view) : `Deregistered node ${view.id} (${view.name}); its token no longer works.\n`);
      }),
    );

  node
    .command("rekey")
    .description("rotate a node's token: the old one stops working, the new one is shown once")
    .argument("<id>", "node id", nodeId)
    .option("--json", "print the new credentials as JSON")
    .action(
      cli.action(async (id: string, options: JsonOption, command: Command) => {
        const client = cli.client(command);
        const credentials = await client.request("POST", client.sitePath("nodes", id, "rekey"), NodeCredentials);
        cli.out(options.json ? json(credentials) : credentialsText(credentials, `New token for node ${credentials.id}`, true));
      }),
    );
}

function credentialsText(c: NodeCredentials, headline: string, rekeyed = false): string {
  return [
    `${headline}${c.name === c.id ? "" : ` (${c.name})`}: tier ${c.tier}${c.group ? `, group ${c.group}` : ""}.`,
    "",
    `Token (shown once; store it now, \`cortex node rekey ${c.id}\` issues a new one):`,
    `  ${c.token}`,
    "",
    rekeyed ? "Give an installed agent the new token (it asks for it, then restarts the agent):" : "Install the agent on the machine and start it (Node 20 or newer; run as root):",
    `  ${c.installCommand}${rekeyed ? " --new-token" : ""}`,
    "It asks for the token on the terminal: paste the one above (it is not echoed). Without a terminal, put the token",
    "in a file only root can read and add --token-file <file>. docs/install.md has the details.",
    "",
    `From a checkout (development): save the token in ${c.id}.token (chmod 600), then`,
    `  ${c.connectCommand}`,
    "",
  ].join("\n");
}

function tierText(view: NodeView): string {
  return view.runningTier && view.runningTier !== view.tier ? `${view.runningTier} (ceiling ${view.tier})` : view.tier;
}

function nodeRow(view: NodeView): string[] {
  const m = view.metrics;
  return [
    view.id,
    view.name,
    view.group ?? "",
    tierText(view),
    view.status,
    ago(view.lastHeartbeatAt),
    m ? `${m.cpuPercent.toFixed(0)}%` : "",
    m ? `${megabytes(m.memoryMb)}/${megabytes(m.memoryTotalMb)}` : "",
    m ? `${megabytes(m.diskFreeMb)}/${megabytes(m.diskTotalMb)}` : "",
    view.version ?? "",
  ];
}

function nodeFacts(view: NodeView): [string, string][] {
  const rows: [string, string][] = [
    ["id", view.id],
    ["name", view.name],
    ["group", view.group ?? "—"],
    ["tier", view.tier],
    ["running tier", view.runningTier ?? "—"],
    ["status", view.status],
    ["last heartbeat", when(view.lastHeartbeatAt)],
    ["connected", when(view.connectedAt)],
    ["disconnected", when(view.disconnectedAt)],
    ["registered", when(view.createdAt)],
  ];
  if (view.deregisteredAt !== null) rows.push(["deregistered", when(view.deregisteredAt)]);
  rows.push(
    ["hostname", view.hostname ?? "—"],
    ["os", [view.os, view.arch].filter(Boolean).join(" ") || "—"],
    ["agent version", view.version ?? "—"],
    ["capabilities", view.capabilities.join(", ") || "—"],
    ["token prefix", view.tokenPrefix || "—"],
    ["last error", view.lastError ?? "—"],
  );
  const m = view.metrics;
  if (!m) return [...rows, ["metrics", "none yet"]];
  rows.push(
    ["cpu", `${m.cpuPercent.toFixed(1)}%${m.cpuCount ? ` of ${m.cpuCount} cores` : ""}`],
    ["memory", `${megabytes(m.memoryMb)} used of ${megabytes(m.memoryTotalMb)}`],
    ["disk", `${megabytes(m.diskFreeMb)} free of ${megabytes(m.diskTotalMb)}`],
  );
  if (m.loadAverage) rows.push(["load average", m.loadAverage.map((n) => n.toFixed(2)).join(" ")]);
  rows.push(["active directives", String(m.activeDirectives)], ["uptime", duration(m.uptimeSeconds * 1000)]);
  for (const [i, gpu] of (m.gpus ?? []).entries()) {
    const temperature = gpu.temperatureC === undefined ? "" : `, ${gpu.temperatureC}°C`;
    rows.push([`gpu ${i}`, `${gpu.name}: ${gpu.utilizationPercent}%, ${megabytes(gpu.memoryUsedMb)}/${megabytes(gpu.memoryTotalMb)}${temperature}`]);
  }
  return rows;
}
