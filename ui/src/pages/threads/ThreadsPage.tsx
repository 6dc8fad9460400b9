import { Page } from "../../components/common";

// Placeholder: the page's helper builds it.
export default function ThreadsPage() {
  return (
    <Page title="Threads">
      <p className="muted">Not built yet.</p>
    </Page>
  );
}
