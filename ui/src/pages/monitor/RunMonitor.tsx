import { Page } from "../../components/common";

// Placeholder: the page's helper builds it.
export default function RunMonitor() {
  return (
    <Page title="Run">
      <p className="muted">Not built yet.</p>
    </Page>
  );
}
