/** Every hub URL the dashboard calls, in one place. */

const enc = encodeURIComponent;

export const AUTH = {
  me: "/api/auth/me",
  login: "/api/auth/login",
  logout: "/api/auth/logout",
  logoutAll: "/api/auth/logout-all",
  password: "/api/auth/password",
  setup: "/api/setup",
  passkeys: "/api/auth/passkeys",
  passkey: (id: string) => `/api/auth/passkeys/${enc(id)}`,
  passkeyRegisterOptions: "/api/auth/passkeys/register/options",
  passkeyRegisterVerify: "/api/auth/passkeys/register/verify",
  passkeyLoginOptions: "/api/auth/passkeys/login/options",
  passkeyLoginVerify: "/api/auth/passkeys/login/verify",
  apiKeys: "/api/auth/api-keys",
  apiKey: (id: string) => `/api/auth/api-keys/${enc(id)}`,
  acceptInvite: "/api/invites/accept",
  /** The caller's own AI key. */
  llmKey: "/api/account/llm-key",
};

export const SITES = "/api/sites";

/** Routes of one site. */
export function sitePaths(site: string) {
  const base = `/api/sites/${enc(site)}`;
  return {
    base,
    live: `${base}/live`,
    agent: `${base}/agent`,
    nodes: `${base}/nodes`,
    node: (id: string) => `${base}/nodes/${enc(id)}`,
    rekey: (id: string) => `${base}/nodes/${enc(id)}/rekey`,
    metrics: (id: string, query: { range: string; since?: number }) => `${base}/nodes/${enc(id)}/metrics${qs(query)}`,
    run: (id: string) => `${base}/nodes/${enc(id)}/directives`,
    processes: (id: string) => `${base}/nodes/${enc(id)}/processes`,
    process: (id: string, name: string) => `${base}/nodes/${enc(id)}/processes/${enc(name)}`,
    processAction: (id: string, name: string, operation: string) => `${base}/nodes/${enc(id)}/processes/${enc(name)}/${enc(operation)}`,
    processLogs: (id: string, name: string, lines: number) => `${base}/nodes/${enc(id)}/processes/${enc(name)}/logs?lines=${lines}`,
    directives: (query: Record<string, string | number | undefined>) => `${base}/directives${qs(query)}`,
    directive: (id: string) => `${base}/directives/${enc(id)}`,
    fanout: (id: string) => `${base}/fanouts/${enc(id)}`,
    cancelDirective: (id: string) => `${base}/directives/${enc(id)}/cancel`,
    fanouts: `${base}/fanouts`,
    cancelFanOut: (id: string) => `${base}/fanouts/${enc(id)}/cancel`,
    activity: (query: Record<string, string | number | undefined>) => `${base}/activity${qs(query)}`,
    settings: `${base}/settings`,
    autonomyEvents: (query: Record<string, string | number | undefined>) => `${base}/autonomy/events${qs(query)}`,
    alertToken: `${base}/alerts/alertmanager/token`,
    members: `${base}/members`,
    member: (userId: string) => `${base}/members/${enc(userId)}`,
    invites: `${base}/invites`,
    invite: (id: string) => `${base}/invites/${enc(id)}`,
    /** The site's AI key (site admins). */
    llmKey: `${base}/llm-key`,
    chat: chatPaths(base),
    roosts: `${base}/roosts`,
    roostVersions: (roost: string) => `${base}/roosts/${enc(roost)}/versions`,
    roostDiff: (roost: string, from: number, to: number) => `${base}/roosts/${enc(roost)}/diff${qs({ from, to })}`,
    rollbacks: (roost: string) => `${base}/roosts/${enc(roost)}/rollbacks`,
    deployments: (roost?: string) => `${base}/roost/deployments${qs({ roost })}`,
    deployment: (id: string) => `${base}/roost/deployments/${enc(id)}`,
    deploymentEvents: (id: string) => `${base}/roost/deployments/${enc(id)}/events`,
    promote: (id: string) => `${base}/roost/deployments/${enc(id)}/promote`,
    abort: (id: string) => `${base}/roost/deployments/${enc(id)}/abort`,
  };
}

/** The AI chat of one site. */
function chatPaths(base: string) {
  const conversation = (id: string) => `${base}/conversations/${enc(id)}`;
  return {
    setup: `${base}/chat`,
    conversations: (query: Record<string, string | number | undefined> = {}) => `${base}/conversations${qs(query)}`,
    conversation,
    messages: (id: string) => `${conversation(id)}/messages`,
    stop: (id: string) => `${conversation(id)}/stop`,
    continue: (id: string) => `${conversation(id)}/continue`,
    decide: (id: string, toolCallId: string) => `${conversation(id)}/confirmations/${enc(toolCallId)}`,
    socket: (id: string) => `${conversation(id)}/socket`,
  };
}

export function qs(query: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== "") params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : "";
}
