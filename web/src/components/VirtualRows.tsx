import { type Cell, flexRender } from "@tanstack/react-table";
import { useVirtualizer } from "@tanstack/react-virtual";
import { type ReactNode, memo, useEffect, useRef } from "react";

// One entry of the scrolled list: a table row's cells, or a group heading.
export type Entry<T> = { key: string; cells: Cell<T, unknown>[] } | { key: string; group: string };

interface Props<T> {
  label: string;
  entries: Entry<T>[];
  header: ReactNode;
  template: string; // the grid columns every row shares
  width: number;
  rowHeight: number;
  // Called when the last rows come into view (to fetch the next page).
  onNearEnd?: () => void;
}

const NEAR_END = 50;

// A virtualised table body. Scrolling re-renders this component only (not the page around it), and
// a row already on screen is not rendered again: only rows coming into view are.
export function VirtualRows<T>({ label, entries, header, template, width, rowHeight, onNearEnd }: Props<T>) {
  const scroller = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({
    count: entries.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => rowHeight,
    overscan: 20,
  });
  const items = virtual.getVirtualItems();
  const lastIndex = items.length ? items[items.length - 1].index : 0;
  useEffect(() => {
    if (lastIndex >= entries.length - NEAR_END) onNearEnd?.();
  }, [lastIndex, entries.length, onNearEnd]);

  return (
    <div className="vtable" ref={scroller} role="table" aria-label={label}>
      {header}
      <div style={{ height: virtual.getTotalSize(), position: "relative", width }}>
        {items.map((item) => (
          <VirtualRow<T>
            key={entries[item.index].key}
            entry={entries[item.index]}
            start={item.start}
            height={rowHeight}
            template={template}
            width={width}
          />
        ))}
      </div>
    </div>
  );
}

interface RowProps<T> {
  entry: Entry<T>;
  start: number;
  height: number;
  template: string;
  width: number;
}

function Row<T>({ entry, start, height, template, width }: RowProps<T>) {
  const style = { position: "absolute" as const, top: 0, transform: `translateY(${start}px)`, height, width };
  if ("group" in entry) {
    return (
      <div className="vrow vgroup" style={style} role="row">
        {entry.group}
      </div>
    );
  }
  return (
    <div className="vrow" role="row" style={{ ...style, gridTemplateColumns: template }}>
      {entry.cells.map((cell) => (
        <div key={cell.id} role="cell">
          {flexRender(cell.column.columnDef.cell, cell.getContext())}
        </div>
      ))}
    </div>
  );
}

// Same entry (its cells change when the columns or their state do), same place: nothing to redo.
const VirtualRow = memo(Row) as typeof Row;
