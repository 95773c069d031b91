// The job page's log: lines appended as they stream in, earlier lines prepended as the user scrolls up,
// searchable, bounded in memory.
import type { LogLine } from "../api/types";

export const MAX_LINES = 1_000_000;

export function appendLines(current: LogLine[], incoming: LogLine[], max = MAX_LINES): LogLine[] {
  if (!incoming.length) return current;
  const last = current.length ? current[current.length - 1].line_id : -1;
  const fresh = incoming.filter((l) => l.line_id > last);
  if (!fresh.length) return current;
  const merged = current.concat(fresh);
  return merged.length > max ? merged.slice(merged.length - max) : merged;
}

// Earlier lines (oldest first) put before the ones shown; never beyond `max` lines in all.
export function prependLines(current: LogLine[], earlier: LogLine[], max = MAX_LINES): LogLine[] {
  const first = current.length ? current[0].line_id : Infinity;
  let fresh = earlier.filter((l) => l.line_id < first);
  const room = max - current.length;
  if (room <= 0 || !fresh.length) return current;
  if (fresh.length > room) fresh = fresh.slice(fresh.length - room);
  return fresh.concat(current);
}

// The index of the line with id `lineId` in `lines` (sorted by id), or -1.
export function indexOfLine(lines: LogLine[], lineId: number): number {
  let lo = 0;
  let hi = lines.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const id = lines[mid].line_id;
    if (id === lineId) return mid;
    if (id < lineId) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

// Indices of the lines containing ``text`` (case-insensitive).
export function searchLines(lines: LogLine[], text: string): number[] {
  const needle = text.toLowerCase();
  if (!needle) return [];
  const hits: number[] = [];
  for (let i = 0; i < lines.length; i++) if (lines[i].line.toLowerCase().includes(needle)) hits.push(i);
  return hits;
}
