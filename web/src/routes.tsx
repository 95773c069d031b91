import type { ComponentType } from "react";
import { createHashRouter, Navigate, useParams } from "react-router";
import { Layout } from "./components/Layout";
import { ExperimentsPage } from "./pages/Experiments";
import { JobPage } from "./pages/Job";
import { JobsPage } from "./pages/Jobs";
import { loadRunPage } from "./pages/loaders";
import { ModelPage } from "./pages/Model";
import { ModelsPage } from "./pages/Models";
import { ModelVersionPage } from "./pages/ModelVersion";
import { PoolsPage } from "./pages/Pools";
import { RecipePage } from "./pages/Recipe";
import { RecipesPage } from "./pages/Recipes";
import { RunsPage } from "./pages/Runs";

// Another experiment's runs table starts afresh (its own filter, sort, columns and selection).
function RunsRoute() {
  const { experimentId = "" } = useParams();
  return <RunsPage key={experimentId} />;
}

// Pages loaded on first visit: the charts (uPlot), traces and the sign-in pages stay out of the initial bundle.
function lazyPage<T extends Record<string, unknown>>(load: () => Promise<T>, name: keyof T) {
  return async () => ({ Component: (await load())[name] as ComponentType });
}

// Hash routes: the deep links the mlflow client prints (/#/experiments/<id>/runs/<run_id>) land here.
export const router = createHashRouter([
  { path: "/login", lazy: lazyPage(() => import("./pages/Login"), "LoginPage") },
  {
    path: "/",
    element: <Layout />,
    children: [
      { index: true, element: <Navigate to="/experiments" replace /> },
      { path: "experiments", element: <ExperimentsPage /> },
      { path: "experiments/:experimentId", element: <RunsRoute /> },
      { path: "experiments/:experimentId/runs/:runId", lazy: lazyPage(loadRunPage, "RunPage") },
      { path: "compare", lazy: lazyPage(() => import("./pages/Compare"), "ComparePage") },
      { path: "models", element: <ModelsPage /> },
      { path: "models/:name", element: <ModelPage /> },
      { path: "models/:name/versions/:version", element: <ModelVersionPage /> },
      { path: "traces", lazy: lazyPage(() => import("./pages/Traces"), "TracesPage") },
      { path: "traces/:traceId", lazy: lazyPage(() => import("./pages/Trace"), "TracePage") },
      { path: "jobs", element: <JobsPage /> },
      { path: "jobs/:jobId", element: <JobPage /> },
      { path: "recipes", element: <RecipesPage /> },
      { path: "recipes/:name", element: <RecipePage /> },
      { path: "pools", element: <PoolsPage /> },
      { path: "tokens", lazy: lazyPage(() => import("./pages/Tokens"), "TokensPage") },
      { path: "*", element: <p className="empty">No such page.</p> },
    ],
  },
]);
