import { METRICS_EVERY_TICKS, MISSED_HEARTBEATS_ALLOWED } from "../../protocol/limits.ts";

export interface LivenessActions {
  /** A bare ping frame, answered by the hub's runtime without waking its Durable Object. */
  ping(): void;
  /** A full heartbeat with metrics; also the fallback for when the runtime's automatic pong goes stale. */
  heartbeat(): void;
  /** Nothing at all has arrived from the hub for MISSED_HEARTBEATS_ALLOWED intervals. */
  silent(silentMs: number): void;
}

/** The registered connection's ticker: ping or heartbeat each interval, and the judge of a hub gone silent. */
export class Liveness {
  private timer: NodeJS.Timeout | undefined;
  private ticks = 0;

  constructor(
    private readonly now: () => number,
    private readonly lastHeardAt: () => number,
    private readonly actions: LivenessActions,
  ) {}

  start(intervalMs: number): void {
    this.stop();
    this.timer = setInterval(() => this.tick(intervalMs), intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(intervalMs: number): void {
    const silentMs = this.now() - this.lastHeardAt();
    if (silentMs >= MISSED_HEARTBEATS_ALLOWED * intervalMs) {
      this.stop();
      this.actions.silent(silentMs);
      return;
    }
    this.ticks += 1;
    if (this.ticks % METRICS_EVERY_TICKS === 0) this.actions.heartbeat();
    else this.actions.ping();
  }
}
