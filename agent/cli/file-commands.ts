import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { Option, type Command } from "commander";
import type { DirectiveView } from "../../protocol/api.ts";
import { CliError } from "./cli-error.ts";
import type { CliContext, JsonOption } from "./cli-context.ts";
import { outputText, reportDirective } from "./directive-report.ts";
import { runDirective } from "./directive-requests.ts";
import { bytes } from "./format.ts";
import { nodeId, nonNegativeInt, positiveInt } from "./option-parsers.ts";

const PATH_NOTE = "\nPaths are on the node and must be absolute; the node's tier decides what it may touch.\n";

export function addFileCommands(program: Command, cli: CliContext): void {
  program
    .command("read")
    .description("print a file on a node (images: see --out)")
    .argument("<node>", "node id", nodeId)
    .argument("<path>", "absolute path on the node")
    .option("--offset <line>", "first line to print, 1-based", positiveInt)
    .option("--limit <lines>", "how many lines to print", positiveInt)
    .addOption(new Option("--out <file>", "save an image to this local file instead of describing it").conflicts("json"))
    .option("--json", "print the directive record as JSON")
    .addHelpText("after", PATH_NOTE)
    .action(
      cli.action(async (node: string, path: string, options: JsonOption & { offset?: number; limit?: number; out?: string }, command: Command) => {
        const view = await runDirective(cli.client(command), node, "read", { path, offset: options.offset, limit: options.limit });
        const render = options.out === undefined ? readText : (v: DirectiveView) => saveRead(v, resolve(cli.io.cwd, options.out!));
        return reportDirective(cli, view, options.json, render);
      }),
    );

  program
    .command("write")
    .description("create or overwrite a file on a node")
    .argument("<node>", "node id", nodeId)
    .argument("<path>", "absolute path on the node")
    .option("--content <text>", "the new content")
    .option("--from-file <file>", "send this local file (binary files are sent base64-encoded)")
    .option("--json", "print the directive record as JSON")
    .addHelpText("after", PATH_NOTE)
    .action(
      cli.action(async (node: string, path: string, options: JsonOption & { content?: string; fromFile?: string }, command: Command) => {
        if ((options.content === undefined) === (options.fromFile === undefined)) {
          throw new CliError("write needs exactly one of --content and --from-file");
        }
        const payload = options.content !== undefined ? { content: options.content, encoding: "utf8" } : localFile(resolve(cli.io.cwd, options.fromFile!));
        const view = await runDirective(cli.client(command), node, "write", { path, ...payload });
        return reportDirective(cli, view, options.json);
      }),
    );

  program
    .command("edit")
    .description("replace text in a file on a node; the old text must occur exactly once unless --all")
    .argument("<node>", "node id", nodeId)
    .argument("<path>", "absolute path on the node")
    .requiredOption("--old <text>", "text to replace")
    .requiredOption("--new <text>", "replacement text")
    .option("--all", "replace every occurrence")
    .option("--json", "print the directive record as JSON")
    .addHelpText("after", PATH_NOTE)
    .action(
      cli.action(async (node: string, path: string, options: JsonOption & { old: string; new: string; all?: boolean }, command: Command) => {
        const params = { path, oldString: options.old, newString: options.new, replaceAll: options.all };
        return reportDirective(cli, await runDirective(cli.client(command), node, "edit", params), options.json);
      }),
    );

  program
    .command("glob")
    .description("list files on a node matching a glob pattern, relative to --path")
    .argument("<node>", "node id", nodeId)
    .argument("<pattern>", "glob pattern, e.g. '**/*.ts' (quote it so the local shell leaves it alone)")
    .requiredOption("--path <dir>", "absolute directory on the node to search in")
    .option("--limit <n>", "most files to list", positiveInt)
    .option("--json", "print the directive record as JSON")
    .action(
      cli.action(async (node: string, pattern: string, options: JsonOption & { path: string; limit?: number }, command: Command) => {
        const params = { pattern, path: options.path, limit: options.limit };
        return reportDirective(cli, await runDirective(cli.client(command), node, "glob", params), options.json);
      }),
    );

  program
    .command("grep")
    .description("search file contents on a node with a regular expression")
    .argument("<node>", "node id", nodeId)
    .argument("<pattern>", "regular expression")
    .requiredOption("--path <dir>", "absolute file or directory on the node to search")
    .option("--glob <pattern>", "only files matching this glob")
    .option("-i, --ignore-case", "case-insensitive match")
    .option("--files", "print only the names of matching files")
    .addOption(new Option("--count", "print match counts per file").conflicts("files"))
    .option("--head-limit <n>", "most lines or files to print", positiveInt)
    .option("--offset <n>", "skip this many lines or files first", nonNegativeInt)
    .option("--json", "print the directive record as JSON")
    .action(
      cli.action(
        async (
          node: string,
          pattern: string,
          options: JsonOption & { path: string; glob?: string; ignoreCase?: boolean; files?: boolean; count?: boolean; headLimit?: number; offset?: number },
          command: Command,
        ) => {
          const params = {
            pattern,
            path: options.path,
            glob: options.glob,
            caseInsensitive: options.ignoreCase,
            outputMode: options.files ? "files_with_matches" : options.count ? "count" : undefined,
            headLimit: options.headLimit,
            offset: options.offset,
          };
          return reportDirective(cli, await runDirective(cli.client(command), node, "grep", params), options.json);
        },
      ),
    );
}

/** Text as is, UTF-8; anything else (a binary file) as base64, which the node decodes. */
function localFile(path: string): { content: string; encoding: "utf8" | "base64" } {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (error) {
    throw new CliError(`cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    return { content: new TextDecoder("utf-8", { fatal: true }).decode(data), encoding: "utf8" };
  } catch {
    return { content: data.toString("base64"), encoding: "base64" };
  }
}

function readText(view: DirectiveView): string {
  const image = view.data?.kind === "image" ? view.data : undefined;
  if (!image) return outputText(view);
  return `${image.mediaType}, ${bytes(Buffer.byteLength(image.base64, "base64"))}: pass --out <file> to save it\n`;
}

function saveRead(view: DirectiveView, file: string): string {
  if (view.data?.kind !== "image") throw new CliError(`${String(view.params.path)} is text, not an image; --out saves images only`);
  const data = Buffer.from(view.data.base64, "base64");
  try {
    writeFileSync(file, data);
  } catch (error) {
    throw new CliError(`cannot write ${file}: ${(error as Error).message}`);
  }
  return `saved ${bytes(data.length)} to ${file}\n`;
}
