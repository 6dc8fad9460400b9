import { Page } from "../../components/common";

// Placeholder: the page's helper builds it.
export default function SettingsPage() {
  return (
    <Page title="Settings">
      <p className="muted">Not built yet.</p>
    </Page>
  );
}
