import { useEffect, useState } from "preact/hooks";
import type { SiteSettingsResponse } from "../../../../protocol/site-settings.ts";
import { SANDBOX_PATH } from "../../../../protocol/tier-policy.ts";
import { messageOf, request } from "../../api.ts";
import { sitePaths, SITES } from "../../paths.ts";
import { canManageSite } from "../../permissions.ts";
import { chooseSite, loadMe, me, role, site } from "../../session.ts";
import { Notice } from "../../components/Notice.tsx";
import { AutonomySettings } from "./Autonomy.tsx";
import { SiteChatSettings } from "./ChatSettings.tsx";
import { Section } from "./Section.tsx";

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

/** The site's name, which its admins may change. */
function SiteName({ siteId, name, manage }: { siteId: string; name: string; manage: boolean }) {
  const [value, setValue] = useState(name);
  const [note, setNote] = useState<{ tone: "ok" | "error"; text: string } | null>(null);
  if (!manage) return <p>{name}</p>;
  async function rename(e: Event) {
    e.preventDefault();
    try {
      await request(sitePaths(siteId).base, { method: "PATCH", body: { name: value.trim() } });
      await loadMe();
      setNote({ tone: "ok", text: "Renamed." });
    } catch (err) {
      setNote({ tone: "error", text: messageOf(err) });
    }
  }
  return (
    <form class="inline-form" onSubmit={rename}>
      <label for="site-rename">
        Name <span class="muted">(id {siteId})</span>
        <input id="site-rename" value={value} onInput={(e) => setValue(e.currentTarget.value)} required maxLength={100} />
      </label>
      <button type="submit" disabled={!value.trim() || value.trim() === name}>
        Rename
      </button>
      {note ? <Notice tone={note.tone}>{note.text}</Notice> : null}
    </form>
  );
}

/** The site itself: its name and what members may read, and for superadmins, new sites. */
export function SiteSettings() {
  const current = site.value;
  const manage = canManageSite(role.value);
  return (
    <>
      {current ? (
        <>
          <Section id="site-title" title="Site">
            <SiteName key={current.site} siteId={current.site} name={current.siteName} manage={manage} />
          </Section>
          <Section id="readable-title" title="What members may read">
            <ReadablePaths siteId={current.site} manage={manage} />
          </Section>
          <Section id="autonomy-title" title="Autonomous investigations">
            <AutonomySettings siteId={current.site} manage={manage} />
          </Section>
          {manage ? <SiteChatSettings siteId={current.site} siteName={current.siteName} /> : null}
        </>
      ) : (
        <p class="muted">You are not a member of any site yet.</p>
      )}
      {me.value?.user.superadmin ? (
        <Section id="newsite-title" title="New site">
          <NewSite />
        </Section>
      ) : null}
    </>
  );
}
