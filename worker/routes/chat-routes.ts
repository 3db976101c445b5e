import {
  ConversationId,
  ConversationListQuery,
  CreateConversationRequest,
  DecideRequest,
  SendMessageRequest,
  ToolCallId,
  UpdateConversationRequest,
  type ChatSetupResponse,
  type ConversationSummary,
} from "../../protocol/chat.ts";
import { NO_LLM_KEY_HELP, SUGGESTED_MODELS } from "../../protocol/llm.ts";
import { CHAT_SOCKET_PATH } from "../../durable-objects/conversation/conversation.ts";
import type { SocketOwner } from "../../durable-objects/shared/user-sockets.ts";
import { viewerUrl } from "../../durable-objects/site-hub/live-viewers.ts";
import { llmKeyHome } from "../../durable-objects/shared/llm-keys.ts";
import { authorize } from "../auth/authorize.ts";
import { chatCaller, chatToolTier } from "../auth/chat-access.ts";
import type { Permission } from "../auth/principal.ts";
import { requesterOf } from "../auth/requester.ts";
import { openingOwner } from "../auth/socket-presence.ts";
import { apiError, failure, respond } from "../http/api-error.ts";
import { toEventStream } from "../http/directive-stream.ts";
import { parseBody, parseParam, parseQuery } from "../http/validate.ts";
import { directory } from "./account-context.ts";
import { siteHub, type AppContext, type SiteRoute } from "./site-context.ts";

/**
 * The AI chat under a site. Everyone on the site may chat (with tools capped by role); a conversation is its owner's:
 * only they write in it (messages, continue, approve or deny), site admins may also read, stop and delete it. Each
 * conversation lives in its own Durable Object; these routes authorise and forward. docs/chat.md has the flow.
 */

function conversationStub(c: AppContext, id: string) {
  return c.env.CONVERSATION.get(c.env.CONVERSATION.idFromName(`${c.get("site")}/${id}`));
}

/**
 * Loads the conversation in the URL and asks `authorize` whether the caller may act on it: `chat.use` for what only
 * its owner does, `chat.review` for what site admins may do too. Someone else's conversation that the caller may not
 * see answers 404, as if it did not exist.
 */
/**
 * The conversation of the URL, if the caller may act on it. `reads`: the call returns or streams the transcript, or
 * starts an answer (whose model reads it), or changes where its answers act; a confined caller gets those only from a
 * conversation whose answers all ran confined (`Conversation.confinedOnly`). Stopping, deciding and deleting show
 * nothing of it and widen nothing.
 */
async function load(c: AppContext, permission: Extract<Permission, "chat.use" | "chat.review">, reads = true) {
  const id = parseParam(c, ConversationId, "id");
  if (!id.ok) return { response: id.response };
  const stub = conversationStub(c, id.value);
  const summary = (await stub.summary()) as ConversationSummary | null;
  if (!summary) return { response: apiError(c, 404, "conversation_not_found", "conversation not found") };
  const site = { id: c.get("site"), exists: true };
  const principal = c.get("principal");
  if (permission === "chat.use" && !authorize(principal, site, { permission: "chat.review", owner: summary.ownerId }).allowed) {
    return { response: apiError(c, 404, "conversation_not_found", "conversation not found") };
  }
  const decision = authorize(principal, site, { permission, owner: summary.ownerId });
  if (!decision.allowed) return { response: apiError(c, decision.status, decision.code, decision.message) };
  if (reads && requesterOf(c).confined && !(await stub.confinedOnly())) {
    return {
      response: apiError(c, 403, "not_readable", "this conversation holds answers whose tools ran outside the readable paths; only a caller who may read everywhere (a site admin's own session or admin key) may read or continue it"),
    };
  }
  return { stub, summary, response: null };
}

/**
 * Who opens an event stream or socket, noted as holding it with their credential and their site, so that signing
 * out, a revoked key, removal or demotion closes it (`closeUserSockets`); the admin key opens none such.
 */
function attachingOwner(c: AppContext, conversationId: string): Promise<SocketOwner | null> {
  return openingOwner(c, { kind: "conversation", name: `${c.get("site")}/${conversationId}` });
}

async function stepLimit(c: AppContext): Promise<number> {
  return (await siteHub(c).getSettings()).chatStepLimit;
}

function wantsUpgrade(c: AppContext): Response | null {
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") return apiError(c, 426, "upgrade_required", "expected a WebSocket upgrade");
  // Browsers send cookies with an upgrade from any page: refuse other origins (cross-site WebSocket hijacking).
  const origin = c.req.header("Origin");
  if (origin && origin !== new URL(c.req.url).origin) return apiError(c, 403, "cross_origin", `WebSocket upgrades from ${origin} are not accepted`);
  return null;
}

