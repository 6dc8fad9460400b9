import { Page } from "../../components/common";

// Placeholder: the page's helper builds it.
export default function BuilderPage() {
  return (
    <Page title="Builder">
      <p className="muted">Not built yet.</p>
    </Page>
  );
}
