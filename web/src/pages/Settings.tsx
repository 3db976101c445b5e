import { Link } from "../components/Link.tsx";
import { me, site } from "../session.ts";
import { AccountSettings, ApiKeys } from "./settings/Account.tsx";
import { MembersSettings } from "./settings/Members.tsx";
import { Section } from "./settings/Section.tsx";
import { SETTINGS_SECTIONS, type SettingsSection } from "./settings/sections.ts";
import { SiteSettings } from "./settings/Site.tsx";


function Body({ section }: { section: SettingsSection }) {
  switch (section) {
    case "account":
      return <AccountSettings />;
    case "keys":
      return (
        <Section id="keys-title" title="API keys">
          <ApiKeys />
        </Section>
      );
    case "site":
      return <SiteSettings />;
    case "members":
      return <MembersSettings />;
  }
}

export function Settings({ section }: { section: SettingsSection }) {
  const title = SETTINGS_SECTIONS.find((s) => s.key === section)!.title;
  const shown = SETTINGS_SECTIONS.filter((s) => (s.key === "members" ? site.value !== null : s.key !== "site" || site.value || me.value?.user.superadmin));
  return (
    <section aria-labelledby="settings-title" class="settings">
      <div class="page-head">
        <h1 id="settings-title">Settings: {title}</h1>
      </div>
      <nav class="subnav" aria-label="Settings">
        {shown.map((s) => (
          <Link key={s.key} href={`/settings/${s.key}`} nav>
            {s.title}
          </Link>
        ))}
      </nav>
      <Body section={section} />
    </section>
  );
}
