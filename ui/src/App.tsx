import { lazy, Suspense } from "react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createBrowserRouter, Navigate, RouterProvider } from "react-router-dom";
import { Layout } from "./components/Layout";
import { Loading } from "./components/common";
import { ApiError } from "./api/client";

// Each page is its own chunk: the first paint loads the shell and the page asked for.
const RunsPage = lazy(() => import("./pages/runs/RunsPage"));
const RunMonitor = lazy(() => import("./pages/monitor/RunMonitor"));
const ThreadsPage = lazy(() => import("./pages/threads/ThreadsPage"));
const CostsPage = lazy(() => import("./pages/costs/CostsPage"));
const BuilderPage = lazy(() => import("./pages/builder/BuilderPage"));
const SettingsPage = lazy(() => import("./pages/settings/SettingsPage"));
const SsoCallback = lazy(() => import("./pages/auth/SsoCallback"));

export const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 2_000,
      refetchOnWindowFocus: false,
      // a 4xx will not get better by asking again
      retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 2,
    },
  },
});

const page = (element: React.ReactNode) => <Suspense fallback={<Loading />}>{element}</Suspense>;

export const routes = [
  {
    path: "/",
    element: <Layout />,
    children: [
      { index: true, element: <Navigate to="/runs" replace /> },
      { path: "runs", element: page(<RunsPage />) },
      { path: "runs/:runId", element: page(<RunMonitor />) },
      { path: "threads", element: page(<ThreadsPage />) },
      { path: "threads/:threadId", element: page(<ThreadsPage />) },
      { path: "costs", element: page(<CostsPage />) },
      { path: "builder", element: page(<BuilderPage />) },
      { path: "builder/:name", element: page(<BuilderPage />) },
      { path: "settings", element: page(<SettingsPage />) },
      { path: "auth/callback", element: page(<SsoCallback />) },
      { path: "*", element: <p>No such page. <a href="/runs">Go to the runs</a>.</p> },
    ],
  },
];

export function App() {
  const router = createBrowserRouter(routes);
  return (
    <QueryClientProvider client={queryClient}>
      <RouterProvider router={router} />
    </QueryClientProvider>
  );
}
