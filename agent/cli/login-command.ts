import type { Command } from "commander";
import { MeResponse } from "../../protocol/accounts.ts";
import { SiteId } from "../../protocol/identifiers.ts";
import { CliError, issuesLine } from "./cli-error.ts";
import type { CliContext } from "./cli-context.ts";
import { configPathFor, readConfigForUpdate, updateConfigFile } from "./config-file-update.ts";
import { HubClient } from "./hub-client.ts";
import { readSecret } from "./secret-input.ts";
import { DEFAULT_HUB, type GlobalOptions } from "./settings.ts";

function hubUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(`invalid hub URL ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new CliError(`invalid hub URL ${JSON.stringify(raw)}: scheme must be http or https`);
  return url.toString().replace(/\/+$/, "");
}

function whoText(me: MeResponse): string {
  const credential = me.credential;
  if (credential?.kind === "admin_key") return "the bootstrap admin key (a superadmin that belongs to nobody)";
  const key = credential?.keyName ? ` with the ${credential.scope} API key "${credential.keyName}"` : "";
  return `${me.user.email}${key}`;
}

/** `cortex login` and `cortex logout`: keep an API key for a hub in the config file, checked before it is kept. */
export function addLoginCommands(program: Command, cli: CliContext): void {
  program
    .command("login")
    .description("check an API key against a hub and save the hub, the site and the key in the config file")
    .addHelpText(
      "after",
      `
The key comes from --api-key, else CORTEX_API_KEY, else it is asked for (without echo), or read from the first
line of standard input when that is not a terminal. Create a key in the dashboard under Settings, API keys.
`,
    )
    .action(
      cli.action(async (_options: object, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>();
        const path = configPathFor(cli.io, globals.config);
        const saved = readConfigForUpdate(path);
        const hub = hubUrl(globals.hub ?? (cli.io.env.CORTEX_HUB || undefined) ?? saved.hub ?? DEFAULT_HUB);
        const site = globals.site ?? (cli.io.env.CORTEX_SITE || undefined);
        if (site !== undefined) {
          const check = SiteId.safeParse(site);
          if (!check.success) throw new CliError(`invalid site ${JSON.stringify(site)}: ${issuesLine(check.error)}`);
        }
        const apiKey = (globals.apiKey ?? (cli.io.env.CORTEX_API_KEY || undefined) ?? (await readSecret(`API key for ${hub}: `))).trim();
        if (!apiKey) throw new CliError("no API key given");

        const client = new HubClient({ hub, site: site ?? saved.site ?? "default", apiKey });
        const me = await client.request("GET", "/api/auth/me", MeResponse);
        if (site !== undefined && !me.memberships.some((m) => m.site === site)) {
          const sites = me.memberships.map((m) => m.site).join(", ") || "none";
          throw new CliError(`this key has no access to site ${site} (its sites: ${sites}); nothing was saved`);
        }
        updateConfigFile(path, (config) => ({ ...config, hub, apiKey, ...(site !== undefined ? { site } : {}) }));
        cli.out(`Signed in to ${hub} as ${whoText(me)}.\nSaved to ${path} (readable by you only).\n`);
        if (cli.io.env.CORTEX_API_KEY && cli.io.env.CORTEX_API_KEY !== apiKey) {
          cli.err("note: CORTEX_API_KEY is set in this shell and takes precedence over the saved key\n");
        }
      }),
    );

  program
    .command("logout")
    .description("remove the saved API key from the config file (the key itself stays valid until revoked)")
    .action(
      cli.action(async (_options: object, command: Command) => {
        const globals = command.optsWithGlobals<GlobalOptions>();
        const path = configPathFor(cli.io, globals.config);
        if (!readConfigForUpdate(path).apiKey) return cli.out(`No API key is saved in ${path}.\n`);
        updateConfigFile(path, ({ apiKey: _removed, ...rest }) => rest);
        cli.out(`Removed the API key from ${path}. Revoke it in the dashboard if it should stop working everywhere.\n`);
      }),
    );
}
