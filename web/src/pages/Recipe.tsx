import { useMutation, useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { api } from "../api/client";
import type { Job, Recipe, RecipeVersion } from "../api/types";
import { ErrorBox, Loading, Section } from "../components/common";
import { formatBytes, formatTime } from "../lib/format";
import { fieldsOf, parametersFrom } from "../lib/schemaForm";

function SubmitForm({ version }: { version: RecipeVersion }) {
  const navigate = useNavigate();
  const fields = useMemo(() => fieldsOf(version.manifest.parameters), [version]);
  const [values, setValues] = useState<Record<string, string>>({});
  const [queue, setQueue] = useState("default");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const submit = useMutation({
    mutationFn: (parameters: Record<string, unknown>) =>
      api.post<{ job: Job }>("/api/v1/jobs", { recipe: version.name, version: version.version, queue, parameters }),
    onSuccess: (result) => navigate(`/jobs/${result.job.job_id}`),
  });
  return (
    <form
      className="form"
      onSubmit={(e) => {
        e.preventDefault();
        const parsed = parametersFrom(fields, values);
        setErrors(parsed.errors);
        if (!Object.keys(parsed.errors).length) submit.mutate(parsed.parameters);
      }}
    >
      {fields.map((field) => (
        <label key={field.name}>
          <span>
            {field.name}
            {field.required ? " *" : ""}
          </span>
          {field.kind === "enum" || field.kind === "boolean" ? (
            <select aria-label={field.name} value={values[field.name] ?? field.initial} onChange={(e) => setValues({ ...values, [field.name]: e.target.value })}>
              <option value="" />
              {(field.options ?? ["true", "false"]).map((o) => (
                <option key={o} value={o}>
                  {o}
                </option>
              ))}
            </select>
          ) : (
            <input aria-label={field.name} value={values[field.name] ?? field.initial} onChange={(e) => setValues({ ...values, [field.name]: e.target.value })} />
          )}
          {errors[field.name] ? <span className="field-error">{errors[field.name]}</span> : null}
          {field.description ? <span className="muted small">{field.description}</span> : null}
        </label>
      ))}
      <label>
        <span>queue</span>
        <input aria-label="queue" value={queue} onChange={(e) => setQueue(e.target.value)} />
      </label>
      <button type="submit">Submit job</button>
      <ErrorBox error={submit.error} />
    </form>
  );
}

export function RecipePage() {
  const { name = "" } = useParams();
  const recipe = useQuery({
    queryKey: ["recipe", name],
    queryFn: () => api.getPath<{ recipe: Recipe; versions: RecipeVersion[] }>(`/api/v1/recipes/${encodeURIComponent(name)}`),
  });
  const [picked, setPicked] = useState<number | null>(null);
  if (recipe.isLoading) return <Loading what="recipe" />;
  if (recipe.error) return <ErrorBox error={recipe.error} />;
  const versions = [...recipe.data!.versions].sort((a, b) => b.version - a.version);
  const version = versions.find((v) => v.version === picked) ?? versions[0];
  return (
    <div>
      <div className="crumbs">
        <Link to="/recipes">Recipes</Link> /
      </div>
      <h1>{name}</h1>
      <p>{recipe.data!.recipe.description}</p>
      <Section title="Versions">
        <table className="grid">
          <thead>
            <tr>
              <th>Version</th>
              <th>Created</th>
              <th>Size</th>
              <th>Digest</th>
              <th>Files</th>
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => (
              <tr key={v.version} className={v === version ? "picked" : ""}>
                <td>
                  <button type="button" className="link" onClick={() => setPicked(v.version)}>
                    Version {v.version}
                  </button>
                </td>
                <td>{formatTime(v.creation_time)}</td>
                <td>{formatBytes(v.bundle_size)}</td>
                <td className="mono">{v.digest.slice(0, 16)}</td>
                <td>
                  <a href={v.bundle_url}>Download bundle</a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      {version ? (
        <div className="columns">
          <Section title={`Manifest (version ${version.version})`}>
            <pre className="preview-text">{JSON.stringify(version.manifest, null, 2)}</pre>
          </Section>
          <Section title="Submit a job">
            <SubmitForm key={version.version} version={version} />
          </Section>
        </div>
      ) : null}
    </div>
  );
}
