import { InvalidArgumentError, Option, type Command } from "commander";
import type { FanOutTarget } from "../../protocol/api.ts";
import { revealControls } from "../../protocol/hidden-characters.ts";
import { NodeId } from "../../protocol/identifiers.ts";
import { MAX_BASH_TIMEOUT_MS } from "../../protocol/limits.ts";
import {
  DeploymentEvent,
  DeploymentListResponse,
  DeploymentView,
  RoostDiffResponse,
  RoostListResponse,
  VersionDetail,
  MAX_DEPLOYMENT_TIMEOUT_MS,
  VersionListResponse,
  type DeploymentRequest,
} from "../../protocol/roost-api.ts";
import { RoostName } from "../../protocol/roost-manifest.ts";
import type { CliContext } from "./cli-context.ts";
import { CliError } from "./cli-error.ts";
import { ago, bytes, json, table } from "./format.ts";
import type { HubClient } from "./hub-client.ts";
import { nonNegativeInt, positiveInt, seconds } from "./option-parsers.ts";
import { countsLine, followDeployment } from "./roost-follow.ts";
import { pushFolder } from "./roost-push.ts";

interface Json {
  json?: boolean;
}

interface TargetFlags {
  to?: string;
  all?: boolean;
  group?: string;
  nodes?: string[];
}

interface DeployFlags extends TargetFlags, Json {
  path: string;
  canary?: number;
  promoteAt?: number;
  abortAbove?: number;
  concurrency?: number;
  keep?: number;
  after?: string;
  afterTimeout?: number;
  timeout?: number;
  catchUp?: boolean;
  wait: boolean;
}

function roostName(value: string): string {
  const parsed = RoostName.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]!.message);
  return parsed.data;
}

/** "10%" or "10": a share from 0 to 100. */
function percent(value: string): number {
  const n = Number(value.replace(/%$/, ""));
  if (!Number.isFinite(n) || n < 0 || n > 100) throw new InvalidArgumentError("expected a share from 0% to 100%");
  return n;
}

function nodeIds(value: string): string[] {
  return [
    ...new Set(
      value.split(",").map((id) => {
        const parsed = NodeId.safeParse(id.trim());
        if (!parsed.success) throw new InvalidArgumentError(`${JSON.stringify(id)}: ${parsed.error.issues[0]!.message}`);
        return parsed.data;
      }),
    ),
  ];
}

/** `app@3`, or `app` / `app@latest` for the newest version. */
function roostRef(value: string): { roost: string; version: number | null } {
  const [name, version, ...rest] = value.split("@");
  if (rest.length) throw new InvalidArgumentError("expected <roost>@<version>");
  const roost = roostName(name!);
  if (version === undefined || version === "latest") return { roost, version: null };
  const n = Number(version);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`version ${JSON.stringify(version)} is not a version number`);
  return { roost, version: n };
}

async function resolveVersion(client: HubClient, ref: { roost: string; version: number | null }): Promise<number> {
  if (ref.version !== null) return ref.version;
  const { versions } = await client.request("GET", client.sitePath("roosts", ref.roost, "versions"), VersionListResponse);
  if (!versions[0]) throw new CliError(`roost ${ref.roost} has no version yet; push one first`);
  return versions[0].version;
}

function targetOf(flags: TargetFlags, allowTo: boolean): FanOutTarget {
  const chosen: FanOutTarget[] = [];
  if (allowTo && flags.to !== undefined) {
    if (flags.to !== "all") throw new CliError("--to takes `all`; name machines with --nodes a,b or a group with --group g");
    chosen.push({ all: true });
  }
  if (flags.all) chosen.push({ all: true });
  if (flags.group !== undefined) chosen.push({ group: flags.group });
  if (flags.nodes !== undefined) chosen.push({ nodes: flags.nodes });
  if (chosen.length !== 1) throw new CliError(`name the machines once: ${allowTo ? "--to all, " : "--all, "}--group <group> or --nodes <a,b>`);
  return chosen[0]!;
}

function addDeployOptions(command: Command, versionFlag: boolean): Command {
  if (versionFlag) command.requiredOption("--to <version>", "the version to roll back to (it must still be on the machines)", positiveInt);
  else command.option("--to <all>", "every machine of the site (same as --all)");
  return command
    .option("--all", "every machine of the site")
    .option("--group <group>", "every machine of this group")
    .option("--nodes <a,b>", "these machines", nodeIds)
    .requiredOption("--path <dir>", "absolute folder on each machine (holds current, versions/, .roost/); {node} stands for the machine's id")
    .option("--canary <share>", "share of the machines that go first, at least one (default 10%; 0 for none)", percent)
    .option("--promote-at <share>", "the rest follow once this share of the canary succeeded (default 90%)", percent)
    .option("--abort-above <share>", "stop once more than this share of the machines tried failed (default 25%)", percent)
    .option("--concurrency <n>", "machines at work at once (default 50)", positiveInt)
    .option("--keep <n>", "earlier versions kept on each machine for rollbacks (default 3)", nonNegativeInt)
    .option("--after <command>", "run this in the new current folder on each machine (tier rules apply)")
    .option("--after-timeout <s>", "time limit of the --after command (default 120)", seconds(MAX_BASH_TIMEOUT_MS))
    .option("--timeout <s>", "time limit of one machine's whole deployment (default 3600)", seconds(MAX_DEPLOYMENT_TIMEOUT_MS))
    .option("--catch-up", "machines offline now get it when they connect again")
    .option("--no-wait", "start it and print its id instead of following it")
    .option("--json", "print the deployment as JSON at the end");
}

