import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { AlertTokenView, CreatedAlertToken } from "../../../../protocol/autonomy.ts";
import type { SiteSettings, SiteSettingsPatch, SiteSettingsResponse } from "../../../../protocol/site-settings.ts";
import { messageOf, request } from "../../api.ts";
import { dateTime } from "../../format.ts";
import { sitePaths } from "../../paths.ts";
import { CopyField } from "../../components/CopyField.tsx";
import { Link } from "../../components/Link.tsx";
import { Notice } from "../../components/Notice.tsx";

type Note = { tone: "ok" | "error"; text: string } | null;

/** The form's fields as typed; turned into a change of the settings on save (the hub checks every value). */
interface Form {
  enabled: boolean;
  directive: string;
  maxTier: string;
  model: string;
  cooldown: string;
  maxActive: string;
  steps: string;
  emails: string;
  webhook: string;
}

function formOf(s: SiteSettings): Form {
  return {
    enabled: s.autonomyEnabled,
    directive: s.autonomyDirective,
    maxTier: String(s.autonomyMaxTier),
    model: s.autonomyModel ?? "",
    cooldown: String(s.autonomyCooldownMinutes),
    maxActive: String(s.autonomyMaxActive),
    steps: String(s.autonomyStepLimit),
    emails: s.escalationEmails.join("\n"),
    webhook: s.escalationWebhookUrl ?? "",
  };
}

function patchOf(f: Form): SiteSettingsPatch {
  return {
    autonomyEnabled: f.enabled,
    autonomyDirective: f.directive,
    autonomyMaxTier: Number(f.maxTier) as 1 | 2 | 3,
    autonomyModel: f.model.trim() || null,
    autonomyCooldownMinutes: Number(f.cooldown),
    autonomyMaxActive: Number(f.maxActive),
    autonomyStepLimit: Number(f.steps),
    escalationEmails: f.emails.split(/[\s,]+/).filter(Boolean),
    escalationWebhookUrl: f.webhook.trim() || null,
  };
}

function ReadOnly({ s }: { s: SiteSettings }) {
  const rows: [string, string][] = [
    ["Investigations", s.autonomyEnabled ? "on" : "off"],
    ["Highest tool tier", String(s.autonomyMaxTier)],
    ["Model", s.autonomyModel ?? "the site key's"],
    ["Cooldown", `${s.autonomyCooldownMinutes} minutes`],
    ["At once", String(s.autonomyMaxActive)],
    ["Steps", String(s.autonomyStepLimit)],
    ["Escalation emails", s.escalationEmails.join(", ") || "none"],
    ["Escalation webhook", s.escalationWebhookUrl ?? "none"],
  ];
  return (
    <>
      <p class="muted small">Only the site's admins can change these settings.</p>
      <dl class="facts">
        {rows.map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{v}</dd>
          </div>
        ))}
      </dl>
      <p class="small">{s.autonomyDirective}</p>
    </>
  );
}

function Field({ id, label, children }: { id: string; label: string; children: ComponentChildren }) {
  return (
    <label for={id}>
      {label}
      {children}
    </label>
  );
}

function AlertToken({ siteId }: { siteId: string }) {
  const paths = sitePaths(siteId);
  const [view, setView] = useState<AlertTokenView | null>(null);
  const [created, setCreated] = useState<string | null>(null);
  const [note, setNote] = useState<Note>(null);
  useEffect(() => {
    request<AlertTokenView>(paths.alertToken).then(setView, (err) => setNote({ tone: "error", text: messageOf(err) }));
  }, [paths.alertToken]);

  async function rotate() {
    if (view?.configured && !confirm("Make a new Alertmanager token? The current one stops working at once.")) return;
    try {
      const made = await request<CreatedAlertToken>(paths.alertToken, { method: "POST" });
      setView(made.view);
      setCreated(made.token);
      setNote(null);
    } catch (err) {
      setNote({ tone: "error", text: messageOf(err) });
    }
  }
  async function remove() {
    if (!confirm("Remove the Alertmanager token? Alertmanager's posts are refused until a new one is made.")) return;
    try {
      setView(await request<AlertTokenView>(paths.alertToken, { method: "DELETE" }));
      setCreated(null);
    } catch (err) {
      setNote({ tone: "error", text: messageOf(err) });
    }
  }

  return (
    <div class="stack narrow">
      <h3>Alertmanager</h3>
      <p class="muted small">
        Alertmanager posts alerts to <code>{`${window.location.origin}${paths.base}/alerts/alertmanager`}</code> with this token as its bearer token;
        each firing alert naming a machine (label <code>cortex_node</code>) goes through the same guards as a crash.
      </p>
      {view ? (
        <p>
          {view.configured ? (
            <>
              Token <code>{view.prefix}…</code> made by {view.createdBy} on {view.createdAt ? dateTime(view.createdAt) : "—"}.
            </>
          ) : (
            "No token yet."
          )}
        </p>
      ) : null}
      <div class="form-actions">
        <button type="button" onClick={rotate}>
          {view?.configured ? "Make a new token" : "Make a token"}
        </button>
        {view?.configured ? (
          <button type="button" class="link-button danger-text" onClick={remove}>
            Remove
          </button>
        ) : null}
      </div>
      {created ? (
        <div class="secret-once">
          <p>
            <strong>Put this token in Alertmanager's configuration.</strong> It is shown only now.
          </p>
          <CopyField label="Alertmanager token" value={created} />
        </div>
      ) : null}
      {note ? <Notice tone={note.tone}>{note.text}</Notice> : null}
    </div>
  );
}

