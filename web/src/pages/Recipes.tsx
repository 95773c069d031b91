import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api } from "../api/client";
import type { Recipe } from "../api/types";
import { ErrorBox, Loading } from "../components/common";
import { formatTime } from "../lib/format";

export function RecipesPage() {
  const recipes = useQuery({
    queryKey: ["recipes"],
    queryFn: () => api.get<{ recipes: Recipe[]; total: number }>("/api/v1/recipes", { limit: 1000 }),
  });
  return (
    <div>
      <h1>Recipes</h1>
      <ErrorBox error={recipes.error} />
      {recipes.isLoading ? <Loading what="recipes" /> : null}
      {recipes.data && !recipes.data.recipes.length ? <p className="empty">No recipes. Push one with `runyard recipes push`.</p> : null}
      {recipes.data?.recipes.length ? (
        <table className="grid">
          <thead>
            <tr>
              <th>Name</th>
              <th>Description</th>
              <th>Latest version</th>
              <th>Updated</th>
            </tr>
          </thead>
          <tbody>
            {recipes.data.recipes.map((r) => (
              <tr key={r.name}>
                <td>
                  <Link to={`/recipes/${r.name}`}>{r.name}</Link>
                </td>
                <td>{r.description}</td>
                <td>{r.latest_version}</td>
                <td>{formatTime(r.last_update_time)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}
