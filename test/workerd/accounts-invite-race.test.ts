import { env, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { DIRECTORY_NAME, type Directory } from "../../durable-objects/directory/directory.ts";
import type { DirectoryContext } from "../../durable-objects/directory/directory-context.ts";
import { CreatedInvite, InviteListResponse, MemberListResponse, type InviteView } from "../../protocol/accounts.ts";
import { hashToken } from "../../worker/auth/tokens.ts";
import { ANONYMOUS, call, directorySql, expectJson, join, newSite, PASSWORD, refusal, ROOT, rootSession, uniqueEmail, type Caller } from "./accounts-support.ts";

let root: Caller;
beforeAll(async () => {
  root = await rootSession();
});

async function openInvite(site: string, by: Caller): Promise<{ id: string; token: string }> {
  const created = await expectJson(await call(by, `/api/sites/${site}/invites`, { body: { role: "admin" } }), 201, CreatedInvite);
  return { id: created.invite.id, token: new URL(created.url).pathname.split("/").pop()! };
}

async function members(site: string): Promise<{ userId: string; email: string; role: string }[]> {
  return (await expectJson(await call(root, `/api/sites/${site}/members`), 200, MemberListResponse)).members;
}

async function invites(site: string): Promise<InviteView[]> {
  return (await expectJson(await call(root, `/api/sites/${site}/invites`), 200, InviteListResponse)).invites;
}

/** The Directory itself, so that a revocation can be sent while an acceptance is inside it, in a known order. */
function directory() {
  return env.DIRECTORY.get(env.DIRECTORY.idFromName(DIRECTORY_NAME));
}

/**
 * A new account's acceptance that fails before granting anything: its session's token hash (`taken`) is one the
 * Directory holds already, so the session cannot be stored.
 */
function doomedAcceptance(taken: string) {
  return { as: "new" as const, email: uniqueEmail("unlucky"), name: "Unlucky", passwordHash: "not used in this test", session: { tokenHash: taken, ip: null, userAgent: null } };
}

describe("a one-time invite accepted in parallel", () => {
  it("by five new people: one account is made and joins, the others are told the link was used", async () => {
    const site = await newSite();
    const { token } = await openInvite(site, root);
    const emails = Array.from({ length: 5 }, () => uniqueEmail("race"));
    const results = await Promise.all(
      emails.map((email, i) => call(ANONYMOUS, "/api/invites/accept", { body: { token, name: `p${i}`, password: PASSWORD, email } })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 410, 410, 410, 410]);
    for (const refused of results.filter((r) => r.status === 410)) expect((await refusal(refused, 410)).code).toBe("invite_used");
    const joined = await members(site);
    expect(joined).toHaveLength(1);
    expect(joined[0]!.role).toBe("admin");
    const accounts = await directorySql((sql) => sql.exec<{ email: string }>(`SELECT email FROM users WHERE email IN (${emails.map(() => "?").join(", ")})`, ...emails).toArray());
    expect(accounts.map((a) => a.email)).toEqual([joined[0]!.email]);
  });

  it("by four signed-in people: one joins, the others are told the link was used", async () => {
    const other = await newSite();
    const people = await Promise.all([0, 1, 2, 3].map((i) => join(other, "member", root, `u${i}`)));
    const site = await newSite();
    const { token } = await openInvite(site, root);
    const results = await Promise.all(people.map((p) => call(p.caller, "/api/invites/accept", { body: { token } })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 410, 410, 410]);
    for (const refused of results.filter((r) => r.status === 410)) expect((await refusal(refused, 410)).code).toBe("invite_used");
    const winner = people[results.findIndex((r) => r.status === 200)]!;
    expect((await members(site)).map((m) => [m.userId, m.role])).toEqual([[winner.userId, "admin"]]);
  });
});

describe("an acceptance under way", () => {
  it("racing a revocation: either the revoke finds the invite accepted and the person joins, or the acceptance is refused", async () => {
    const person = await join(await newSite(), "member", root, "racer");
    const site = await newSite();
    const { id, token } = await openInvite(site, root);
    const dir = directory();
    const [accepted, revoked] = await Promise.all([
      dir.acceptInvite(await hashToken(token), { as: "user", userId: person.userId, ip: null }),
      dir.revokeInvite(site, id, { actor: ROOT.email, ip: null }),
    ]);
    if (!revoked.ok) throw new Error(`revoke: ${JSON.stringify(revoked.error)}`);
    const joined = (await members(site)).map((m) => m.userId);
    if (accepted.ok) {
      expect(revoked.value.acceptedAt).not.toBeNull();
      expect(joined).toEqual([person.userId]);
    } else {
      expect(accepted.error.code).toBe("invite_not_found");
      expect(revoked.value.acceptedAt).toBeNull();
      expect(joined).toEqual([]);
    }
    expect((await refusal(await call(person.caller, "/api/invites/accept", { body: { token } }), 404)).code).toBe("invite_not_found");
  });

  it("racing the removal of the invite's creator: either the invite was accepted and stays so, or it went with its creator", async () => {
    const site = await newSite();
    const creator = await join(site, "admin", root, "creator");
    const { id, token } = await openInvite(site, creator.caller);
    const email = uniqueEmail("newcomer");
    const dir = directory();
    const [accepted, removed] = await Promise.all([
      dir.acceptInvite(await hashToken(token), {
        as: "new",
        email,
        name: "Newcomer",
        passwordHash: "not used in this test",
        session: { tokenHash: await hashToken(crypto.randomUUID()), ip: null, userAgent: null },
      }),
      dir.removeMember(site, creator.userId, { actor: ROOT.email, ip: null }),
    ]);
    expect(removed.ok).toBe(true);
    const joined = (await members(site)).map((m) => m.email);
    const invite = (await invites(site)).find((i) => i.id === id);
    if (accepted.ok) {
      expect(joined).toEqual([email]);
      expect(invite?.acceptedAt).toEqual(expect.any(Number));
    } else {
      expect(accepted.error.code).toBe("invite_not_found");
      expect(joined).toEqual([]);
      expect(invite).toBeUndefined();
    }
  });

  it("that fails before granting anything gives the link back", async () => {
    const site = await newSite();
    const { id, token } = await openInvite(site, root);
    const taken = await directorySql((sql) => sql.exec<{ token_hash: string }>("SELECT token_hash FROM sessions LIMIT 1").one().token_hash);
    const failure = await directory()
      .acceptInvite(await hashToken(token), doomedAcceptance(taken))
      .then(
        () => null,
        (err: unknown) => String(err),
      );
    expect(failure).toMatch(/UNIQUE/);
    expect((await invites(site)).find((i) => i.id === id)?.acceptedAt).toBeNull();
    const person = await join(await newSite(), "member", root, "second");
    expect((await call(person.caller, "/api/invites/accept", { body: { token } })).status).toBe(200);
    expect((await members(site)).map((m) => m.userId)).toEqual([person.userId]);
  });

  it("that fails after its creator was removed does not give the link back: the creator may no longer invite", async () => {
    const site = await newSite();
    const creator = await join(site, "admin", root, "creator");
    const { id, token } = await openInvite(site, creator.caller);
    const taken = await directorySql((sql) => sql.exec<{ token_hash: string }>("SELECT token_hash FROM sessions LIMIT 1").one().token_hash);
    const tokenHash = await hashToken(token);
    const failure = await runInDurableObject(directory(), async (instance: Directory) => {
      // Holds the acceptance at its first call out (the new account's copy to its shard), after it claimed the invite.
      const links = (instance as unknown as { data: DirectoryContext }).data.links;
      const put = links.putCredential;
      let open = () => {};
      const gate = new Promise<void>((resolve) => (open = resolve));
      links.putCredential = async (record, issued) => {
        await gate;
        return put(record, issued);
      };
      try {
        const accepting = instance
          .acceptInvite(tokenHash, doomedAcceptance(taken))
          .then(
            () => null,
            (err: unknown) => String(err),
          );
        expect((await instance.removeMember(site, creator.userId, { actor: ROOT.email, ip: null })).ok).toBe(true);
        open();
        return await accepting;
      } finally {
        links.putCredential = put;
      }
    });
    expect(failure).toMatch(/UNIQUE/);
    expect((await invites(site)).find((i) => i.id === id)).toBeUndefined();
    const person = await join(await newSite(), "member", root, "late");
    expect((await refusal(await call(person.caller, "/api/invites/accept", { body: { token } }), 404)).code).toBe("invite_not_found");
    expect(await members(site)).toEqual([]);
  });
});