/** Autonomous investigations and escalation: every member reads them (the webhook URL in part), site admins change them. */
export function AutonomySettings({ siteId, manage }: { siteId: string; manage: boolean }) {
  const paths = sitePaths(siteId);
  const [saved, setSaved] = useState<SiteSettings | null>(null);
  const [form, setForm] = useState<Form | null>(null);
  const [note, setNote] = useState<Note>(null);
  useEffect(() => {
    request<SiteSettingsResponse>(paths.settings).then(
      ({ settings }) => (setSaved(settings), setForm(formOf(settings))),
      (err) => setNote({ tone: "error", text: messageOf(err) }),
    );
  }, [paths.settings]);

  async function save(e: Event) {
    e.preventDefault();
    if (!form) return;
    if (form.maxTier === "3" && saved?.autonomyMaxTier !== 3 && !confirm("At tier 3 investigations run shell commands, write files and reboot machines without anyone's approval. Allow it?")) return;
    try {
      const { settings } = await request<SiteSettingsResponse>(paths.settings, { method: "PATCH", body: patchOf(form) });
      setSaved(settings);
      setForm(formOf(settings));
      setNote({ tone: "ok", text: "Saved." });
    } catch (err) {
      setNote({ tone: "error", text: messageOf(err) });
    }
  }

  const explain = (
    <p class="muted small">
      When on, a crash, a failed start or a give-up of a supervised process, or a firing Alertmanager alert, starts an investigation by the site's AI key
      on the machine (if its AI tools are allowed). What it cannot fix is escalated once by email and webhook. <Link href="/autonomy">See the events</Link>.
    </p>
  );
  if (!saved || !form) return note ? <Notice tone={note.tone}>{note.text}</Notice> : <p class="muted">Loading…</p>;
  if (!manage) {
    return (
      <>
        {explain}
        <ReadOnly s={saved} />
      </>
    );
  }
  const set = (patch: Partial<Form>) => setForm({ ...form, ...patch });
  return (
    <>
      <form class="stack narrow" onSubmit={save}>
        {explain}
        <label class="check">
          <input id="autonomy-enabled" type="checkbox" checked={form.enabled} onChange={(e) => set({ enabled: e.currentTarget.checked })} />
          Investigate crashes and alerts on their own
        </label>
        <Field id="autonomy-directive" label="Directive (the mission every investigation is given)">
          <textarea id="autonomy-directive" rows={4} value={form.directive} onInput={(e) => set({ directive: e.currentTarget.value })} />
        </Field>
        <Field id="autonomy-tier" label="Highest tool tier">
          <select id="autonomy-tier" value={form.maxTier} onChange={(e) => set({ maxTier: e.currentTarget.value })}>
            <option value="1">1: read only</option>
            <option value="2">2: also restart processes and services</option>
            <option value="3">3: also commands, file writes, reboots (no approval)</option>
          </select>
        </Field>
        <Field id="autonomy-model" label="Model (empty: the site key's)">
          <input id="autonomy-model" value={form.model} onInput={(e) => set({ model: e.currentTarget.value })} />
        </Field>
        <Field id="autonomy-cooldown" label="Cooldown per machine and process, minutes">
          <input id="autonomy-cooldown" type="number" min={1} max={10080} value={form.cooldown} onInput={(e) => set({ cooldown: e.currentTarget.value })} />
        </Field>
        <Field id="autonomy-active" label="Investigations at once">
          <input id="autonomy-active" type="number" min={1} max={20} value={form.maxActive} onInput={(e) => set({ maxActive: e.currentTarget.value })} />
        </Field>
        <Field id="autonomy-steps" label="Model calls per investigation">
          <input id="autonomy-steps" type="number" min={2} value={form.steps} onInput={(e) => set({ steps: e.currentTarget.value })} />
        </Field>
        <Field id="autonomy-emails" label="Escalation emails, one per line">
          <textarea id="autonomy-emails" rows={2} value={form.emails} onInput={(e) => set({ emails: e.currentTarget.value })} spellcheck={false} />
        </Field>
        <Field id="autonomy-webhook" label="Escalation webhook (https, Slack-compatible)">
          <input id="autonomy-webhook" type="url" value={form.webhook} onInput={(e) => set({ webhook: e.currentTarget.value })} spellcheck={false} />
        </Field>
        {note ? <Notice tone={note.tone}>{note.text}</Notice> : null}
        <div class="form-actions">
          <button type="submit">Save</button>
        </div>
      </form>
      <AlertToken siteId={siteId} />
    </>
  );
}
