import type { LaunchMode, Weekday } from "./processes.ts";

// Without zod, so the dashboard's machine page can word a process's launch without loading the schemas.

/** A window as `parseScheduleWindow` reads it back. */
export function scheduleWindowText(w: { days: readonly Weekday[]; start: string; end: string }): string {
  return `${w.days.join(",")} ${w.start}-${w.end}`;
}

/** When a process runs, in a few words: `always`, `off`, or `scheduled mon-fri ...`. */
export function launchText(spec: { launchMode: LaunchMode; schedule: readonly { days: readonly Weekday[]; start: string; end: string }[] }): string {
  return spec.launchMode === "scheduled" ? `scheduled ${spec.schedule.map(scheduleWindowText).join("; ")}` : spec.launchMode;
}
