import { spawn, type ChildProcess, type StdioOptions } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import * as z from "zod";
import { actionEnvironment } from "../privilege/action-environment.ts";
import { actionCommand } from "../privilege/spawn-as.ts";
import type { ActionUser } from "../privilege/action-user.ts";
import { terminateGroup } from "../actions/process-group.ts";
import { cgroupMembers, createCgroup, killCgroup, removeCgroup } from "./cgroup.ts";
import { environmentValues, processTable, type ProcessEntry } from "./proc-table.ts";

/** Inherited by every process an action starts, whatever session or process group it moves to. */
export const MARKER_VARIABLE = "CORTEX_ACTION_MARK";
const POLL_MS = 25;
/** How long SIGKILL may take to empty the set before giving up (a process stuck in the kernel cannot be killed). */
const KILL_WAIT_MS = 5_000;

/** How one directive's (or long run's) processes are found again; kept in the journal so a restarted agent can. */
export const ProcessTracking = z.object({
  marker: z.string().regex(/^[a-z0-9-]{1,80}$/),
  /** Its own cgroup v2 folder, where the machine allows one; otherwise session, descendants and marker. */
  cgroup: z.string().startsWith("/").nullable(),
});
export type ProcessTracking = z.infer<typeof ProcessTracking>;

export function newTracking(cgroupParent: string | null, kind: "d" | "r" | "s"): ProcessTracking {
  const marker = `${kind}-${Date.now().toString(36)}-${randomBytes(6).toString("hex")}`;
  return { marker, cgroup: cgroupParent ? join(cgroupParent, `cortex-${marker}`) : null };
}

export interface SpawnOptions {
  cwd?: string;
  stdio?: StdioOptions;
  /** Replaces the action environment (the action user's HOME, USER, PATH...); the marker is added either way. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Every process one directive started, as a set the OS keeps track of: its cgroup where there is one, else the
 * sessions it spawned, their descendants and every process carrying its marker. `terminate` reaches them all.
 */
export class TrackedProcesses {
  private readonly sessions = new Set<number>();
  private cgroupCreated = false;

  constructor(
    readonly tracking: ProcessTracking,
    private readonly user: ActionUser,
  ) {}

  /** Whether programs started here run as another user than the agent. */
  get switched(): boolean {
    return this.user.switched;
  }

  /** Whether the programs started here run as root (tier root, or an agent that is root and does not switch). */
  get runsAsRoot(): boolean {
    return process.platform === "win32" || this.user.uid === 0;
  }

  /** Starts a program as the action user, with a clean environment, in a session of its own, inside this set. */
  spawn(file: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    if (this.tracking.cgroup && !this.cgroupCreated) {
      createCgroup(this.tracking.cgroup);
      this.cgroupCreated = true;
    }
    const command = actionCommand(this.user, file, args, this.tracking.cgroup);
    const child = spawn(command.file, command.args, {
      cwd: options.cwd,
      detached: true,
      stdio: options.stdio ?? ["ignore", "pipe", "pipe"],
      env: { ...(options.env ?? actionEnvironment(this.user)), [MARKER_VARIABLE]: this.tracking.marker },
      windowsHide: true,
    });
    if (child.pid !== undefined) this.sessions.add(child.pid);
    return child;
  }

  /** The processes in the set now. */
  members(): number[] {
    return trackedMembers(this.tracking, this.sessions);
  }

  /** Stops every process in the set, escalating SIGINT → SIGTERM → SIGKILL, then removes its cgroup. */
  async terminate(graceMs: number): Promise<void> {
    if (process.platform === "win32") {
      await Promise.all([...this.sessions].map((pid) => terminateGroup(pid, graceMs)));
      return;
    }
    await terminateTracked(this.tracking, graceMs, this.sessions);
  }

