import { lstatSync, type Stats } from "node:fs";

const STICKY = 0o1000;

/** The entry itself (a link is not followed), or null when there is none. */
export function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

/**
 * Why a folder with these owner and mode bits is one another user could tamper with (rename or replace what is in
 * it), or null: owned by someone other than `uid` or root, or writable by its group or others. A sticky folder such
 * as /tmp, where others cannot rename what is not theirs, passes when `allowSticky`.
 */
export function unsafeFolder(info: { uid: number; mode: number }, uid: number, allowSticky: boolean): string | null {
  if (info.uid !== uid && info.uid !== 0) return `is owned by uid ${info.uid}, not by this user (${uid}) or root`;
  if ((info.mode & 0o022) !== 0 && !(allowSticky && (info.mode & STICKY) !== 0)) {
    return `is writable by ${info.mode & 0o020 ? "its group" : "others"} (mode ${(info.mode & 0o7777).toString(8).padStart(4, "0")})`;
  }
  return null;
}
