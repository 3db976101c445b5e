import { lstat, readdir, readlink } from "node:fs/promises";
import type { Stats } from "node:fs";
import { isAbsolute, join } from "node:path";
import type { ActionParams } from "../../protocol/directives.ts";
import { capText } from "../host/compact-output.ts";
import { groupNames, userNames } from "../host/users.ts";
import { childPath, openDirectoryVerified } from "../sandbox/verified-fs.ts";
import type { ActionOutcome } from "./action-context.ts";
import { fsFailure } from "./action-error.ts";
import type { FileActionContext } from "./file-action-context.ts";

function typeOf(info: Stats): string {
  if (info.isDirectory()) return "d";
  if (info.isSymbolicLink()) return "l";
  if (info.isFIFO()) return "p";
  if (info.isSocket()) return "s";
  if (info.isCharacterDevice()) return "c";
  if (info.isBlockDevice()) return "b";
  return "-";
}

/** `rwxr-x---` with setuid, setgid and sticky bits as `ls` shows them. */
export function permissions(mode: number): string {
  const bits = "rwxrwxrwx".split("").map((c, i) => ((mode >> (8 - i)) & 1 ? c : "-"));
  const special = (index: number, flag: number, on: string, off: string) => {
    if (mode & flag) bits[index] = bits[index] === "-" ? off : on;
  };
  special(2, 0o4000, "s", "S");
  special(5, 0o2000, "s", "S");
  special(8, 0o1000, "t", "T");
  return bits.join("");
}

/** Where a link points, as written; to a confined caller only when that is inside its folders. */
async function linkTarget(link: string, folder: string, ctx: FileActionContext): Promise<string> {
  const target = await readlink(link).catch(() => null);
  if (target === null) return "?";
  return ctx.policy.mayName(isAbsolute(target) ? target : join(folder, target)) ? target : "(outside the folders this caller may use)";
}

/**
 * A folder's entries as `ls -l` would show them, one per line, sorted by name: type and permissions, owner, size,
 * modification time, name (with `/` for folders and the target of symlinks). Symlinks are shown, never followed.
 * The folder is opened once and checked by its real path; its entries are looked at through that descriptor.
 */
export async function list(params: ActionParams<"list">, ctx: FileActionContext): Promise<ActionOutcome> {
  const dir = await openDirectoryVerified(params.path, ctx.policy);
  try {
    return await listOpened(params, dir, ctx);
  } finally {
    await dir.handle.close();
  }
}

async function listOpened(params: ActionParams<"list">, dir: Awaited<ReturnType<typeof openDirectoryVerified>>, ctx: FileActionContext): Promise<ActionOutcome> {
  const names = await readdir(childPath(dir, ".")).catch((err: unknown) => {
    throw fsFailure(err, params.path);
  });
  names.sort();
  const shown = names.slice(0, params.limit);
  const [user, group] = await Promise.all([userNames(), groupNames()]);
  const lines = await Promise.all(
    shown.map(async (name) => {
      const full = childPath(dir, name);
      const info = await lstat(full).catch(() => null);
      if (!info) return `? ${name} (vanished or unreadable)`;
      const kind = typeOf(info);
      const target = kind === "l" ? ` -> ${await linkTarget(full, dir.real, ctx)}` : "";
      const when = info.mtime.toISOString().slice(0, 16);
      return `${kind}${permissions(info.mode)} ${user(info.uid)}:${group(info.gid)} ${info.size} ${when} ${name}${kind === "d" ? "/" : ""}${target}`;
    }),
  );
  ctx.signal.throwIfAborted();
  const header = names.length > shown.length ? `${params.path}: ${names.length} entries, showing the first ${shown.length}` : `${params.path}: ${names.length} entries`;
  ctx.out.write(capText([header, ...lines].join("\n")));
  return {};
}