export const chatRoutes: SiteRoute[] = [
  {
    method: "get",
    path: "/chat",
    permission: "chat.use",
    handler: async (c) => {
      const caller = chatCaller(c);
      const home = llmKeyHome(c.env);
      const personal = caller.id === "admin-key" ? null : await home.personal(caller.id);
      const stored = personal ?? (await home.site(c.get("site")));
      const key = stored ? { scope: personal ? ("personal" as const) : ("site" as const), provider: stored.provider, model: stored.model, baseUrl: stored.baseUrl } : null;
      const models = key ? [...new Set([key.model, ...SUGGESTED_MODELS[key.provider]])] : [];
      const setup: ChatSetupResponse = {
        key,
        missingKeyHelp: key ? null : NO_LLM_KEY_HELP,
        models,
        stepLimit: await stepLimit(c),
        toolTier: chatToolTier(c.get("principal"), c.get("site")),
      };
      return c.json(setup);
    },
  },
  {
    method: "get",
    path: "/conversations",
    permission: "chat.use",
    handler: async (c) => {
      const q = parseQuery(c, ConversationListQuery);
      if (!q.ok) return q.response;
      const principal = c.get("principal");
      const everyone = q.value.mine !== "1" && authorize(principal, { id: c.get("site"), exists: true }, { permission: "chat.review" }).allowed;
      const query = { ownerId: everyone ? null : chatCaller(c).id, limit: q.value.limit, ...(q.value.before !== undefined ? { before: q.value.before } : {}) };
      return c.json(await siteHub(c).listConversations(query));
    },
  },
  {
    method: "post",
    path: "/conversations",
    permission: "chat.use",
    handler: async (c) => {
      const body = await parseBody(c, CreateConversationRequest);
      if (!body.ok) return body.response;
      const { target, title, model } = body.value;
      if ("node" in target) {
        const node = await siteHub(c).getNode(target.node);
        if (!node.ok) return failure(c, node.error);
      }
      const id = `c-${crypto.randomUUID()}`;
      const created = await conversationStub(c, id).create({
        id,
        site: c.get("site"),
        owner: chatCaller(c),
        target,
        ...(title ? { title } : {}),
        ...(model ? { model } : {}),
      });
      return respond(c, created, 201);
    },
  },
  {
    method: "get",
    path: "/conversations/:id",
    permission: "chat.use",
    handler: async (c) => {
      const found = await load(c, "chat.review");
      if (found.response) return found.response;
      return respond(c, await found.stub.view());
    },
  },
  {
    method: "patch",
    path: "/conversations/:id",
    permission: "chat.use",
    handler: async (c) => {
      const found = await load(c, "chat.use");
      if (found.response) return found.response;
      const body = await parseBody(c, UpdateConversationRequest);
      if (!body.ok) return body.response;
      if (body.value.target && "node" in body.value.target) {
        const node = await siteHub(c).getNode(body.value.target.node);
        if (!node.ok) return failure(c, node.error);
      }
      return respond(c, await found.stub.update(body.value));
    },
  },
  {
    method: "delete",
    path: "/conversations/:id",
    permission: "chat.use",
    handler: async (c) => {
      const found = await load(c, "chat.review", false);
      if (found.response) return found.response;
      return respond(c, await found.stub.remove(chatCaller(c)));
    },
  },
  {
    method: "post",
    path: "/conversations/:id/messages",
    permission: "chat.use",
    handler: async (c) => {
      const found = await load(c, "chat.use");
      if (found.response) return found.response;
      const body = await parseBody(c, SendMessageRequest);
      if (!body.ok) return body.response;
      const principal = c.get("principal");
      const sent = await found.stub.send({
        text: body.value.text,
        asker: chatCaller(c),
        toolTier: chatToolTier(principal, c.get("site")),
        stepLimit: await stepLimit(c),
      });
      return respond(c, sent, 202);
    },
  },
  {
    method: "post",
    path: "/conversations/:id/stop",
    permission: "chat.use",
    handler: async (c) => {
      const found = await load(c, "chat.review", false);
      if (found.response) return found.response;
      return respond(c, await found.stub.stop(chatCaller(c)));
    },
  },
  {
    method: "post",
    path: "/conversations/:id/continue",
    permission: "chat.use",
    handler: async (c) => {
      const found = await load(c, "chat.use");
      if (found.response) return found.response;
      const toolTier = chatToolTier(c.get("principal"), c.get("site"));
      return respond(c, await found.stub.continueTurn({ stepLimit: await stepLimit(c), asker: chatCaller(c), toolTier }));
    },
  },
  {
    method: "post",
    path: "/conversations/:id/confirmations/:toolCallId",
    permission: "chat.use",
    handler: async (c) => {
      const found = await load(c, "chat.use", false);
      if (found.response) return found.response;
      const toolCallId = parseParam(c, ToolCallId, "toolCallId");
      if (!toolCallId.ok) return toolCallId.response;
      const body = await parseBody(c, DecideRequest);
      if (!body.ok) return body.response;
      const principal = c.get("principal");
      return respond(
        c,
        await found.stub.decide({ toolCallId: toolCallId.value, approve: body.value.approve, decider: chatCaller(c), deciderTier: chatToolTier(principal, c.get("site")) }),
      );
    },
  },
  {
    method: "get",
    path: "/conversations/:id/events",
    permission: "chat.use",
    handler: async (c) => {
      const found = await load(c, "chat.review");
      if (found.response) return found.response;
      const opened = await found.stub.openEvents(await attachingOwner(c, found.summary.id), requesterOf(c).confined);
      if (!opened.ok) return failure(c, opened.error);
      return toEventStream(opened.value);
    },
  },
  {
    method: "get",
    path: "/conversations/:id/socket",
    permission: "chat.use",
    handler: async (c) => {
      const refused = wantsUpgrade(c);
      if (refused) return refused;
      const found = await load(c, "chat.review");
      if (found.response) return found.response;
      const owner = await attachingOwner(c, found.summary.id);
      const url = viewerUrl(c.req.url, owner, { audit: false, confined: requesterOf(c).confined });
      url.pathname = CHAT_SOCKET_PATH;
      return found.stub.fetch(new Request(url, { headers: { Upgrade: "websocket" } }));
    },
  },
];
