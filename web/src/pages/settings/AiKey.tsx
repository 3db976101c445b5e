import { useEffect, useState } from "preact/hooks";
import { LLM_PROVIDERS, SUGGESTED_MODELS, type LlmProviderName } from "../../../../protocol/chat-constants.ts";
import type { LlmKeyResponse, LlmKeyView } from "../../../../protocol/llm.ts";
import { messageOf, request } from "../../api.ts";
import { dateTime } from "../../format.ts";
import { Notice } from "../../components/Notice.tsx";

const PROVIDER_NAMES: Record<LlmProviderName, string> = {
  anthropic: "Anthropic (Claude)",
  openai: "OpenAI",
  "openai-compatible": "OpenAI-compatible server (Ollama, vLLM, LM Studio, …)",
};

const OTHER = "__other__";

/** Where each provider's SDK sends a key when no base URL is given. */
const PROVIDER_HOSTS: Record<LlmProviderName, string | null> = {
  anthropic: "api.anthropic.com",
  openai: "api.openai.com",
  "openai-compatible": null,
};

/** The host a key typed now would be sent to, as the URL parser reads the base URL; null when there is none yet. */
function destinationHost(provider: LlmProviderName, baseUrl: string): string | null {
  if (!baseUrl.trim()) return PROVIDER_HOSTS[provider];
  try {
    return new URL(baseUrl.trim()).host;
  } catch {
    return null;
  }
}

/**
 * One AI key (personal, or the site's): provider, model from the provider's list (or any name), the key itself and
 * an optional base URL. The key is write-only: after saving, only its last four characters are ever shown.
 *
 * The base URL is typed again with every new key, never carried over from the saved one: a site's key is shared by
 * its admins, and a form that kept the saved base URL would send the next admin's real key to whatever server the
 * last one named. The form says, before saving, which host the key will go to.
 */
export function AiKeyForm({ path, idPrefix, who }: { path: string; idPrefix: string; who: string }) {
  const [saved, setSaved] = useState<LlmKeyView | null | undefined>(undefined);
  const [provider, setProvider] = useState<LlmProviderName>("anthropic");
  const [model, setModel] = useState<string>(SUGGESTED_MODELS.anthropic[0]!);
  const [otherModel, setOtherModel] = useState("");
  const [key, setKey] = useState("");
  const [baseUrl, setBaseUrl] = useState("");
  const [note, setNote] = useState<{ tone: "ok" | "error"; text: string } | null>(null);
  const id = (name: string) => `${idPrefix}-${name}`;

  function show(view: LlmKeyView | null) {
    setSaved(view);
    if (!view) return;
    setProvider(view.provider);
    const listed = SUGGESTED_MODELS[view.provider].includes(view.model);
    setModel(listed ? view.model : OTHER);
    setOtherModel(listed ? "" : view.model);
    setBaseUrl("");
  }

  useEffect(() => {
    request<LlmKeyResponse>(path).then(
      (r) => show(r.key),
      (err) => setNote({ tone: "error", text: messageOf(err) }),
    );
  }, [path]);

  const models = SUGGESTED_MODELS[provider];
  const chosenModel = models.length === 0 || model === OTHER ? otherModel.trim() : model;
  const destination = destinationHost(provider, baseUrl);

  async function save(e: Event) {
    e.preventDefault();
    setNote(null);
    try {
      const body = { provider, model: chosenModel, key: key.trim(), ...(baseUrl.trim() ? { baseUrl: baseUrl.trim() } : {}) };
      const r = await request<LlmKeyResponse>(path, { method: "PUT", body });
      setKey("");
      show(r.key);
      setNote({ tone: "ok", text: "Saved. The key is stored encrypted and is never shown again." });
    } catch (err) {
      setNote({ tone: "error", text: messageOf(err) });
    }
  }

  async function clear() {
    if (!confirm(`Remove ${who} AI key?`)) return;
    setNote(null);
    try {
      await request(path, { method: "DELETE" });
      setSaved(null);
      setNote({ tone: "ok", text: "Removed." });
    } catch (err) {
      setNote({ tone: "error", text: messageOf(err) });
    }
  }

  return (
    <form class="stack narrow" onSubmit={save}>
      {saved === undefined ? null : saved ? (
        <p class="saved-key" data-saved-key>
          Saved: <strong>{PROVIDER_NAMES[saved.provider]}</strong>, model <code>{saved.model}</code>, key ending in <code>{saved.last4}</code>
          {saved.baseUrl ? (
            <>
              , base URL <code>{saved.baseUrl}</code>
            </>
          ) : null}
          <span class="muted small">
            {" "}
            (by {saved.updatedBy}, {dateTime(saved.updatedAt)})
          </span>
        </p>
      ) : (
        <p class="muted">No key saved.</p>
      )}
      <label for={id("provider")}>
        Provider
        <select
          id={id("provider")}
          value={provider}
          onChange={(e) => {
            const p = e.currentTarget.value as LlmProviderName;
            setProvider(p);
            setModel(SUGGESTED_MODELS[p][0] ?? OTHER);
          }}
        >
          {LLM_PROVIDERS.map((p) => (
            <option key={p} value={p}>
              {PROVIDER_NAMES[p]}
            </option>
          ))}
        </select>
      </label>
      {models.length ? (
        <label for={id("model")}>
          Model
          <select id={id("model")} value={model} onChange={(e) => setModel(e.currentTarget.value)}>
            {models.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
            <option value={OTHER}>Another model…</option>
          </select>
        </label>
      ) : null}
      {models.length === 0 || model === OTHER ? (
        <label for={id("model-name")}>
          Model name
          <input id={id("model-name")} value={otherModel} required maxLength={200} placeholder={provider === "openai-compatible" ? "llama3.1:8b" : ""} onInput={(e) => setOtherModel(e.currentTarget.value)} />
        </label>
      ) : null}
      <label for={id("key")}>
        API key <span class="muted">({saved ? "enter it again to change anything" : "shown never again after saving"})</span>
        <input id={id("key")} type="password" autocomplete="off" spellcheck={false} required maxLength={1024} value={key} onInput={(e) => setKey(e.currentTarget.value)} />
      </label>
      <label for={id("base-url")}>
        Base URL{" "}
        <span class="muted">
          ({provider === "openai-compatible" ? "required, for example http://127.0.0.1:11434/v1" : "optional: a gateway or proxy"}
          {saved ? "; entered again with the key" : ""})
        </span>
        <input id={id("base-url")} type="url" value={baseUrl} required={provider === "openai-compatible"} maxLength={2048} onInput={(e) => setBaseUrl(e.currentTarget.value)} />
      </label>
      {destination ? (
        <p class="muted small" data-key-destination>
          A key saved here now will be sent to <code>{destination}</code>.
        </p>
      ) : null}
      {note ? <Notice tone={note.tone}>{note.text}</Notice> : null}
      <div class="form-actions">
        <button type="submit">Save key</button>
        {saved ? (
          <button type="button" class="danger" onClick={clear}>
            Remove key
          </button>
        ) : null}
      </div>
    </form>
  );
}
