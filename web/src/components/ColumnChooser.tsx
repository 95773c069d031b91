import { useVirtualizer } from "@tanstack/react-virtual";
import { useMemo, useRef, useState } from "react";
import { type ColumnId, columnName } from "../lib/runs";

// A searchable list of every param/metric/tag key (virtualised: 12,000 keys stay responsive).
export function ColumnChooser({
  columns,
  chosen,
  onChange,
}: {
  columns: ColumnId[];
  chosen: string[];
  onChange: (chosen: string[]) => void;
}) {
  const [open, setOpen] = useState(false);
  const [text, setText] = useState("");
  // Names and their lowercase forms are computed once per set of columns, not on every keystroke.
  const names = useMemo(() => columns.map(columnName), [columns]);
  const lower = useMemo(() => names.map((name) => name.toLowerCase()), [names]);
  const found = useMemo(() => {
    const needle = text.trim().toLowerCase();
    if (!needle) return { matches: names, total: names.length };
    const matches: string[] = [];
    for (let i = 0; i < lower.length; i++) if (lower[i].includes(needle)) matches.push(names[i]);
    return { matches, total: matches.length };
  }, [names, lower, text]);
  const parent = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({
    count: found.matches.length,
    getScrollElement: () => parent.current,
    estimateSize: () => 24,
    overscan: 10,
  });
  const selected = useMemo(() => new Set(chosen), [chosen]);
  const toggle = (name: string) =>
    onChange(selected.has(name) ? chosen.filter((c) => c !== name) : [...chosen, name]);
  return (
    <div className="chooser">
      <button type="button" onClick={() => setOpen(!open)} aria-expanded={open}>
        Columns ({chosen.length})
      </button>
      {open ? (
        <div className="chooser-panel" role="dialog" aria-label="Choose columns">
          <input
            type="search"
            autoFocus
            placeholder="Search columns"
            aria-label="Search columns"
            value={text}
            onChange={(e) => setText(e.target.value)}
          />
          <div className="muted small">
            {found.total} of {columns.length} keys
          </div>
          <div ref={parent} className="chooser-list">
            <div style={{ height: virtual.getTotalSize(), position: "relative" }}>
              {virtual.getVirtualItems().map((item) => {
                const name = found.matches[item.index];
                return (
                  <label
                    key={name}
                    className="chooser-item"
                    style={{ position: "absolute", top: 0, transform: `translateY(${item.start}px)` }}
                  >
                    <input type="checkbox" checked={selected.has(name)} onChange={() => toggle(name)} /> {name}
                  </label>
                );
              })}
            </div>
          </div>
          <button type="button" onClick={() => setOpen(false)}>
            Done
          </button>
        </div>
      ) : null}
    </div>
  );
}
