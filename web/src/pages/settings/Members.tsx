import { useState } from "preact/hooks";
import type { InviteView, MemberListResponse, SiteRole } from "../../../../protocol/accounts.ts";
import { messageOf, request } from "../../api.ts";
import { dateTime } from "../../format.ts";
import { sitePaths } from "../../paths.ts";
import { canManageSite } from "../../permissions.ts";
import { me, role, site } from "../../session.ts";
import { CopyField } from "../../components/CopyField.tsx";
import { Notice } from "../../components/Notice.tsx";
import { Section } from "./Section.tsx";
import { useList, useResource } from "./useList.ts";

const ROLES: SiteRole[] = ["admin", "member"];

function Members({ siteId, manage }: { siteId: string; manage: boolean }) {
  const paths = sitePaths(siteId);
  const access = useResource<MemberListResponse>(paths.members);
  const list = { items: access.data?.members ?? null, error: access.error, reload: access.reload };
  const superadmins = access.data?.superadmins ?? [];
  // A superadmin who is also a member is listed once, by the role that decides: superadmin.
  const members = list.items?.filter((m) => !superadmins.some((s) => s.userId === m.userId)) ?? null;
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
          {superadmins.map((s) => (
            <tr key={s.userId} data-role="superadmin">
              <td data-label="Name">{s.name}</td>
              <td data-label="Email">{s.email}</td>
              <td data-label="Role">
                superadmin <span class="muted small">(every site)</span>
              </td>
              <td data-label="Since" class="small muted">
                always
              </td>
              {manage ? <td /> : null}
            </tr>
          ))}
          {members!.map((m) => (
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
    if (!confirm(`Revoke the invite for ${i.email ?? "anyone with the link"}? The link stops working.`)) return;
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

/** Everyone with access to the site and their role (superadmins included), and the invites that let people in. */
export function MembersSettings() {
  const current = site.value;
  const manage = canManageSite(role.value);
  if (!current) return <p class="muted">You are not a member of any site yet.</p>;
  return (
    <>
      <Section id="members-title" title={`Who has access to ${current.siteName}`}>
        {!manage ? <p class="muted small">Only the site's admins can change members and roles.</p> : null}
        <Members siteId={current.site} manage={manage} />
      </Section>
      {manage ? (
        <Section id="invites-title" title="Invites">
          <Invites siteId={current.site} />
        </Section>
      ) : null}
    </>
  );
}
