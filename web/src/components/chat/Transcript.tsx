import type { ChatMessage } from "../../../../protocol/chat.ts";
import { usageText, type NameOf } from "../../chat/chat-format.ts";
import type { FeedState } from "../../chat/feed-state.ts";
import { time } from "../../format.ts";
import { KeyLinks } from "./KeyLinks.tsx";
import { Markdown } from "./Markdown.tsx";
import { ToolCallCard } from "./ToolCallCard.tsx";

export interface TranscriptProps {
  feed: FeedState;
  nameOf: NameOf;
  /** The path to decide a tool call, or null when the viewer may not decide. */
  decidePath: ((toolCallId: string) => string) | null;
}

function Note({ message }: { message: ChatMessage }) {
  const kind = message.noteKind ?? "info";
  return (
    <li class={`chat-note note-${kind}`} data-message={message.id} data-note={kind} role={kind === "error" ? "alert" : undefined}>
      <p>{message.text}</p>
      {kind === "error" ? <KeyLinks /> : null}
    </li>
  );
}

function Assistant({ message, nameOf, decidePath }: { message: ChatMessage; nameOf: NameOf; decidePath: TranscriptProps["decidePath"] }) {
  return (
    <li class="chat-message from-assistant" data-message={message.id}>
      {message.text ? <Markdown class="chat-text markdown" text={message.text} /> : null}
      {message.toolCalls.length ? (
        <div class="tool-calls">
          {message.toolCalls.map((call) => (
            <ToolCallCard key={call.id} call={call} nameOf={nameOf} decidePath={decidePath ? decidePath(call.id) : null} />
          ))}
        </div>
      ) : null}
      {message.usage ? (
        <p class="chat-usage muted small">
          {message.model} · {usageText(message.usage)}
        </p>
      ) : null}
    </li>
  );
}

/** The conversation's messages, then the text of the model call under way. */
export function Transcript({ feed, nameOf, decidePath }: TranscriptProps) {
  const streaming = feed.streaming;
  return (
    <ol class="transcript" aria-label="Transcript">
      {feed.messages.map((m) => {
        if (m.role === "note") return <Note key={m.id} message={m} />;
        if (m.role === "user") {
          return (
            <li key={m.id} class="chat-message from-user" data-message={m.id}>
              <p class="chat-author muted small">
                {m.author ?? "You"} · {time(m.createdAt)}
              </p>
              <div class="chat-text plain-text">{m.text}</div>
            </li>
          );
        }
        return <Assistant key={m.id} message={m} nameOf={nameOf} decidePath={decidePath} />;
      })}
      {streaming ? (
        <li class="chat-message from-assistant streaming" data-message={streaming.messageId} data-streaming="true" aria-busy="true">
          {streaming.text ? <Markdown class="chat-text markdown" text={streaming.text} /> : <p class="muted">Thinking…</p>}
        </li>
      ) : null}
    </ol>
  );
}
