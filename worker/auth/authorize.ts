import { ACTION_RISK, READ_ONLY_RISK, type RiskTier } from "../../protocol/action-risk.ts";
import { principalId, SITE_PERMISSIONS, type Permission, type Principal } from "./principal.ts";

/** The site a request is about, and whether it exists. */
export interface SiteRef {
  id: string;
  exists: boolean;
}

export interface AccessRequest {
  permission: Permission;
  /** For `directives.run` and `processes.manage`: the risk tier of the action or the change. */
  tier?: RiskTier;
  /** For `chat.use` and `chat.review` on one conversation: who owns it. */
  owner?: string;
}

export type Decision = { allowed: true } | { allowed: false; status: 401 | 403 | 404; code: string; message: string };

/** Permissions a member (or a read or chat key) has on a site: looking, never changing. */
const READ_PERMISSIONS: ReadonlySet<Permission> = new Set<Permission>(["settings.read", "members.read", "nodes.read", "directives.read", "activity.read", "roost.read", "chat.use"]);

/** Permissions that make machines act, with the risk tier of what they make them do. */
const PERMISSION_RISK: Partial<Record<Permission, RiskTier>> = {
  "roost.deploy": ACTION_RISK["roost.deploy"],
  "roost.rollback": ACTION_RISK["roost.activate"],
};

const WHAT: Record<Permission, string> = {
  public: "do this",
  "account.read": "see this account",
  "account.manage": "manage an account",
  "account.llm": "change the account's AI key",
  "sites.create": "create sites",
  "audit.read": "read the audit trail",
  "settings.read": "see the site's settings",
  "site.manage": "change the site's settings",
  "members.read": "list members",
  "members.manage": "manage members and invites",
  "nodes.read": "see nodes",
  "nodes.manage": "manage nodes",
  "directives.read": "see directives",
  "directives.run": "run actions",
  "files.readAnywhere": "read outside the site's readable paths",
  "activity.read": "read the activity log",
  "activity.audit": "read the site's access events",
  "processes.manage": "change supervised processes",
  "roost.read": "see roosts and deployments",
  "roost.push": "push roost versions",
  "roost.deploy": "deploy roost versions",
  "roost.rollback": "roll roost deployments back",
  "chat.use": "chat",
  "chat.review": "see other people's conversations",
  "alerts.post": "post Alertmanager alerts",
};

/** The least a change of supervised processes can be: when and how one runs (tier 2). */
const PROCESS_CHANGE_RISK: RiskTier = 2;

const allow: Decision = { allowed: true };

function deny(status: 401 | 403 | 404, code: string, message: string): Decision {
  return { allowed: false, status, code, message };
}

/**
 * The one place that decides whether a principal may do something, on a site or on the hub. Every route asks
 * it, through the route guard (and, for actions, `refuseAction`); nothing else grants or refuses access.
 */
export function authorize(principal: Principal, site: SiteRef | null, request: AccessRequest): Decision {
  const { permission } = request;
  if (permission === "public") return allow;
  if (principal.kind === "anonymous") return deny(401, "unauthorized", "sign in, or send Authorization: Bearer <api key>");
  if (principal.kind === "alert_webhook") {
    if (permission !== "alerts.post") return deny(403, "forbidden", "an Alertmanager token may only post alerts");
    if (!site || site.id !== principal.site) return deny(403, "no_site_access", `this Alertmanager token belongs to site ${principal.site}`);
    return site.exists ? allow : deny(404, "site_not_found", `site ${site.id} not found`);
  }
  if (permission === "alerts.post") return deny(403, "alert_token_required", "alerts are posted with the site's Alertmanager token (a site admin makes one)");
  if (permission === "account.read") return allow;

  if (permission === "account.manage") {
    if (principal.kind === "session" || principal.kind === "sso") return allow;
    return principal.kind === "admin_key"
      ? deny(403, "account_required", "the admin key belongs to no account: sign in as a person to manage an account")
      : deny(403, "session_required", "API keys cannot manage accounts: sign in to the dashboard");
  }

  const superadmin = principal.kind === "admin_key" || principal.user.superadmin;
  const scope = principal.kind === "api_key" ? principal.apiKey!.scope : null;
  const keyLimit = scope === "read" || scope === "chat" ? `a ${scope} API key` : null;

  if (permission === "account.llm") {
    if (principal.kind === "admin_key") return deny(403, "account_required", "the admin key belongs to no account: sign in as a person, or use --site-key");
    return keyLimit ? deny(403, "forbidden", `${keyLimit} may not ${WHAT[permission]}`) : allow;
  }

  if (!SITE_PERMISSIONS.has(permission)) {
    if (!superadmin) return deny(403, "forbidden", `only superadmins may ${WHAT[permission]}`);
    if (keyLimit) return deny(403, "forbidden", `${keyLimit} may not ${WHAT[permission]}`);
    return allow;
  }

  if (!site) return deny(403, "forbidden", `${WHAT[permission]} needs a site`);
  const role = superadmin ? "superadmin" : principal.roles[site.id];
  if (!role) return deny(403, "no_site_access", `you are not a member of site ${site.id}`);
  if (!site.exists) return deny(404, "site_not_found", `site ${site.id} not found`);

  const limit = role === "member" ? `members of site ${site.id}` : keyLimit;
  const risk = permission === "directives.run" ? (request.tier ?? READ_ONLY_RISK) : PERMISSION_RISK[permission];
  if (risk !== undefined) {
    if (limit && risk > READ_ONLY_RISK) {
      const what = permission === "directives.run" ? "this one" : `to ${WHAT[permission]}`;
      return deny(403, "action_not_allowed", `${limit} may run only read-only actions (risk tier ${READ_ONLY_RISK}); ${what} is tier ${risk}`);
    }
    return allow;
  }
  if (permission === "processes.manage") {
    // The route's own guard runs before the body says which change it is: then only the lower bound is known.
    const tier = request.tier === undefined ? `${PROCESS_CHANGE_RISK} or more` : String(Math.max(request.tier, PROCESS_CHANGE_RISK));
    if (limit) return deny(403, "action_not_allowed", `${limit} may not ${WHAT[permission]} (this change is risk tier ${tier}; they may do tier ${READ_ONLY_RISK} only)`);
    return allow;
  }
  if (request.owner !== undefined && request.owner === principalId(principal)) return allow;
  if (permission === "chat.use" && request.owner !== undefined) return deny(403, "not_owner", "only the conversation's owner may do this");
  if (permission === "chat.review" && limit) {
    // Whether a conversation exists is itself someone else's business.
    return request.owner !== undefined ? deny(404, "conversation_not_found", "conversation not found") : deny(403, "forbidden", `${limit} may not ${WHAT[permission]}`);
  }
  if (READ_PERMISSIONS.has(permission) || !limit) return allow;
  return deny(403, "forbidden", `${limit} may not ${WHAT[permission]}`);
}
