import { useVirtualizer } from "@tanstack/react-virtual";
import { useMemo, useRef, useState } from "react";
import { type ColumnId, columnName, searchColumns } from "../lib/runs";

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
  const found = useMemo(() => searchColumns(columns, text, columns.length), [columns, text]);
  const parent = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({
    count: found.matches.length,
    getScrollElement: () => parent.current,
    estimateSize: () => 24,
    overscan: 10,
  });
  const selected = new Set(chosen);
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
                const name = columnName(found.matches[item.index]);
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
