import { existsSync, writeFileSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";
import { waitForExit, type ProcessExit } from "../actions/process-group.ts";
import { shellCommand } from "../actions/shell.ts";
import { TrackedProcesses } from "../processes/tracked-processes.ts";
import { identityOf } from "../supervisor/proc-info.ts";
import { RunSpec, type RunState, type RunStatus, readJson, runFiles, writeJsonAtomic } from "./run-files.ts";
import { TailBuffer } from "./tail-buffer.ts";
import { MAX_RUN_TAIL_BYTES } from "../../protocol/limits.ts";

/** Output and status reach disk at most this often, so a chatty run does not turn into a stream of file writes. */
const FLUSH_MS = 1_000;

function ending(exit: ProcessExit, cancelled: boolean, stalled: boolean, spec: RunSpec): { state: RunState; reason?: string } {
  if (cancelled) return { state: "cancelled", reason: "cancelled on request" };
  if (stalled) return { state: "stalled", reason: `no output for ${spec.stallTimeoutMs} ms` };
  if (exit.error) return { state: "failed", reason: `could not start the command: ${exit.error.message}` };
  if (exit.code === 0) return { state: "done" };
  return { state: "failed", reason: exit.code === null ? `killed by ${exit.signal}` : `exit code ${exit.code}` };
}

/**
 * Runs one long command to its end inside the watcher process, apart from the agent so the run outlives it:
 * records status and the output's tail, stops every process of the run when it stays silent too long, and
 * leaves `callback.pending` for the agent to report the ending.
 */
export async function superviseRun(dir: string): Promise<void> {
  const files = runFiles(dir);
  const spec = readJson(files.spec, RunSpec);
  if (!spec) throw new Error(`no valid run spec in ${dir}`);

  const { file, args } = shellCommand(spec.command);
  const processes = new TrackedProcesses(spec.tracking, spec.user);
  const child = processes.spawn(file, args, { cwd: spec.cwd });
  // Read before this process can reap the child, so the PID still names the command and not a later process.
  const command = child.pid !== undefined ? identityOf(child.pid) : null;
  const watcher = identityOf(process.pid);
  const status: RunStatus = {
    runId: spec.runId,
    state: "running",
    watcherPid: process.pid,
    pid: child.pid ?? null,
    startedAt: Date.now(),
    endedAt: null,
    lastOutputAt: null,
    exitCode: null,
    outputBytes: 0,
    // Without a boot id, start ticks would not survive a reboot as an identity: record none rather than a weak one.
    ...(watcher?.bootId && { bootId: watcher.bootId, watcherStartTicks: watcher.startTicks, pidStartTicks: command?.startTicks ?? null }),
  };
  writeJsonAtomic(files.status, status);

  let stalled = false;
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping = processes.terminate(spec.killGraceMs);
  };
  // The agent writes the cancel marker before reading the status; we wrote the status before reading the marker.
  // So a cancel that races the start is seen by at least one of us.
  if (existsSync(files.cancelRequested)) stop();
  const stallTimer = setTimeout(() => {
    stalled = true;
    stop();
  }, spec.stallTimeoutMs);

  const tail = new TailBuffer(MAX_RUN_TAIL_BYTES);
  let dirty = false;
  const flush = () => {
    if (!dirty) return;
    dirty = false;
    writeJsonAtomic(files.output, { tail: tail.toString(), totalBytes: status.outputBytes });
    writeJsonAtomic(files.status, status);
  };
  const flusher = setInterval(flush, FLUSH_MS);
  const decoders = [new StringDecoder("utf8"), new StringDecoder("utf8")] as const;
  const collect = (decoder: StringDecoder) => (data: Buffer) => {
    tail.push(decoder.write(data));
    status.outputBytes += data.length;
    status.lastOutputAt = Date.now();
    dirty = true;
    if (!stalled) stallTimer.refresh();
  };
  child.stdout!.on("data", collect(decoders[0]));
  child.stderr!.on("data", collect(decoders[1]));

  const exit = await waitForExit(child);
  clearTimeout(stallTimer);
  // Record the ending only once nothing the command started is left running.
  await stopping;
  processes.release();
  clearInterval(flusher);
  for (const decoder of decoders) tail.push(decoder.end());
  Object.assign(status, ending(exit, existsSync(files.cancelRequested), stalled, spec), { endedAt: Date.now(), exitCode: exit.code });
  dirty = true;
  flush();
  writeFileSync(files.callbackPending, "");
}
