import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { api } from "../api/client";
import type { Experiment } from "../api/types";
import { ErrorBox, Loading } from "../components/common";
import { formatTime, quote } from "../lib/format";

interface SearchResponse {
  experiments?: Experiment[];
  next_page_token?: string;
}

export function experimentFilter(search: string): string | undefined {
  const text = search.trim();
  return text ? `name ILIKE ${quote("%" + text + "%")}` : undefined;
}

async function searchExperiments(search: string, showDeleted: boolean): Promise<Experiment[]> {
  const found: Experiment[] = [];
  let token: string | undefined;
  do {
    const page = await api.post<SearchResponse>("/api/2.0/mlflow/experiments/search", {
      max_results: 1000,
      filter: experimentFilter(search),
      view_type: showDeleted ? "DELETED_ONLY" : "ACTIVE_ONLY",
      order_by: ["last_update_time DESC"],
      page_token: token,
    });
    found.push(...(page.experiments ?? []));
    token = page.next_page_token;
  } while (token && found.length < 10_000);
  return found;
}

export function ExperimentsPage() {
  const [search, setSearch] = useState("");
  const [showDeleted, setShowDeleted] = useState(false);
  const [newName, setNewName] = useState("");
  const [renaming, setRenaming] = useState<{ id: string; name: string } | null>(null);
  const client = useQueryClient();
  const experiments = useQuery({
    queryKey: ["experiments", search, showDeleted],
    queryFn: () => searchExperiments(search, showDeleted),
  });
  const refresh = () => client.invalidateQueries({ queryKey: ["experiments"] });
  const create = useMutation({
    mutationFn: (name: string) => api.post("/api/2.0/mlflow/experiments/create", { name }),
    onSuccess: () => {
      setNewName("");
      refresh();
    },
  });
  const rename = useMutation({
    mutationFn: (r: { id: string; name: string }) =>
      api.post("/api/2.0/mlflow/experiments/update", { experiment_id: r.id, new_name: r.name }),
    onSuccess: () => {
      setRenaming(null);
      refresh();
    },
  });
  const remove = useMutation({
    mutationFn: (id: string) => api.post("/api/2.0/mlflow/experiments/delete", { experiment_id: id }),
    onSuccess: refresh,
  });
  const restore = useMutation({
    mutationFn: (id: string) => api.post("/api/2.0/mlflow/experiments/restore", { experiment_id: id }),
    onSuccess: refresh,
  });

  return (
    <div>
      <h1>Experiments</h1>
      <div className="toolbar">
        <input
          type="search"
          placeholder="Search experiments"
          aria-label="Search experiments"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
        <label>
          <input type="checkbox" checked={showDeleted} onChange={(e) => setShowDeleted(e.target.checked)} /> Show deleted
        </label>
        <form
          className="inline"
          onSubmit={(e) => {
            e.preventDefault();
            if (newName.trim()) create.mutate(newName.trim());
          }}
        >
          <input
            placeholder="New experiment name"
            aria-label="New experiment name"
            value={newName}
            onChange={(e) => setNewName(e.target.value)}
          />
          <button type="submit">Create experiment</button>
        </form>
      </div>
      <ErrorBox error={create.error ?? rename.error ?? remove.error ?? restore.error ?? experiments.error} />
      {experiments.isLoading ? <Loading what="experiments" /> : null}
      {experiments.data && !experiments.data.length ? <p className="empty">No experiments.</p> : null}
      {experiments.data?.length ? (
        <table className="grid">
          <thead>
            <tr>
              <th>Name</th>
              <th>ID</th>
              <th>Created</th>
              <th>Last activity</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {experiments.data.map((experiment) => (
              <tr key={experiment.experiment_id}>
                <td>
                  {renaming?.id === experiment.experiment_id ? (
                    <form
                      className="inline"
                      onSubmit={(e) => {
                        e.preventDefault();
                        rename.mutate(renaming);
                      }}
                    >
                      <input
                        aria-label="New name"
                        autoFocus
                        value={renaming.name}
                        onChange={(e) => setRenaming({ ...renaming, name: e.target.value })}
                      />
                      <button type="submit">Save</button>
                      <button type="button" onClick={() => setRenaming(null)}>
                        Cancel
                      </button>
                    </form>
                  ) : (
                    <Link to={`/experiments/${experiment.experiment_id}`}>{experiment.name}</Link>
                  )}
                </td>
                <td className="mono">{experiment.experiment_id}</td>
                <td>{formatTime(experiment.creation_time)}</td>
                <td>{formatTime(experiment.last_update_time)}</td>
                <td className="actions">
                  {experiment.lifecycle_stage === "deleted" ? (
                    <button onClick={() => restore.mutate(experiment.experiment_id)}>Restore</button>
                  ) : (
                    <>
                      <button onClick={() => setRenaming({ id: experiment.experiment_id, name: experiment.name })}>
                        Rename
                      </button>
                      <button className="danger" onClick={() => remove.mutate(experiment.experiment_id)}>
                        Delete
                      </button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}
