import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api, apiFetch } from "../api/client";
import type { FileInfo } from "../api/types";
import { formatBytes } from "../lib/format";
import { ErrorBox, Loading } from "./common";

const PREVIEW_BYTES = 1_000_000;

// Where the server proxies a run's artifacts: "mlflow-artifacts:/x/y" → /api/2.0/mlflow-artifacts/artifacts/x/y.
export function downloadUrl(artifactUri: string, path: string): string | null {
  const match = /^mlflow-artifacts:(?:\/\/[^/]*)?\/?(.*)$/.exec(artifactUri);
  if (!match) return null;
  const root = match[1].replace(/\/$/, "");
  const encoded = path.split("/").map(encodeURIComponent).join("/");
  return `/api/2.0/mlflow-artifacts/artifacts/${root ? root + "/" : ""}${encoded}`;
}

export function previewKind(path: string): "image" | "json" | "yaml" | "csv" | "text" | null {
  const name = path.split("/").pop()!.toLowerCase();
  if (/\.(png|jpe?g|gif|svg|webp)$/.test(name)) return "image";
  if (name.endsWith(".json")) return "json";
  if (name === "mlmodel" || /\.ya?ml$/.test(name)) return "yaml";
  if (/\.(csv|tsv)$/.test(name)) return "csv";
  if (/\.(txt|log|md|py|cfg|ini|toml|sh|html|xml)$/.test(name) || name === "requirements.txt" || !name.includes(".")) return "text";
  return null;
}

export function parseCsv(text: string, separator = ","): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === separator) {
      row.push(cell);
      cell = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else cell += c;
  }
  if (cell || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

function Preview({ url, path, size }: { url: string; path: string; size?: number }) {
  const kind = previewKind(path);
  const text = useQuery({
    queryKey: ["artifact", url],
    enabled: kind !== null && kind !== "image" && (size ?? 0) <= PREVIEW_BYTES,
    queryFn: async () => {
      const response = await apiFetch(url);
      if (!response.ok) throw new Error(`download failed: HTTP ${response.status}`);
      return response.text();
    },
  });
  if (kind === "image") return <img className="preview-image" src={url} alt={path} />;
  if (kind === null) return <p className="muted">No preview for this file type.</p>;
  if ((size ?? 0) > PREVIEW_BYTES) return <p className="muted">Too large to preview ({formatBytes(size)}).</p>;
  if (text.isLoading) return <Loading />;
  if (text.error) return <ErrorBox error={text.error} />;
  const body = text.data ?? "";
  if (kind === "csv") {
    const rows = parseCsv(body, path.endsWith(".tsv") ? "\t" : ",").slice(0, 200);
    return (
      <table className="grid csv">
        <thead>
          <tr>{rows[0]?.map((c, i) => <th key={i}>{c}</th>)}</tr>
        </thead>
        <tbody>
          {rows.slice(1).map((r, i) => (
            <tr key={i}>{r.map((c, j) => <td key={j}>{c}</td>)}</tr>
          ))}
        </tbody>
      </table>
    );
  }
  let shown = body;
  if (kind === "json") {
    try {
      shown = JSON.stringify(JSON.parse(body), null, 2);
    } catch {
      /* shown as it is */
    }
  }
  return <pre className="preview-text">{shown}</pre>;
}

function Directory({ runId, path, artifactUri, onPick, picked }: { runId: string; path: string; artifactUri: string; onPick: (f: FileInfo) => void; picked?: string }) {
  const [open, setOpen] = useState<Set<string>>(new Set());
  const listing = useQuery({
    queryKey: ["artifacts", runId, path],
    queryFn: () => api.get<{ files?: FileInfo[] }>("/api/2.0/mlflow/artifacts/list", { run_id: runId, path: path || undefined }),
  });
  if (listing.isLoading) return <Loading />;
  if (listing.error) return <ErrorBox error={listing.error} />;
  const files = listing.data?.files ?? [];
  if (!files.length && !path) return <p className="muted">No artifacts.</p>;
  return (
    <ul className="tree">
      {files.map((file) => (
        <li key={file.path}>
          {file.is_dir ? (
            <>
              <button
                type="button"
                className="link"
                onClick={() => {
                  const next = new Set(open);
                  if (next.has(file.path)) next.delete(file.path);
                  else next.add(file.path);
                  setOpen(next);
                }}
              >
                {open.has(file.path) ? "▾" : "▸"} {file.path.split("/").pop()}/
              </button>
              {open.has(file.path) ? <Directory runId={runId} path={file.path} artifactUri={artifactUri} onPick={onPick} picked={picked} /> : null}
            </>
          ) : (
            <button type="button" className={"link" + (picked === file.path ? " picked" : "")} onClick={() => onPick(file)}>
              {file.path.split("/").pop()} <span className="muted small">{formatBytes(file.file_size)}</span>
            </button>
          )}
        </li>
      ))}
    </ul>
  );
}

export function ArtifactBrowser({ runId, artifactUri }: { runId: string; artifactUri: string }) {
  const [picked, setPicked] = useState<FileInfo | null>(null);
  const url = picked ? downloadUrl(artifactUri, picked.path) : null;
  return (
    <div className="artifacts">
      <div className="artifact-tree">
        <Directory runId={runId} path="" artifactUri={artifactUri} onPick={setPicked} picked={picked?.path} />
      </div>
      <div className="artifact-preview">
        {picked ? (
          <>
            <div className="card-head">
              <strong className="mono">{picked.path}</strong>
              {url ? (
                <a href={url} download>
                  Download
                </a>
              ) : null}
            </div>
            {url ? <Preview url={url} path={picked.path} size={picked.file_size} /> : <p className="muted">This artifact store is not proxied by the server.</p>}
          </>
        ) : (
          <p className="muted">Pick a file to preview it.</p>
        )}
      </div>
    </div>
  );
}