  /** Forgets the cgroup once nothing is left in it; what a finished command left running keeps it alive. */
  release(): boolean {
    return !this.tracking.cgroup || !this.cgroupCreated || removeCgroup(this.tracking.cgroup);
  }
}

/** Where one tracked set's processes are looked for. */
export interface TrackedSet {
  /** Null for an instance an older agent started without one: its sessions and their descendants are all it has. */
  tracking: ProcessTracking | null;
  /** Sessions whose every process is the set's (the sessions it spawned). */
  sessions: ReadonlySet<number>;
  /** Processes an earlier look found: still the set's while alive, even orphaned and out of its sessions. */
  known?: ReadonlySet<number>;
}

/**
 * The processes of a tracked set now. Without a cgroup: its sessions, the processes carrying its marker, their
 * descendants, and every process found by an earlier call on the same `known` set that is still alive (a child
 * whose parent was just killed is an orphan, no longer a descendant, but still ours). `variable` names the
 * environment variable that carries the marker (supervised processes have their own).
 */
export function trackedMembers(
  tracking: ProcessTracking,
  sessions: ReadonlySet<number> = new Set(),
  known: Set<number> = new Set(),
  variable: string = MARKER_VARIABLE,
): number[] {
  const members = membersOfSets(new Map([[0, { tracking, sessions, known }]]), variable).get(0)!;
  for (const pid of members) known.add(pid);
  return members;
}

/**
 * The processes of several tracked sets now, each as `trackedMembers` finds them, from one read of the process table
 * and at most one read of each process's environment, however many sets: what runs on every heartbeat stays cheap.
 * Every key of `sets` is in the answer. A process two sets could claim is counted in one only.
 */
export function membersOfSets<K>(sets: ReadonlyMap<K, TrackedSet>, variable: string = MARKER_VARIABLE): Map<K, number[]> {
  const members = new Map<K, number[]>();
  const uncontained = new Map<K, TrackedSet>();
  for (const [key, set] of sets) {
    if (set.tracking?.cgroup) members.set(key, cgroupMembers(set.tracking.cgroup));
    else uncontained.set(key, set);
  }
  if (uncontained.size > 0) for (const [key, pids] of membersFromTable(uncontained, variable)) members.set(key, pids);
  return members;
}

/** The sets' processes by session, earlier finds, marker and descent, for sets without a cgroup. */
function membersFromTable<K>(sets: ReadonlyMap<K, TrackedSet>, variable: string): Map<K, number[]> {
  const table = processTable().filter((p) => p.pid !== process.pid);
  const { bySession, byKnown, byMarker } = lookups(sets);
  const children = childrenByParent(table);
  const owner = new Map<number, K>();
  // Descendants too, claimed at once so that their environment need not be read: a child that cleared its
  // environment and left the session is still a child until it is orphaned.
  const claim = (pid: number, key: K) => {
    for (const stack = [pid]; stack.length > 0; ) {
      const next = stack.pop()!;
      if (owner.has(next)) continue;
      owner.set(next, key);
      // One at a time: a spread of a hundred thousand children would overflow the call stack.
      for (const child of children.get(next) ?? []) stack.push(child);
    }
  };
  for (const p of table) {
    const key = byKnown.get(p.pid) ?? bySession.get(p.sid);
    if (key !== undefined) claim(p.pid, key);
  }
  if (byMarker.size > 0) {
    const markersOf = environmentValues(table, variable);
    for (const p of table) {
      if (owner.has(p.pid)) continue;
      const key = markersOf(p)
        .map((value) => byMarker.get(value))
        .find((found) => found !== undefined);
      if (key !== undefined) claim(p.pid, key);
    }
  }
  const members = new Map<K, number[]>([...sets.keys()].map((key) => [key, []]));
  for (const [pid, key] of owner) members.get(key)!.push(pid);
  return members;
}

/** Which set a session, an earlier find or a marker points to. */
function lookups<K>(sets: ReadonlyMap<K, TrackedSet>) {
  const bySession = new Map<number, K>();
  const byKnown = new Map<number, K>();
  const byMarker = new Map<string, K>();
  for (const [key, set] of sets) {
    for (const sid of set.sessions) bySession.set(sid, key);
    for (const pid of set.known ?? []) byKnown.set(pid, key);
    if (set.tracking) byMarker.set(set.tracking.marker, key);
  }
  return { bySession, byKnown, byMarker };
}

function childrenByParent(table: readonly ProcessEntry[]): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const p of table) {
    const siblings = children.get(p.ppid);
    if (siblings) siblings.push(p.pid);
    else children.set(p.ppid, [p.pid]);
  }
  return children;
}

export function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

async function emptyWithin(tracking: ProcessTracking, sessions: ReadonlySet<number>, known: Set<number>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (trackedMembers(tracking, sessions, known).length === 0) return true;
    if (Date.now() >= deadline) return false;
    await sleep(POLL_MS);
  }
}

/**
 * Stops every process of a tracked set, whoever started it: used on cancel and timeout, and by a restarted agent on
 * the directives its predecessor left running.
 */
export async function terminateTracked(tracking: ProcessTracking, graceMs: number, sessions: ReadonlySet<number> = new Set()): Promise<void> {
  const known = new Set<number>();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    const members = trackedMembers(tracking, sessions, known);
    if (members.length === 0) break;
    signalAll(members, signal);
    if (await emptyWithin(tracking, sessions, known, graceMs)) break;
  }
  await killTracked(tracking, sessions, known);
}

/**
 * SIGKILL to every process of a tracked set until none is left (or the wait runs out), then its cgroup goes. `known`
 * carries what earlier looks found: orphans of a killed parent are no longer its descendants, but still the set's.
 */
export async function killTracked(
  tracking: ProcessTracking,
  sessions: ReadonlySet<number>,
  known: Set<number> = new Set(),
  variable: string = MARKER_VARIABLE,
): Promise<void> {
  const deadline = Date.now() + KILL_WAIT_MS;
  for (;;) {
    const members = trackedMembers(tracking, sessions, known, variable);
    if (members.length === 0 || Date.now() >= deadline) break;
    if (!tracking.cgroup || !killCgroup(tracking.cgroup)) signalAll(members, "SIGKILL");
    await sleep(POLL_MS);
  }
  if (tracking.cgroup) removeCgroup(tracking.cgroup);
}
