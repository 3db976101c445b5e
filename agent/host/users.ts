import { readFile } from "node:fs/promises";

/** Names by numeric id from a colon-separated database (/etc/passwd, /etc/group): name first, id third. */
async function namesFrom(file: string): Promise<(id: number) => string> {
  const names = new Map<number, string>();
  try {
    for (const line of (await readFile(file, "utf8")).split("\n")) {
      const [name, , id] = line.split(":");
      if (name && id && /^[0-9]+$/.test(id) && !names.has(Number(id))) names.set(Number(id), name);
    }
  } catch {
    // no such database (Windows, a minimal container): numbers only
  }
  return (id) => names.get(id) ?? String(id);
}

/**
 * User names by uid, from /etc/passwd (world-readable; it holds no password hashes on any current system). Users
 * from a directory service are not in it and are shown by number.
 */
export function userNames(): Promise<(uid: number) => string> {
  return namesFrom("/etc/passwd");
}

export function groupNames(): Promise<(gid: number) => string> {
  return namesFrom("/etc/group");
}