async function startDeployment(cli: CliContext, client: HubClient, kind: "deployments" | "rollbacks", roost: string, version: number, flags: DeployFlags): Promise<number> {
  const body: DeploymentRequest = {
    version,
    target: targetOf(flags, kind === "deployments"),
    path: flags.path,
    ...(flags.canary !== undefined && { canaryPercent: flags.canary }),
    ...(flags.promoteAt !== undefined && { promoteAtPercent: flags.promoteAt }),
    ...(flags.abortAbove !== undefined && { abortAbovePercent: flags.abortAbove }),
    ...(flags.concurrency !== undefined && { concurrency: flags.concurrency }),
    ...(flags.keep !== undefined && { keep: flags.keep }),
    ...(flags.after !== undefined && { after: flags.after }),
    ...(flags.afterTimeout !== undefined && { afterTimeoutMs: flags.afterTimeout }),
    ...(flags.timeout !== undefined && { timeoutMs: flags.timeout }),
    ...(flags.catchUp && { catchUp: true }),
  };
  const path = client.sitePath("roosts", roost, kind);
  if (!flags.wait) {
    const view = await client.request("POST", path, DeploymentView, { body });
    cli.out(flags.json ? json(view) : `${view.id}\n`);
    return 0;
  }
  return followDeployment(cli, (signal) => client.openStream("POST", path, body, DeploymentEvent, signal), flags.json === true);
}

const HELP = `
Push a folder as a new version, deploy it with a canary, roll back without a download:
  cortex roost push ./site --roost web -m "new header"
  cortex roost deploy web@7 --to all --path /srv/web --canary 10% --after "systemctl reload nginx"
  cortex roost rollback web --to 6 --all --path /srv/web
Files are cut into 4 MiB chunks named by their SHA-256; only chunks the hub (or a machine) lacks are sent.
A .roostignore file at the root of the folder leaves paths out (gitignore syntax). See docs/roost.md.
`;

