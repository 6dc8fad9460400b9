import { Page } from "../../components/common";
import { useIsAdmin } from "../../lib/whoami";
import { Profiles } from "./Profiles";
import { Server } from "./Server";
import { ThemeChoice } from "./ThemeChoice";
import { Tokens } from "./Tokens";
import "../../components/forms.css";

/** Settings: profiles, tokens, the server's capabilities, the theme. */
export default function SettingsPage() {
  const admin = useIsAdmin();
  return (
    <Page title="Settings">
      <Profiles admin={admin} />
      <Tokens admin={admin} />
      <Server />
      <ThemeChoice />
    </Page>
  );
}
