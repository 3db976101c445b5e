import { useEffect, useRef, useState } from "preact/hooks";
import { MAX_CHAT_MESSAGE_CHARS } from "../../../../protocol/chat-constants.ts";

export interface ComposerProps {
  /** Sends the text; a rejection (shown by the page) keeps it in the box. */
  send: (text: string) => Promise<void>;
  /** An answer runs: Send waits, Stop is offered. */
  answering: boolean;
  stop: (() => Promise<void>) | null;
  /** Why nothing can be sent (no key, not the owner); null when sending is possible. */
  blocked: string | null;
  placeholder: string;
}

/** Set when a message sent from one page opens another (a new chat becomes its conversation): typing goes on there. */
let keepTyping = false;

export function keepFocusInComposer(): void {
  keepTyping = true;
}

/** The message box: Enter sends, Shift+Enter starts a new line; the focus stays here after sending. */
export function Composer({ send, answering, stop, blocked, placeholder }: ComposerProps) {
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const box = useRef<HTMLTextAreaElement>(null);
  const canSend = !busy && !answering && !blocked && text.trim().length > 0;
  useEffect(() => {
    if (!keepTyping || blocked) return;
    keepTyping = false;
    box.current?.focus();
  }, [blocked]);

  async function submit(e?: Event) {
    e?.preventDefault();
    if (!canSend) return;
    setBusy(true);
    try {
      await send(text.trim());
      setText("");
    } catch {
      // The page shows why it was not sent; the text stays in the box to send again.
    } finally {
      setBusy(false);
      // When the message opened another page, its own box takes the focus instead.
      if (!keepTyping) box.current?.focus();
    }
  }

  return (
    <form class="composer" onSubmit={submit}>
      <label for="chat-input" class="visually-hidden">
        Message
      </label>
      <textarea
        id="chat-input"
        ref={box}
        rows={2}
        value={text}
        maxLength={MAX_CHAT_MESSAGE_CHARS}
        placeholder={blocked ?? placeholder}
        disabled={blocked !== null}
        aria-describedby="composer-hint"
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            void submit();
          }
        }}
      />
      <div class="composer-actions">
        <span id="composer-hint" class="muted small">
          Enter sends, Shift+Enter adds a line
        </span>
        {answering && stop ? (
          <button type="button" class="danger" onClick={() => void stop()}>
            Stop
          </button>
        ) : null}
        <button type="submit" class="primary" disabled={!canSend}>
          Send
        </button>
      </div>
    </form>
  );
}
