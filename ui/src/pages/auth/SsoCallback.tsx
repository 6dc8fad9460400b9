// Where the identity provider sends the browser back (/auth/callback?code=...&state=...):
// the sign-in is finished once (finishSignIn), then the page it started from is shown.
import { useEffect, useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { useLocation, useNavigate } from "react-router-dom";
import { ErrorBox, Loading, Page } from "../../components/common";
import { finishSignIn } from "../../lib/sso";

// one exchange per callback URL: a code is good once, and React may mount a page twice
const finishing = new Map<string, Promise<string>>();

export default function SsoCallback() {
  const { search } = useLocation();
  const navigate = useNavigate();
  const client = useQueryClient();
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let live = true;
    let done = finishing.get(search);
    if (!done) {
      done = finishSignIn(search);
      finishing.set(search, done);
    }
    done.then(
      (returnTo) => {
        if (!live) return;
        void client.invalidateQueries();
        navigate(returnTo, { replace: true });
      },
      (problem: unknown) => {
        if (live) setError(problem);
      },
    );
    return () => {
      live = false;
    };
  }, [search, navigate, client]);
  return (
    <Page title="Signing in">
      {error ? (
        <>
          <ErrorBox error={error} />
          <p>
            <a href="/runs">Back to the runs</a>
          </p>
        </>
      ) : (
        <Loading what="your sign-in" />
      )}
    </Page>
  );
}
