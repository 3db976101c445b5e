/** Numbers both ends agree on. Cloudflare refuses received WebSocket messages over 1 MiB, so frames stay below it. */
export const MAX_FRAME_BYTES = 1024 * 1024;
/** Output kept inline in a `result`: under the frame limit with room for JSON escaping and the envelope. */
export const MAX_RESULT_OUTPUT_BYTES = 512 * 1024;
/**
 * A fan-out's JSON answer goes back whole in one RPC result, which Workers cap at 32 MiB, and sits in the site
 * object's memory (128 MB per isolate) until the fan-out ends. Text is counted in characters: one stored as two bytes
 * a character still serialises within the cap. Past this, members' outputs are left out of the answer.
 */
export const MAX_FAN_OUT_ANSWER_CHARS = 12 * 1024 * 1024;
/** What a member's record costs in a fan-out answer besides its params and output (ids, times, status, codes). */
export const FAN_OUT_ANSWER_MEMBER_CHARS = 512;
/** Output kept per directive on the hub, assembled from stream chunks. */
export const MAX_STORED_OUTPUT_BYTES = 1024 * 1024;
/** Stream chunks stored per directive: many tiny chunks must not cost more rows than the output cap is worth. */
export const MAX_STORED_CHUNKS = 16_384;
/** One stream chunk carries at most this much text. */
export const MAX_CHUNK_BYTES = 64 * 1024;
/** Work messages in one `batch` frame (the frame's byte limit applies as well). */
export const MAX_BATCH_MESSAGES = 256;
/** How long an agent holds a directive's ack and output before sending them, so a quick directive ends in one frame. */
export const BATCH_WINDOW_MS = 4;
/** A result's text: its output cap plus room for the note that says it was truncated. */
export const MAX_RESULT_TEXT_CHARS = MAX_RESULT_OUTPUT_BYTES + 1024;
/** The tail of a long run's output the agent keeps and reports when the run ends. */
export const MAX_RUN_TAIL_BYTES = 64 * 1024;

export const DEFAULT_HEARTBEAT_MS = 5_000;
export const MIN_HEARTBEAT_MS = 1_000;
export const MAX_HEARTBEAT_MS = 60_000;
/** A node that misses this many heartbeat intervals is considered gone. */
export const MISSED_HEARTBEATS_ALLOWED = 3;
/** Every how many heartbeat ticks the agent sends a full `heartbeat` (metrics) instead of a bare ping. */
export const METRICS_EVERY_TICKS = 2;
/** A socket that has not registered within this time is closed. */
export const REGISTER_TIMEOUT_MS = 10_000;
/**
 * Sockets opened without a token (an older agent sends it in `register`) waiting to register on a site at once: each
 * holds one of the site object's sockets for up to REGISTER_TIMEOUT_MS, and anyone may open them.
 */
export const MAX_ANONYMOUS_PENDING = 64;
/** Invalid messages tolerated on one connection before it is closed. */
export const MAX_INVALID_MESSAGES = 20;

/** Liveness ping answered by the runtime without waking the Durable Object. */
export const PING_FRAME = "ping";
export const PONG_FRAME = "pong";
/** Dashboards ping their live socket this often, since Cloudflare's proxy drops sockets idle for 100 s. */
export const LIVE_KEEPALIVE_MS = 30_000;
/**
 * Heartbeats reach the dashboards' live sockets gathered, at most this often: at 10,000 nodes one message per
 * heartbeat would be a thousand messages a second to every viewer, each a row read and a send on the site's one thread.
 */
export const LIVE_BEATS_MS = 1_000;
/** Live pages (dashboard sockets) one person may have open on a site at once: every tab of theirs, with room to spare. */
export const MAX_VIEWERS_PER_PERSON = 32;
/** Live pages open on a site at once, everyone's together: they share the site object's sockets with its machines. */
export const MAX_VIEWERS_PER_SITE = 1_000;

export const DEFAULT_RECONNECT_MS = 1_000;
export const MAX_RECONNECT_MS = 30_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export const DEFAULT_BASH_TIMEOUT_MS = 120_000;
export const MAX_BASH_TIMEOUT_MS = 600_000;
export const DEFAULT_STALL_TIMEOUT_MS = 10 * 60_000;
export const MAX_STALL_TIMEOUT_MS = 7 * 24 * 3600_000;
export const MAX_GLOB_RESULTS = 500;
export const MAX_READ_BYTES = 10 * 1024 * 1024;
export const MAX_WRITE_BYTES = 768 * 1024;

/** API request bodies larger than this are refused before parsing. */
export const MAX_API_BODY_BYTES = 1024 * 1024;

/**
 * Output of a machine action (diagnostics, management, power) is kept below this: each action bounds what it lists,
 * and anything still larger is cut with a note. Tool output is read by a model, where every byte costs.
 */
export const MAX_MACHINE_OUTPUT_BYTES = 64 * 1024;
