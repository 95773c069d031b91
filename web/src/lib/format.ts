// Display helpers shared by the pages.

export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !ms) return "—";
  const date = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

export function formatDuration(startMs: number | null | undefined, endMs: number | null | undefined): string {
  if (!startMs) return "—";
  const end = endMs || Date.now();
  let seconds = Math.max(0, Math.round((end - startMs) / 1000));
  if (seconds < 60) return `${seconds}s`;
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  seconds %= 60;
  return hours ? `${hours}h ${minutes}m` : `${minutes}m ${seconds}s`;
}

export function formatValue(value: number | string | null | undefined): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(4);
  return String(Number(value.toPrecision(6)));
}

export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

// A string literal in runyard's search grammar: single-quoted, a quote doubled (backslashes stay as typed).
export function quote(text: string): string {
  return "'" + text.replace(/'/g, "''") + "'";
}

// A column identifier in the search grammar, backquoted when it is not a plain name.
export function identifier(kind: "params" | "metrics" | "tags" | "attributes", key: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return `${kind}.${key}`;
  // Backquoted, or double-quoted (with \" escapes) when the key itself holds a backquote.
  return key.includes("`") ? `${kind}."${key.replace(/"/g, '\\"')}"` : `${kind}.\`${key}\``;
}
