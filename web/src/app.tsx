import { effect } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { loadServedAgent } from "./agent-release.ts";
import { lazyPage } from "./lazy.tsx";
import { watchSite } from "./live.ts";
import { focusHeading, location, match, navigate, queryParam } from "./router.ts";
import { me, site } from "./session.ts";
import { Layout } from "./components/Layout.tsx";
import { Link } from "./components/Link.tsx";
import { AcceptInvite } from "./pages/AcceptInvite.tsx";
import { Machines } from "./pages/Machines.tsx";
import { SignIn } from "./pages/SignIn.tsx";
import { Setup } from "./pages/Setup.tsx";
import { SETTINGS_SECTIONS, type SettingsSection } from "./pages/settings/sections.ts";

// Signing in and the machines list are the first pages anyone sees: they come with the main script. The rest load
// when first opened, which keeps the first page's script within its budget (scripts/build-web.ts checks it).
const MachineDetail = lazyPage(() => import("./pages/MachineDetail.tsx").then((m) => m.MachineDetail));
const DirectivePage = lazyPage(() => import("./pages/DirectivePage.tsx").then((m) => m.DirectivePage));
const History = lazyPage(() => import("./pages/History.tsx").then((m) => m.History));
const RunMany = lazyPage(() => import("./pages/RunMany.tsx").then((m) => m.RunMany));
const AddMachine = lazyPage(() => import("./pages/AddMachine.tsx").then((m) => m.AddMachine));
const Logs = lazyPage(() => import("./pages/Logs.tsx").then((m) => m.Logs));
const Settings = lazyPage(() => import("./pages/Settings.tsx").then((m) => m.Settings));
const Roosts = lazyPage(() => import("./pages/roosts/Roosts.tsx").then((m) => m.Roosts));
const Autonomy = lazyPage(() => import("./pages/Autonomy.tsx").then((m) => m.Autonomy));

// The chat (and the markdown code it loads) comes only when first opened, so the first page does not grow.
const Chat = lazyPage(() => import("./pages/Chat.tsx").then((m) => m.Chat));

const PUBLIC = ["/signin", "/setup"];

// One live socket, for the site on screen, while someone is signed in.
effect(() => watchSite(me.value ? (site.value?.site ?? null) : null));
// The agent this hub serves, so machines running an older one can be flagged.
effect(() => {
  const current = me.value ? site.value?.site : undefined;
  if (current) loadServedAgent(current);
});

const TITLES: [string, string][] = [
  ["/roosts/deployment/:id", "Deployment"],
  ["/roosts/:roost", "Roost"],
  ["/roosts", "Roosts"],
  ["/machines/:id", "Machine"],
  ["/machines", "Machines"],
  ["/chat/:id", "Chat"],
  ["/chat", "Chat"],
  ["/directives/:id", "Directive"],
  ["/directives", "Directives"],
  ["/run", "Run on many"],
  ["/add", "Add a machine"],
  ["/logs", "Activity"],
  ["/autonomy", "Autonomous investigations"],
  ["/settings/:section", "Settings"],
  ["/signin", "Sign in"],
  ["/setup", "Set up"],
];

function NotFound() {
  return (
    <section aria-labelledby="notfound-title">
      <h1 id="notfound-title">Not found</h1>
      <p>
        There is no page at this address. <Link href="/machines">Go to the machines.</Link>
      </p>
    </section>
  );
}

function settingsSection(path: string): SettingsSection | null {
  const section = match("/settings/:section", path)?.section;
  return SETTINGS_SECTIONS.find((s) => s.key === section)?.key ?? null;
}

function SitePage({ path, siteId }: { path: string; siteId: string }) {
  const machine = match("/machines/:id", path);
  if (machine) return <MachineDetail site={siteId} id={machine.id!} />;
  const directive = match("/directives/:id", path);
  if (directive) return <DirectivePage site={siteId} id={directive.id!} />;
  const chat = match("/chat/:id", path);
  if (chat || path === "/chat") return <Chat site={siteId} id={chat?.id ?? null} />;
  if (path === "/roosts" || path.startsWith("/roosts/")) return <Roosts site={siteId} path={path} />;
  const section = settingsSection(path);
  if (section) return <Settings section={section} />;
  switch (path) {
    case "/machines":
      return <Machines />;
    case "/directives":
      return <History site={siteId} />;
    case "/run":
      return <RunMany site={siteId} />;
    case "/add":
      return <AddMachine site={siteId} />;
    case "/logs":
      return <Logs site={siteId} />;
    case "/autonomy":
      return <Autonomy site={siteId} />;
    default:
      return <NotFound />;
  }
}

function NoSite() {
  return (
    <section aria-labelledby="nosite-title">
      <h1 id="nosite-title">No site yet</h1>
      {me.value?.user.superadmin ? (
        <p>
          Create the first site in <Link href="/settings/site">Settings</Link>.
        </p>
      ) : (
        <p>You are not a member of any site. Ask a site's admin for an invite.</p>
      )}
    </section>
  );
}

export function App() {
  const path = location.value.path;
  const user = me.value;
  const invite = match("/invite/:token", path)?.token ?? (path === "/invite" ? queryParam("token") : null);

  useEffect(() => {
    const title = TITLES.find(([p]) => match(p, path))?.[1];
    document.title = title ? `${title} · Cortex` : "Cortex";
    focusHeading();
  }, [path]);

  useEffect(() => {
    if (user === undefined || invite) return;
    if (user === null && !PUBLIC.includes(path)) navigate(`/signin${path === "/" ? "" : `?next=${encodeURIComponent(path + location.value.search)}`}`, { replace: true });
    else if (user && (PUBLIC.includes(path) || path === "/")) navigate("/machines", { replace: true });
    else if (user && (path === "/settings" || path === "/settings/")) navigate("/settings/account", { replace: true });
  }, [user, path, invite]);

  if (user === undefined) return <p class="loading">Loading…</p>;
  if (invite) return <AcceptInvite token={invite} />;
  if (user === null) return path === "/setup" ? <Setup /> : <SignIn />;
  if (PUBLIC.includes(path) || path === "/" || path === "/settings" || path === "/settings/") return null;
  const current = site.value;
  if (!current) {
    const section = settingsSection(path);
    return <Layout>{section ? <Settings section={section} /> : <NoSite />}</Layout>;
  }
  return (
    <Layout>
      <SitePage key={current.site} path={path} siteId={current.site} />
    </Layout>
  );
}
