import { useEffect, useState } from "preact/hooks";
import type { InviteView, MemberView, SiteRole } from "../../../../protocol/accounts.ts";
import { SANDBOX_PATH, type SiteSettingsResponse } from "../../../../protocol/site-settings.ts";
import { messageOf, request } from "../../api.ts";
import { dateTime } from "../../format.ts";
import { sitePaths, SITES } from "../../paths.ts";
import { canManageSite } from "../../permissions.ts";
import { chooseSite, loadMe, me, role, site } from "../../session.ts";
import { CopyField } from "../../components/CopyField.tsx";
import { Notice } from "../../components/Notice.tsx";
import { AutonomySettings } from "./Autonomy.tsx";
import { SiteChatSettings } from "./ChatSettings.tsx";
import { Section } from "./Section.tsx";
import { useList } from "./useList.ts";

const ROLES: SiteRole[] = ["admin", "member"];

function Members({ siteId, manage }: { siteId: string; manage: boolean }) {
  const paths = sitePaths(siteId);
  const list = useList<MemberView>(paths.members, "members");
  const [error, setError] = useState("");
  const self = me.value?.user.id;

  async function act(fn: () => Promise<unknown>) {
    setError("");
    try {
      await fn();
      list.reload();
    } catch (err) {
      setError(messageOf(err));
    }
  }

  if (list.error) return <Notice>{list.error}</Notice>;
  if (!list.items) return <p class="muted">Loading…</p>;
  return (
    <>
      <table class="compact">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Email</th>
            <th scope="col">Role</th>
            <th scope="col">Since</th>
            {manage ? (
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            ) : null}
          </tr>
        </thead>
        <tbody>
          {list.items.map((m) => (
            <tr key={m.userId}>
              <td data-label="Name">{m.name}</td>
              <td data-label="Email">{m.email}</td>
              <td data-label="Role">
                {manage && m.userId !== self ? (
                  <select
                    aria-label={`Role of ${m.name}`}
                    value={m.role}
                    onChange={(e) => act(() => request(paths.member(m.userId), { method: "PATCH", body: { role: e.currentTarget.value } }))}
                  >
                    {ROLES.map((r) => (
                      <option key={r} value={r}>
                        {r}
                      </option>
                    ))}
                  </select>
                ) : (
                  m.role
                )}
              </td>
              <td data-label="Since" class="small">
                {dateTime(m.addedAt)}
              </td>
              {manage ? (
                <td>
                  {m.userId !== self ? (
                    <button
                      type="button"
                      class="link-button danger-text"
                      onClick={() => confirm(`Remove ${m.name} from this site?`) && act(() => request(paths.member(m.userId), { method: "DELETE" }))}
                    >
                      Remove
                    </button>
                  ) : null}
                </td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>
      <Notice>{error}</Notice>
    </>
  );
}

function Invites({ siteId }: { siteId: string }) {
  const paths = sitePaths(siteId);
  const list = useList<InviteView>(paths.invites, "invites");
  const [form, setForm] = useState<{ email: string; role: SiteRole; hours: string }>({ email: "", role: "member", hours: "72" });
  const [url, setUrl] = useState<string | null>(null);
  const [error, setError] = useState("");

  async function create(e: Event) {
    e.preventDefault();
    setError("");
    try {
      const created = await request<{ url: string }>(paths.invites, {
        body: { role: form.role, expiresInHours: Number(form.hours), ...(form.email.trim() ? { email: form.email.trim() } : {}) },
      });
      setUrl(new URL(created.url, window.location.origin).href);
      setForm({ ...form, email: "" });
      list.reload();
    } catch (err) {
      setError(messageOf(err));
    }
  }
  async function revoke(i: InviteView) {
    try {
      await request(paths.invite(i.id), { method: "DELETE" });
      list.reload();
    } catch (err) {
      setError(messageOf(err));
    }
  }
  const open = (list.items ?? []).filter((i) => !i.acceptedAt && i.expiresAt > Date.now());
  return (
    <>
      <Notice>{list.error}</Notice>
      {open.length ? (
        <ul class="plain-list">
          {open.map((i) => (
            <li key={i.id}>
              {i.email ?? "anyone with the link"} as <strong>{i.role}</strong>{" "}
              <span class="muted small">
                by {i.createdBy}, until {dateTime(i.expiresAt)}
              </span>{" "}
              <button type="button" class="link-button danger-text" onClick={() => revoke(i)}>
                Revoke
              </button>
            </li>
          ))}
        </ul>
      ) : list.items ? (
        <p class="muted">No open invites.</p>
      ) : null}
      <form class="inline-form" onSubmit={create}>
        <label for="invite-email">
          Email <span class="muted">(optional)</span>
          <input id="invite-email" type="email" value={form.email} onInput={(e) => setForm({ ...form, email: e.currentTarget.value })} />
        </label>
        <label for="invite-role">
          Role
          <select id="invite-role" value={form.role} onChange={(e) => setForm({ ...form, role: e.currentTarget.value as SiteRole })}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <label for="invite-hours">
          Valid for, hours
          <input id="invite-hours" type="number" min={1} max={720} value={form.hours} onInput={(e) => setForm({ ...form, hours: e.currentTarget.value })} />
        </label>
        <button type="submit">Create invite</button>
      </form>
      <Notice>{error}</Notice>
      {url ? (
        <div class="secret-once">
          <p>
            <strong>Send this link to the person you invite.</strong> It is shown only now.
          </p>
          <CopyField label="Invite link" value={url} />
        </div>
      ) : null}
    </>
  );
}

/** Where members and read-only keys may read, find and search; one folder per line, "sandbox" for each node's own. */
function ReadablePaths({ siteId, manage }: { siteId: string; manage: boolean }) {
  const paths = sitePaths(siteId);
  const [saved, setSaved] = useState<string[] | null>(null);
  const [text, setText] = useState("");
  const [note, setNote] = useState<{ tone: "ok" | "error"; text: string } | null>(null);
  useEffect(() => {
    request<SiteSettingsResponse>(paths.settings).then(
      ({ settings }) => (setSaved(settings.readablePaths), setText(settings.readablePaths.join("\n"))),
      (err) => setNote({ tone: "error", text: messageOf(err) }),
    );
  }, [paths.settings]);

  async function save(e: Event) {
    e.preventDefault();
    const readablePaths = text.split("\n").map((line) => line.trim()).filter(Boolean);
    try {
      const { settings } = await request<SiteSettingsResponse>(paths.settings, { method: "PATCH", body: { readablePaths } });
      setSaved(settings.readablePaths);
      setText(settings.readablePaths.join("\n"));
      setNote({ tone: "ok", text: "Saved." });
    } catch (err) {
      setNote({ tone: "error", text: messageOf(err) });
    }
  }

  const explain = (
    <p class="muted small">
      Members and read-only API keys may read, find and search only in these folders ("{SANDBOX_PATH}" is each machine's own sandbox); anywhere
      else needs a site admin. The machine itself checks the folder it really opens, so a link out of these folders leads nowhere.
    </p>
  );
  if (!manage) {
    return (
      <>
        {explain}
        {saved ? (
          <ul class="plain-list">
            {saved.map((p) => (
              <li key={p}>
                <code>{p}</code>
              </li>
            ))}
          </ul>
        ) : null}
        {note ? <Notice tone={note.tone}>{note.text}</Notice> : null}
      </>
    );
  }
  return (
    <form class="stack narrow" onSubmit={save}>
      {explain}
      <label for="readable-paths">
        Readable folders, one per line
        <textarea id="readable-paths" rows={4} value={text} onInput={(e) => setText(e.currentTarget.value)} spellcheck={false} />
      </label>
      {note ? <Notice tone={note.tone}>{note.text}</Notice> : null}
      <div class="form-actions">
        <button type="submit" disabled={saved === null}>
          Save
        </button>
      </div>
    </form>
  );
}

function NewSite() {
  const [form, setForm] = useState({ id: "", name: "" });
  const [error, setError] = useState("");
  async function create(e: Event) {
    e.preventDefault();
    setError("");
    try {
      await request(SITES, { body: { id: form.id.trim(), name: form.name.trim() } });
      await loadMe();
      chooseSite(form.id.trim());
      setForm({ id: "", name: "" });
    } catch (err) {
      setError(messageOf(err));
    }
  }
  return (
    <>
      <form class="inline-form" onSubmit={create}>
        <label for="site-id">
          Id
          <input id="site-id" value={form.id} onInput={(e) => setForm({ ...form, id: e.currentTarget.value })} required pattern="[a-z0-9]([a-z0-9\-]{0,61}[a-z0-9])?" placeholder="studio-b" />
        </label>
        <label for="site-name">
          Name
          <input id="site-name" value={form.name} onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} required maxLength={100} placeholder="Studio B" />
        </label>
        <button type="submit">Create site</button>
      </form>
      <Notice>{error}</Notice>
    </>
  );
}

export function SiteSettings() {
  const current = site.value;
  const manage = canManageSite(role.value);
  return (
    <>
      {current ? (
        <>
          <Section id="members-title" title={`Members of ${current.siteName}`}>
            {!manage ? <p class="muted small">Only the site's admins can change members and roles.</p> : null}
            <Members siteId={current.site} manage={manage} />
          </Section>
          <Section id="readable-title" title="What members may read">
            <ReadablePaths siteId={current.site} manage={manage} />
          </Section>
          <Section id="autonomy-title" title="Autonomous investigations">
            <AutonomySettings siteId={current.site} manage={manage} />
          </Section>
          {manage ? (
            <Section id="invites-title" title="Invites">
              <Invites siteId={current.site} />
            </Section>
          ) : null}
          {manage ? <SiteChatSettings siteId={current.site} siteName={current.siteName} /> : null}
        </>
      ) : null}
      {me.value?.user.superadmin ? (
        <Section id="newsite-title" title="New site">
          <NewSite />
        </Section>
      ) : null}
    </>
  );
}
