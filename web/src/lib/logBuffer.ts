// The job page's log: lines appended as they stream in, searchable, bounded in memory.
import type { LogLine } from "../api/types";

export const MAX_LINES = 1_000_000;

export function appendLines(current: LogLine[], incoming: LogLine[], max = MAX_LINES): LogLine[] {
  if (!incoming.length) return current;
  const last = current.length ? current[current.length - 1].line_id : -1;
  const fresh = incoming.filter((l) => l.line_id > last);
  const merged = current.concat(fresh);
  return merged.length > max ? merged.slice(merged.length - max) : merged;
}

// Indices of the lines containing ``text`` (case-insensitive).
export function searchLines(lines: LogLine[], text: string): number[] {
  const needle = text.toLowerCase();
  if (!needle) return [];
  const hits: number[] = [];
  for (let i = 0; i < lines.length; i++) if (lines[i].line.toLowerCase().includes(needle)) hits.push(i);
  return hits;
}
