import { AccountSettings } from "./settings/Account.tsx";
import { SiteSettings } from "./settings/Site.tsx";

export function Settings() {
  return (
    <section aria-labelledby="settings-title" class="settings">
      <div class="page-head">
        <h1 id="settings-title">Settings</h1>
      </div>
      <AccountSettings />
      <SiteSettings />
    </section>
  );
}