export function addRoostCommands(program: Command, cli: CliContext): void {
  const roost = program.command("roost").description("ship a folder to many machines: versioned, content-addressed, with a canary").addHelpText("after", HELP);

  roost
    .command("push <folder>")
    .description("upload the chunks the hub lacks and commit the folder as the roost's next version")
    .requiredOption("--roost <name>", "the roost to push to (created on the first push)", roostName)
    .option("-m, --message <text>", "what this version is")
    .option("--concurrency <n>", "uploads at once (default 4)", positiveInt)
    .option("--json", "print the new version and upload figures as JSON")
    .action(
      cli.action(async (folder: string, flags: { roost: string; message?: string; concurrency?: number } & Json, command: Command) => {
        await pushFolder(cli, cli.client(command), folder, { roost: flags.roost, message: flags.message, concurrency: flags.concurrency ?? 4, json: flags.json });
      }),
    );

  roost
    .command("list")
    .description("the site's roosts")
    .option("--json", "print JSON")
    .action(
      cli.action(async (flags: Json, command: Command) => {
        const client = cli.client(command);
        const { roosts } = await client.request("GET", client.sitePath("roosts"), RoostListResponse);
        if (flags.json) return void cli.out(json(roosts));
        cli.out(table(["roost", "latest", "versions", "updated"], roosts.map((r) => [r.name, String(r.latestVersion ?? "—"), String(r.versions), ago(r.updatedAt)])));
      }),
    );

  roost
    .command("versions <roost>")
    .description("a roost's versions, newest first: size, files, what changed, who, when")
    .option("--json", "print JSON")
    .action(
      cli.action(async (name: string, flags: Json, command: Command) => {
        const client = cli.client(command);
        const { versions } = await client.request("GET", client.sitePath("roosts", roostName(name), "versions"), VersionListResponse);
        if (flags.json) return void cli.out(json(versions));
        cli.out(
          table(
            ["version", "files", "size", "changes", "new", "by", "when", "message"],
            versions.map((v) => [String(v.version), String(v.files), bytes(v.bytes), `+${v.added} ~${v.changed} -${v.removed}`, bytes(v.newBytes), v.createdBy, ago(v.createdAt), v.message]),
          ),
        );
      }),
    );

  roost
    .command("show <roost@version>")
    .description("a version's entries")
    .option("--json", "print JSON")
    .action(
      cli.action(async (ref: string, flags: Json, command: Command) => {
        const client = cli.client(command);
        const parsed = roostRef(ref);
        const version = await resolveVersion(client, parsed);
        const detail = await client.request("GET", client.sitePath("roosts", parsed.roost, "versions", String(version)), VersionDetail);
        if (flags.json) return void cli.out(json(detail));
        const v = detail.version;
        // Whoever pushed the version wrote its message and symlink targets.
        cli.out(revealControls(`${v.roost}@${v.version} by ${v.createdBy} ${ago(v.createdAt)}: ${v.files} files, ${bytes(v.bytes)}${v.message ? ` — ${v.message}` : ""}\n`));
        for (const f of detail.files) {
          const what = f.type === "file" ? `${f.mode.toString(8).padStart(4, "0")} ${bytes(f.size).padStart(10)}` : f.type === "dir" ? `${f.mode.toString(8).padStart(4, "0")} ${"dir".padStart(10)}` : `${"link".padStart(15)}`;
          cli.out(revealControls(`${what}  ${f.path}${f.type === "symlink" ? ` -> ${f.target}` : ""}\n`));
        }
      }),
    );

  roost
    .command("diff <roost@a> <b>")
    .description("what changed from version a to version b")
    .option("--json", "print JSON")
    .action(
      cli.action(async (a: string, b: string, flags: Json, command: Command) => {
        const client = cli.client(command);
        const from = roostRef(a);
        const to = roostRef(b.includes("@") ? b : `${from.roost}@${b}`);
        if (to.roost !== from.roost) throw new CliError("both versions must be of the same roost");
        const query = { from: await resolveVersion(client, from), to: await resolveVersion(client, to) };
        const diff = await client.request("GET", client.sitePath("roosts", from.roost, "diff"), RoostDiffResponse, { query });
        if (flags.json) return void cli.out(json(diff));
        for (const d of diff.added) cli.out(`+ ${d.path}${d.type === "file" ? ` (${bytes(d.size)})` : ` (${d.type})`}\n`);
        for (const d of diff.changed) cli.out(`~ ${d.path}${d.type === "file" ? ` (${bytes(d.before.size)} -> ${bytes(d.size)})` : ` (${d.type})`}\n`);
        for (const d of diff.removed) cli.out(`- ${d.path}\n`);
        cli.out(`${diff.added.length} added, ${diff.changed.length} changed, ${diff.removed.length} removed\n`);
      }),
    );

  addDeployOptions(roost.command("deploy <roost@version>").description("put a version on machines, canary first"), false).action(
    cli.action(async (ref: string, flags: DeployFlags, command: Command) => {
      const client = cli.client(command);
      const parsed = roostRef(ref);
      return startDeployment(cli, client, "deployments", parsed.roost, await resolveVersion(client, parsed), flags);
    }),
  );

  addDeployOptions(roost.command("rollback <roost>").description("switch machines back to a version they still keep (no download)"), true).action(
    cli.action(async (name: string, flags: DeployFlags & { to: number }, command: Command) => {
      const { to, ...rest } = flags;
      return startDeployment(cli, cli.client(command), "rollbacks", roostName(name), to, rest);
    }),
  );

  roost
    .command("deployments [roost]")
    .description("recent deployments, newest first")
    .addOption(new Option("--limit <n>", "how many").argParser(positiveInt).default(20))
    .option("--json", "print JSON")
    .action(
      cli.action(async (name: string | undefined, flags: Json & { limit: number }, command: Command) => {
        const client = cli.client(command);
        const query = { roost: name === undefined ? undefined : roostName(name), limit: flags.limit };
        const { deployments } = await client.request("GET", client.sitePath("roost", "deployments"), DeploymentListResponse, { query });
        if (flags.json) return void cli.out(json(deployments));
        cli.out(table(["id", "what", "path", "state", "by", "when"], deployments.map((d) => [d.id, `${d.kind} ${d.roost}@${d.version}`, d.path, countsLine(d), d.requestedBy, ago(d.createdAt)])));
      }),
    );

  roost
    .command("watch <deployment>")
    .description("follow a deployment until it ends")
    .option("--json", "print the deployment as JSON at the end")
    .action(
      cli.action(async (id: string, flags: Json, command: Command) => {
        const client = cli.client(command);
        return followDeployment(cli, (signal) => client.openStream("GET", client.sitePath("roost", "deployments", id, "events"), undefined, DeploymentEvent, signal), flags.json === true);
      }),
    );

  for (const [verb, what] of [
    ["promote", "send the rest of the machines now, whatever the canary says"],
    ["abort", "start no further machine (those at work finish)"],
  ] as const) {
    roost
      .command(`${verb} <deployment>`)
      .description(what)
      .option("--json", "print JSON")
      .action(
        cli.action(async (id: string, flags: Json, command: Command) => {
          const client = cli.client(command);
          const view = await client.request("POST", client.sitePath("roost", "deployments", id, verb), DeploymentView);
          cli.out(flags.json ? json(view) : revealControls(`${view.id}: ${countsLine(view)}${view.reason ? ` (${view.reason})` : ""}\n`));
        }),
      );
  }
}
