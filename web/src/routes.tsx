import { lazy, Suspense, type ReactNode } from "react";
import { createHashRouter, Navigate, useParams } from "react-router";
import { Layout } from "./components/Layout";
import { ComparePage } from "./pages/Compare";
import { ExperimentsPage } from "./pages/Experiments";
import { JobPage } from "./pages/Job";
import { JobsPage } from "./pages/Jobs";
import { ModelPage } from "./pages/Model";
import { ModelsPage } from "./pages/Models";
import { ModelVersionPage } from "./pages/ModelVersion";
import { PoolsPage } from "./pages/Pools";
import { RecipePage } from "./pages/Recipe";
import { RecipesPage } from "./pages/Recipes";
import { RunPage } from "./pages/Run";
import { RunsPage } from "./pages/Runs";
import { Loading } from "./components/common";

// Pages few visits need are loaded on first use, keeping the initial bundle small.
const TracesPage = lazy(() => import("./pages/Traces"));
const TracePage = lazy(() => import("./pages/Trace"));
const later = (page: ReactNode) => <Suspense fallback={<Loading />}>{page}</Suspense>;

// Another experiment's runs table starts afresh (its own filter, sort, columns and selection).
function RunsRoute() {
  const { experimentId = "" } = useParams();
  return <RunsPage key={experimentId} />;
}

// Hash routes: the deep links the mlflow client prints (/#/experiments/<id>/runs/<run_id>) land here.
export const router = createHashRouter([
  {
    path: "/",
    element: <Layout />,
    children: [
      { index: true, element: <Navigate to="/experiments" replace /> },
      { path: "experiments", element: <ExperimentsPage /> },
      { path: "experiments/:experimentId", element: <RunsRoute /> },
      { path: "experiments/:experimentId/runs/:runId", element: <RunPage /> },
      { path: "compare", element: <ComparePage /> },
      { path: "models", element: <ModelsPage /> },
      { path: "models/:name", element: <ModelPage /> },
      { path: "models/:name/versions/:version", element: <ModelVersionPage /> },
      { path: "traces", element: later(<TracesPage />) },
      { path: "traces/:traceId", element: later(<TracePage />) },
      { path: "jobs", element: <JobsPage /> },
      { path: "jobs/:jobId", element: <JobPage /> },
      { path: "recipes", element: <RecipesPage /> },
      { path: "recipes/:name", element: <RecipePage /> },
      { path: "pools", element: <PoolsPage /> },
      { path: "*", element: <p className="empty">No such page.</p> },
    ],
  },
]);
