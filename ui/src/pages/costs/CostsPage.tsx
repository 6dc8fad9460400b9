import { Page } from "../../components/common";

// Placeholder: the page's helper builds it.
export default function CostsPage() {
  return (
    <Page title="Costs">
      <p className="muted">Not built yet.</p>
    </Page>
  );
}
