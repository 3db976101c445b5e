import { useEffect, useState } from "preact/hooks";
import { MAX_CHAT_STEP_LIMIT } from "../../../../protocol/chat-constants.ts";
import type { SiteSettingsResponse } from "../../../../protocol/site-settings.ts";
import { messageOf, request } from "../../api.ts";
import { AUTH, sitePaths } from "../../paths.ts";
import { Notice } from "../../components/Notice.tsx";
import { AiKeyForm } from "./AiKey.tsx";
import { Section } from "./Section.tsx";

/** The caller's own AI key, used for their chats before the site's. */
export function PersonalAiKey() {
  return (
    <Section id="ai-key-title" title="AI key">
      <p class="muted small">Your chats use your own key when you have one, and the site's key otherwise.</p>
      <AiKeyForm path={AUTH.llmKey} idPrefix="personal-llm" who="your" />
    </Section>
  );
}

function StepLimit({ siteId }: { siteId: string }) {
  const path = sitePaths(siteId).settings;
  const [value, setValue] = useState("");
  const [note, setNote] = useState<{ tone: "ok" | "error"; text: string } | null>(null);
  useEffect(() => {
    request<SiteSettingsResponse>(path).then(
      ({ settings }) => setValue(String(settings.chatStepLimit)),
      (err) => setNote({ tone: "error", text: messageOf(err) }),
    );
  }, [path]);
  async function save(e: Event) {
    e.preventDefault();
    try {
      const { settings } = await request<SiteSettingsResponse>(path, { method: "PATCH", body: { chatStepLimit: Number(value) } });
      setValue(String(settings.chatStepLimit));
      setNote({ tone: "ok", text: "Saved." });
    } catch (err) {
      setNote({ tone: "error", text: messageOf(err) });
    }
  }
  return (
    <form class="inline-form" onSubmit={save}>
      <label for="chat-step-limit">
        Model calls per message before the chat pauses
        <input id="chat-step-limit" type="number" min={1} max={MAX_CHAT_STEP_LIMIT} required value={value} onInput={(e) => setValue(e.currentTarget.value)} />
      </label>
      <button type="submit">Save</button>
      {note ? <Notice tone={note.tone}>{note.text}</Notice> : null}
    </form>
  );
}

/** The site's AI key (the fallback for members without their own) and the chat's step limit: site admins only. */
export function SiteChatSettings({ siteId, siteName }: { siteId: string; siteName: string }) {
  return (
    <Section id="site-ai-key-title" title="AI key for the site">
      <p class="muted small">Used by everyone on {siteName} who has no key of their own. Members' chats may only read, whatever the key.</p>
      <AiKeyForm path={sitePaths(siteId).llmKey} idPrefix="site-llm" who="the site's" />
      <h3>Chat limits</h3>
      <StepLimit siteId={siteId} />
    </Section>
  );
}
