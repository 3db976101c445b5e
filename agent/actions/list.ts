import { lstat, readdir, readlink } from "node:fs/promises";
import type { Stats } from "node:fs";
import { join } from "node:path";
import type { ActionParams } from "../../protocol/directives.ts";
import { capText } from "../host/compact-output.ts";
import { groupNames, userNames } from "../host/users.ts";
import type { ActionContext, ActionOutcome } from "./action-context.ts";
import { fsFailure } from "./action-error.ts";
import { requireDirectory } from "./fs-checks.ts";

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

/**
 * A folder's entries as `ls -l` would show them, one per line, sorted by name: type and permissions, owner, size,
 * modification time, name (with `/` for folders and the target of symlinks). Symlinks are shown, never followed.
 */
export async function list(params: ActionParams<"list">, ctx: ActionContext): Promise<ActionOutcome> {
  await requireDirectory(params.path);
  const names = await readdir(params.path).catch((err: unknown) => {
    throw fsFailure(err, params.path);
  });
  names.sort();
  const shown = names.slice(0, params.limit);
  const [user, group] = await Promise.all([userNames(), groupNames()]);
  const lines = await Promise.all(
    shown.map(async (name) => {
      const full = join(params.path, name);
      const info = await lstat(full).catch(() => null);
      if (!info) return `? ${name} (vanished or unreadable)`;
      const kind = typeOf(info);
      const target = kind === "l" ? ` -> ${await readlink(full).catch(() => "?")}` : "";
      const when = info.mtime.toISOString().slice(0, 16);
      return `${kind}${permissions(info.mode)} ${user(info.uid)}:${group(info.gid)} ${info.size} ${when} ${name}${kind === "d" ? "/" : ""}${target}`;
    }),
  );
  ctx.signal.throwIfAborted();
  const header = names.length > shown.length ? `${params.path}: ${names.length} entries, showing the first ${shown.length}` : `${params.path}: ${names.length} entries`;
  ctx.out.write(capText([header, ...lines].join("\n")));
  return {};
}
