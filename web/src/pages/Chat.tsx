import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { ChatSetupResponse, ChatTarget, ConversationSummary, SendMessageResponse } from "../../../protocol/chat.ts";
import { ApiFailure, messageOf, request } from "../api.ts";
import { chatTargetText, usageText, type NameOf } from "../chat/chat-format.ts";
import { ConversationFeed } from "../chat/conversation-feed.ts";
import { conversations, dropConversation, listError, loadConversations, upsertConversation } from "../chat/conversation-list.ts";
import { answering } from "../chat/feed-state.ts";
import { ago } from "../format.ts";
import { now } from "../clock.ts";
import { nodeSignal } from "../live.ts";
import { sitePaths } from "../paths.ts";
import { isAdmin } from "../permissions.ts";
import { navigate, queryParam } from "../router.ts";
import { me, role } from "../session.ts";
import { Composer, keepFocusInComposer } from "../components/chat/Composer.tsx";
import { KeyLinks } from "../components/chat/KeyLinks.tsx";
import { TargetPicker } from "../components/chat/TargetPicker.tsx";
import { Transcript } from "../components/chat/Transcript.tsx";
import { Link } from "../components/Link.tsx";
import { Notice } from "../components/Notice.tsx";

const nameOf: NameOf = (id) => nodeSignal(id)?.value.name ?? id;

const STATUS_LABEL: Record<NonNullable<ConversationSummary["status"]>, string> = {
  running: "answering",
  waiting: "needs approval",
  done: "",
  stopped: "stopped",
  step_limit: "paused",
  error: "error",
};

function KeyHelp({ text }: { text: string }) {
  return (
    <div class="notice notice-info" role="status">
      <p>{text}</p>
      <KeyLinks />
    </div>
  );
}

