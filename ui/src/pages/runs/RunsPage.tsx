import { Page } from "../../components/common";

// Placeholder: the page's helper builds it.
export default function RunsPage() {
  return (
    <Page title="Runs">
      <p className="muted">Not built yet.</p>
    </Page>
  );
}
