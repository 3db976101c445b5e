import { afterEach, describe, expect, it } from "vitest";
import { firstInstantAt, nextScheduleChange, withinSchedule } from "../../agent/supervisor/schedule.ts";
import { ScheduleWindow } from "../../protocol/processes.ts";
import { waitFor } from "../support/wait-for.ts";
import { cleanUp, config, FakeLink, marker, pidsWith, sh, supervisor, waitForKinds } from "./supervisor-harness.ts";

const PARIS = "Europe/Paris";
const utc = (iso: string) => Date.parse(`${iso}Z`);
const windows = (...w: unknown[]) => w.map((x) => ScheduleWindow.parse(x));

describe("schedule windows on the machine's clock", () => {
  it("reads days and times in the machine's zone, and runs an end at or before the start past midnight", () => {
    const office = windows({ days: ["mon", "tue", "wed", "thu", "fri"], start: "09:00", end: "17:00" });
    // Monday 2 March 2026, Paris is UTC+1.
    expect(withinSchedule(office, utc("2026-03-02T07:59:00"), PARIS)).toBe(false);
    expect(withinSchedule(office, utc("2026-03-02T08:00:00"), PARIS)).toBe(true);
    expect(withinSchedule(office, utc("2026-03-02T15:59:59"), PARIS)).toBe(true);
    expect(withinSchedule(office, utc("2026-03-02T16:00:00"), PARIS)).toBe(false);
    expect(withinSchedule(office, utc("2026-03-02T08:00:00"), "UTC")).toBe(false);
    expect(withinSchedule(office, utc("2026-03-02T09:00:00"), "UTC")).toBe(true);
    expect(withinSchedule(office, utc("2026-03-07T10:00:00"), PARIS)).toBe(false);

    const night = windows({ days: ["fri"], start: "22:00", end: "06:00" });
    expect(withinSchedule(night, utc("2026-03-06T20:59:00"), PARIS)).toBe(false);
    expect(withinSchedule(night, utc("2026-03-06T21:00:00"), PARIS)).toBe(true);
    expect(withinSchedule(night, utc("2026-03-07T04:59:00"), PARIS)).toBe(true);
    expect(withinSchedule(night, utc("2026-03-07T05:00:00"), PARIS)).toBe(false);
    // Saturday night is not Friday night.
    expect(withinSchedule(night, utc("2026-03-07T22:00:00"), PARIS)).toBe(false);
    expect(nextScheduleChange(night, utc("2026-03-07T22:00:00"), PARIS)).toBe(utc("2026-03-13T21:00:00"));
  });

  it("starts a window that falls in the hour skipped in spring when the clock jumps past it", () => {
    // Sunday 29 March 2026: at 02:00 CET (01:00 UTC) Paris clocks jump to 03:00 CEST.
    expect(firstInstantAt(Date.UTC(2026, 2, 29, 2, 30), PARIS)).toBe(utc("2026-03-29T01:00:00"));
    const w = windows({ days: ["sun"], start: "02:30", end: "04:00" });
    expect(withinSchedule(w, utc("2026-03-29T00:59:00"), PARIS)).toBe(false);
    expect(withinSchedule(w, utc("2026-03-29T01:00:00"), PARIS)).toBe(true);
    expect(withinSchedule(w, utc("2026-03-29T01:59:00"), PARIS)).toBe(true);
    expect(withinSchedule(w, utc("2026-03-29T02:00:00"), PARIS)).toBe(false);
    expect(nextScheduleChange(w, utc("2026-03-29T00:30:00"), PARIS)).toBe(utc("2026-03-29T01:00:00"));
  });

  it("does not reopen a window in the hour repeated in autumn", () => {
    // Sunday 25 October 2026: at 03:00 CEST (01:00 UTC) Paris clocks go back to 02:00 CET; 02:00-03:00 happens twice.
    expect(firstInstantAt(Date.UTC(2026, 9, 25, 2, 30), PARIS)).toBe(utc("2026-10-25T00:30:00"));
    const w = windows({ days: ["sun"], start: "00:00", end: "02:30" });
    expect(withinSchedule(w, utc("2026-10-24T21:59:00"), PARIS)).toBe(false);
    expect(withinSchedule(w, utc("2026-10-24T22:00:00"), PARIS)).toBe(true);
    expect(withinSchedule(w, utc("2026-10-25T00:29:00"), PARIS)).toBe(true);
    expect(withinSchedule(w, utc("2026-10-25T00:30:00"), PARIS)).toBe(false);
    // 02:15 on the clock again, an hour later: the window already closed.
    expect(withinSchedule(w, utc("2026-10-25T01:15:00"), PARIS)).toBe(false);
    // A window over the whole repeated hour lasts two real hours, once.
    const long = windows({ days: ["sun"], start: "02:00", end: "03:00" });
    expect(withinSchedule(long, utc("2026-10-25T00:00:00"), PARIS)).toBe(true);
    expect(withinSchedule(long, utc("2026-10-25T01:30:00"), PARIS)).toBe(true);
    expect(withinSchedule(long, utc("2026-10-25T02:00:00"), PARIS)).toBe(false);
  });
});

const marks: string[] = [];
afterEach(() => cleanUp(marks));

describe("a scheduled process, on an injected clock", () => {
  it("starts when its window opens (after its start delay), stops when it closes, and honours a start by hand in between", async () => {
    const m = marker();
    marks.push(m);
    let clock = utc("2026-03-02T07:59:00");
    const link = new FakeLink();
    const s = supervisor({ now: () => clock, timeZone: PARIS, tickMs: 3_600_000 });
    s.connected(link.send);
    s.start();
    s.applyConfig(
      config({
        name: "kiosk",
        ...sh("sleep 600", m),
        launchMode: "scheduled",
        schedule: [{ days: ["mon"], start: "09:00", end: "17:00" }],
        startupSeconds: 0,
        startDelaySeconds: 30,
        stopGraceSeconds: 2,
      }),
    );
    const state = () => s.status().processes[0]!;
    s.tick();
    expect(state()).toMatchObject({ state: "stopped", pid: null });

    clock = utc("2026-03-02T08:00:00");
    s.tick();
    expect(state()).toMatchObject({ state: "waiting", nextStartAt: utc("2026-03-02T08:00:30") });
    clock = utc("2026-03-02T08:00:29");
    s.tick();
    expect(state().state).toBe("waiting");
    clock = utc("2026-03-02T08:00:30");
    s.tick();
    const [started] = await waitForKinds(link, ["started"], "kiosk");
    expect(started).toMatchObject({ cause: "schedule", at: utc("2026-03-02T08:00:30") });
    const pid = state().pid!;
    expect(pidsWith(m)).toEqual([pid]);

    clock = utc("2026-03-02T16:00:00");
    s.tick();
    const [, stopped] = await waitForKinds(link, ["started", "stopped"], "kiosk");
    expect(stopped).toMatchObject({ cause: "schedule", pid });
    await waitFor("stopped", () => pidsWith(m).length === 0);

    // Outside its window, started by hand: it runs, held, until the schedule agrees and later closes again.
    clock = utc("2026-03-02T18:00:00");
    const outcome = await s.startByHand("kiosk");
    expect(outcome).toMatchObject({ ok: true, status: { held: "running" } });
    clock = utc("2026-03-09T08:00:00");
    s.tick();
    expect(state()).toMatchObject({ state: "running", held: null, pid: outcome.status.pid });
    clock = utc("2026-03-09T16:00:00");
    s.tick();
    await waitForKinds(link, ["started", "stopped", "started", "stopped"], "kiosk");
    expect(state().state).toBe("stopped");
  });
});
