import type { ScheduleWindow, Weekday } from "../../protocol/processes.ts";

/**
 * Schedule windows are read on the machine's wall clock, in its time zone. Each occurrence of a window is turned into
 * an interval of real time, from the first instant the clock shows `start` on that day to the first instant after it
 * that the clock shows `end`. So a daylight-saving change neither skips nor repeats a window: a start that falls in
 * the hour skipped in spring happens when the clock jumps past it, and the hour repeated in autumn does not reopen a
 * window that already closed.
 */

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const WEEKDAYS: readonly Weekday[] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The wall-clock reading at `at` in `timeZone`, as if that reading were a UTC time (minute precision). */
function wallClock(at: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(at))) {
    if (part.type !== "literal") parts[part.type] = Number(part.value);
  }
  return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!);
}

/** The zone's offset from UTC at `at`, in ms (whole minutes). */
function offsetAt(at: number, timeZone: string): number {
  const minute = Math.floor(at / MINUTE_MS) * MINUTE_MS;
  return wallClock(minute, timeZone) - minute;
}

/**
 * The first instant at which the clock in `timeZone` shows `wall` (a wall-clock reading written as a UTC time) or a
 * later reading. Offsets a day either side cover any one transition; when neither gives back `wall`, the clock skipped
 * it, and the answer is the instant of the jump.
 */
export function firstInstantAt(wall: number, timeZone: string): number {
  const candidates = [...new Set([wall - offsetAt(wall - DAY_MS, timeZone), wall - offsetAt(wall + DAY_MS, timeZone)])].sort((a, b) => a - b);
  const exact = candidates.find((t) => wallClock(t, timeZone) === wall);
  if (exact !== undefined) return exact;
  // A gap: search between the candidates, a minute at a time in halves, for the first reading past `wall`.
  let lo = candidates[0]! - DAY_MS;
  let hi = candidates[candidates.length - 1]! + DAY_MS;
  while (hi - lo > MINUTE_MS) {
    const mid = Math.floor((lo + hi) / 2 / MINUTE_MS) * MINUTE_MS;
    if (wallClock(mid, timeZone) >= wall) hi = mid;
    else lo = mid;
  }
  return hi;
}

function minutesOf(clock: string): number {
  const [h, m] = clock.split(":").map(Number);
  return h! * 60 + m!;
}

export interface Interval {
  start: number;
  end: number;
}

/** The real-time intervals of every window occurrence that starts on the local days around `at`. */
function occurrences(windows: readonly ScheduleWindow[], at: number, timeZone: string, daysBefore: number, daysAfter: number): Interval[] {
  const today = Math.floor(wallClock(at, timeZone) / DAY_MS) * DAY_MS;
  const out: Interval[] = [];
  for (let d = -daysBefore; d <= daysAfter; d++) {
    const day = today + d * DAY_MS;
    const weekday = WEEKDAYS[new Date(day).getUTCDay()]!;
    for (const w of windows) {
      if (!w.days.includes(weekday)) continue;
      const startMin = minutesOf(w.start);
      const endMin = minutesOf(w.end);
      const start = firstInstantAt(day + startMin * MINUTE_MS, timeZone);
      const end = firstInstantAt(day + (endMin > startMin ? 0 : DAY_MS) + endMin * MINUTE_MS, timeZone);
      if (end > start) out.push({ start, end });
    }
  }
  return out;
}

/** Whether a scheduled process should run at `at`. */
export function withinSchedule(windows: readonly ScheduleWindow[], at: number, timeZone: string): boolean {
  return occurrences(windows, at, timeZone, 1, 0).some((o) => o.start <= at && at < o.end);
}

/** The next instant after `at` when the answer of `withinSchedule` may change (a window opening or closing), if any within a week. */
export function nextScheduleChange(windows: readonly ScheduleWindow[], at: number, timeZone: string): number | null {
  let next: number | null = null;
  for (const o of occurrences(windows, at, timeZone, 1, 7)) {
    for (const t of [o.start, o.end]) if (t > at && (next === null || t < next)) next = t;
  }
  return next;
}

/** The machine's time zone, as the agent reads schedules in it. */
export function machineTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}