/** The model for a conversation: "" keeps the key's own, or one from the provider's list. */
function ModelPicker({ setup, value, onChange, disabled }: { setup: ChatSetupResponse; value: string; onChange: (model: string) => void; disabled?: boolean }) {
  const own = setup.key?.model;
  return (
    <label>
      Model
      <select value={value} disabled={disabled} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">{own} (the key's)</option>
        {setup.models
          .filter((m) => m !== own)
          .map((m) => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
      </select>
    </label>
  );
}

function ConversationList({ site, openId }: { site: string; openId: string | null }) {
  const admin = isAdmin(role.value);
  const [mine, setMine] = useState(false);
  const self = me.value?.user.id;
  useEffect(() => void loadConversations(site, mine), [site, mine]);
  const list = conversations.value;
  return (
    <nav class="chat-side" aria-label="Conversations">
      <div class="chat-side-head">
        <h2 id="conversations-title">Conversations</h2>
        <Link href="/chat" class="button">
          New chat
        </Link>
      </div>
      {admin ? (
        <label class="check small">
          <input type="checkbox" checked={mine} onChange={(e) => setMine(e.currentTarget.checked)} /> Only mine
        </label>
      ) : null}
      <Notice>{listError.value}</Notice>
      {list === null ? (
        <p class="muted">Loading…</p>
      ) : list.length === 0 ? (
        <p class="muted small">No conversations yet.</p>
      ) : (
        <ul class="conversation-list">
          {list.map((c) => (
            <li key={c.id}>
              <a
                href={`/chat/${encodeURIComponent(c.id)}`}
                aria-current={c.id === openId ? "page" : undefined}
                onClick={(e) => {
                  if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
                  e.preventDefault();
                  navigate(`/chat/${encodeURIComponent(c.id)}`);
                }}
              >
                <span class="conversation-title">
                  {c.auto ? (
                    <span class="badge tone-off" title="An autonomous investigation: the hub started it, nobody writes in it">
                      auto
                    </span>
                  ) : null}{" "}
                  {c.title}
                </span>
                <span class="conversation-meta muted small">
                  {chatTargetText(c.target, nameOf)} · {ago(c.updatedAt, now.value)}
                  {c.ownerId !== self ? ` · ${c.ownerLabel}` : ""}
                </span>
                {c.status && STATUS_LABEL[c.status] ? <span class={`badge tone-${c.status === "error" ? "bad" : "pending"}`}>{STATUS_LABEL[c.status]}</span> : null}
              </a>
            </li>
          ))}
        </ul>
      )}
    </nav>
  );
}

/** A conversation not created yet: it is created with the first message, so opening the page leaves nothing behind. */
function NewConversation({ site, setup }: { site: string; setup: ChatSetupResponse | null }) {
  const preset = queryParam("node");
  const [target, setTarget] = useState<ChatTarget>(preset ? { node: preset } : { all: true });
  const [model, setModel] = useState("");
  const [error, setError] = useState("");
  const paths = sitePaths(site).chat;
  useEffect(() => setTarget(preset ? { node: preset } : { all: true }), [preset]);

  async function send(text: string) {
    setError("");
    try {
      const created = await request<ConversationSummary>(paths.conversations(), { body: { target, ...(model ? { model } : {}) } });
      await request<SendMessageResponse>(paths.messages(created.id), { body: { text } });
      upsertConversation(created);
      keepFocusInComposer();
      navigate(`/chat/${encodeURIComponent(created.id)}`, { keepFocus: true });
    } catch (err) {
      setError(messageOf(err));
      throw err;
    }
  }

  const noKey = setup !== null && setup.key === null;
  return (
    <div class="chat-main">
      <div class="chat-head">
        <h1 id="chat-title">New chat</h1>
        <div class="chat-controls">
          <TargetPicker value={target} onChange={setTarget} />
          {setup?.key ? <ModelPicker setup={setup} value={model} onChange={setModel} /> : null}
        </div>
      </div>
      <div class="transcript-scroll">
        {noKey ? <KeyHelp text={setup.missingKeyHelp ?? ""} /> : null}
        <div class="chat-empty muted">
          <p>Ask about {"node" in target ? nameOf(target.node) : "every online machine of the site"} in plain language, for example:</p>
          <ul>
            <li>{"node" in target ? "Why is this machine slow?" : "Which machines look unhealthy right now?"}</li>
            <li>{"node" in target ? "What is using the most disk space?" : "Which machines have less than 10% disk left?"}</li>
          </ul>
          {setup ? (
            <p class="small">
              {setup.toolTier >= 3
                ? "Read-only tools and bounded fixes run without asking; commands, file changes, reboots and shutdowns wait for your approval."
                : "Your answers use read-only tools only."}
            </p>
          ) : null}
        </div>
      </div>
      <Notice>{error}</Notice>
      <Composer send={send} answering={false} stop={null} blocked={noKey ? "Add an AI key to chat" : null} placeholder="Ask about your machines…" />
    </div>
  );
}

function RenameForm({ title, save, cancel }: { title: string; save: (t: string) => Promise<void>; cancel: () => void }) {
  const [value, setValue] = useState(title);
  const [error, setError] = useState("");
  return (
    <form
      class="inline-form rename-form"
      onSubmit={async (e) => {
        e.preventDefault();
        try {
          await save(value.trim());
        } catch (err) {
          setError(messageOf(err));
        }
      }}
    >
      <label for="rename-input">
        Title
        <input id="rename-input" value={value} maxLength={200} required autoFocus onInput={(e) => setValue(e.currentTarget.value)} onKeyDown={(e) => e.key === "Escape" && cancel()} />
      </label>
      <button type="submit">Save</button>
      <button type="button" onClick={cancel}>
        Cancel
      </button>
      <Notice>{error}</Notice>
    </form>
  );
}

function OpenConversation({ site, id, setup }: { site: string; id: string; setup: ChatSetupResponse | null }) {
  const feed = useMemo(() => new ConversationFeed(site, id), [site, id]);
  useEffect(() => () => feed.close(), [feed]);
  const [renaming, setRenaming] = useState(false);
  const [error, setError] = useState<{ text: string; key: boolean } | null>(null);
  const end = useRef<HTMLDivElement>(null);
  const scroller = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);
  const state = feed.state.value;
  const paths = sitePaths(site).chat;
  const conversation = state.conversation;
  const admin = isAdmin(role.value);
  const owner = conversation !== null && conversation.ownerId === me.value?.user.id;
  const running = answering(state);

  useEffect(() => {
    if (conversation) upsertConversation(conversation);
  }, [conversation]);
  useEffect(() => {
    if (state.deleted) {
      dropConversation(id);
      navigate("/chat", { replace: true });
    }
  }, [state.deleted]);
  useEffect(() => {
    if (pinned.current) end.current?.scrollIntoView({ block: "end" });
  }, [state]);

  async function act(fn: () => Promise<unknown>) {
    setError(null);
    try {
      await fn();
    } catch (err) {
      setError({ text: messageOf(err), key: err instanceof ApiFailure && err.code === "no_llm_key" });
      throw err;
    }
  }
  const patch = (body: Record<string, unknown>) => act(async () => upsertConversation(await request<ConversationSummary>(paths.conversation(id), { method: "PATCH", body })));

  if (feed.failure.value) {
    return (
      <div class="chat-main">
        <h1 id="chat-title">Conversation not found</h1>
        <Notice>{feed.failure.value}</Notice>
        <Link href="/chat">Start a new chat</Link>
      </div>
    );
  }
  if (!conversation || !feed.ready.value) {
    return (
      <div class="chat-main">
        <p class="loading">Loading the conversation…</p>
      </div>
    );
  }
  const turn = state.turn;
  const status =
    turn?.status === "waiting"
      ? "Waiting for an approval"
      : running
        ? state.retry
          ? `The provider is busy (${state.retry.reason}); trying again in ${Math.ceil(state.retry.waitMs / 1000)} s (attempt ${state.retry.attempt + 1})`
          : "Answering…"
        : "";
  return (
    <div class="chat-main">
      <div class="chat-head">
        <p class="crumbs chat-back">
          <Link href="/chat">Conversations</Link> /
        </p>
        {renaming ? (
          <RenameForm title={conversation.title} cancel={() => setRenaming(false)} save={async (title) => (await patch({ title }), setRenaming(false))} />
        ) : (
          <div class="title-row">
            <h1 id="chat-title">{conversation.title}</h1>
            {owner ? (
              <button type="button" class="link-button" onClick={() => setRenaming(true)}>
                Rename
              </button>
            ) : null}
            {owner || admin ? (
              <button
                type="button"
                class="link-button danger-text"
                onClick={() => confirm(`Delete the conversation "${conversation.title}"? Its messages are gone for good.`) && act(() => request(paths.conversation(id), { method: "DELETE" })).catch(() => undefined)}
              >
                Delete
              </button>
            ) : null}
          </div>
        )}
        <div class="chat-controls">
          {owner ? (
            <TargetPicker value={conversation.target} onChange={(target) => void patch({ target }).catch(() => undefined)} disabled={running} />
          ) : (
            <span class="small">Target: {chatTargetText(conversation.target, nameOf)}</span>
          )}
          {owner && setup?.key ? (
            <ModelPicker setup={setup} value={conversation.model ?? ""} disabled={running} onChange={(model) => void patch({ model: model || null }).catch(() => undefined)} />
          ) : conversation.model ? (
            <span class="small">Model: {conversation.model}</span>
          ) : null}
          <span class="chat-total muted small" title="Tokens and cost of the whole conversation">
            {usageText(conversation.usage)}
          </span>
        </div>
        {!owner ? <p class="muted small">{conversation.ownerLabel}'s conversation: you can read it{admin ? ", stop it and delete it" : ""}.</p> : null}
      </div>
      <div
        class="transcript-scroll"
        ref={scroller}
        onScroll={(e) => {
          const el = e.currentTarget;
          pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 48;
        }}
      >
        <Transcript feed={state} nameOf={nameOf} decidePath={owner && (setup?.toolTier ?? 1) >= 3 ? (toolCallId) => paths.decide(id, toolCallId) : null} />
        {turn?.status === "step_limit" && owner ? (
          <div class="button-row continue-row">
            <button type="button" onClick={() => act(() => request(paths.continue(id), { method: "POST" })).catch(() => undefined)}>
              Continue
            </button>
            <span class="muted small">Up to {setup?.stepLimit ?? turn.stepLimit} more model calls.</span>
          </div>
        ) : null}
        <div ref={end} class="transcript-end" />
      </div>
      <p class="chat-status muted small" role="status" aria-live="polite">
        {feed.reconnecting.value ? "Reconnecting…" : status}
      </p>
      {state.error ? <Notice>{state.error}</Notice> : null}
      {error ? (
        <div>
          <Notice>{error.text}</Notice>
          {error.key ? <KeyLinks /> : null}
        </div>
      ) : null}
      <Composer
        send={(text) => act(() => request<SendMessageResponse>(paths.messages(id), { body: { text } }))}
        answering={running}
        stop={owner || admin ? () => act(() => request(paths.stop(id), { method: "POST" })).catch(() => undefined) : null}
        blocked={owner ? null : "Only its owner writes in a conversation"}
        placeholder={running ? "Wait for the answer, or stop it" : "Ask a follow-up…"}
      />
    </div>
  );
}

/** The AI chat: the site's conversations on the side, one conversation (or a new one) beside them. */
export function Chat({ site, id }: { site: string; id: string | null }) {
  const [setup, setSetup] = useState<ChatSetupResponse | null>(null);
  const [setupError, setSetupError] = useState("");
  useEffect(() => {
    request<ChatSetupResponse>(sitePaths(site).chat.setup).then(setSetup, (err) => setSetupError(messageOf(err)));
  }, [site]);
  return (
    <section class={`chat-page${id ? " has-open" : ""}`} aria-labelledby="chat-title">
      <ConversationList site={site} openId={id} />
      <div class="chat-pane">
        <Notice>{setupError}</Notice>
        {id ? <OpenConversation key={id} site={site} id={id} setup={setup} /> : <NewConversation site={site} setup={setup} />}
      </div>
    </section>
  );
}
