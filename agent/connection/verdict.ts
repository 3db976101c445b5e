import { UPGRADE_REFUSALS, closeCodeInfo } from "../../protocol/close-codes.ts";
import { ApiError } from "../../protocol/api-error.ts";

/** Whether a connection ending calls for stopping the agent, and the one line that says why. */
export interface Verdict {
  exit: boolean;
  reason: string;
}

const MAX_HUB_MESSAGE_CHARS = 300;

export function verdictOfClose(code: number, reason: string): Verdict {
  const info = closeCodeInfo(code);
  if (!info) return { exit: false, reason: `connection closed (${code}${reason ? ` ${reason}` : ""})` };
  return { exit: info.agent === "exit", reason: `${info.explanation} [close ${code} ${info.name}]` };
}

/** A refused WebSocket upgrade: only the statuses in UPGRADE_REFUSALS are definite; 429, 5xx and the rest pass. */
export function verdictOfUpgrade(status: number, body: string): Verdict {
  const hubMessage = apiErrorMessage(body);
  const detail = `HTTP ${status}${hubMessage ? `: ${hubMessage}` : ""}`;
  const code = UPGRADE_REFUSALS[status];
  if (code === undefined) return { exit: false, reason: `hub answered ${detail}` };
  return { exit: true, reason: `${closeCodeInfo(code)!.explanation} [${detail}]` };
}

/** Only a well-formed ApiError is quoted: a proxy's HTML error page would bury the line. */
function apiErrorMessage(body: string): string | undefined {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return undefined;
  }
  const parsed = ApiError.safeParse(json);
  return parsed.success ? parsed.data.error.message.slice(0, MAX_HUB_MESSAGE_CHARS) : undefined;
}
