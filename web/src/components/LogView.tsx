import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useMemo, useRef, useState } from "react";
import type { LogLine } from "../api/types";
import { searchLines } from "../lib/logBuffer";

// A virtualised log: only visible lines are in the DOM, so a million lines scroll freely. It follows
// the tail while the user is at the bottom and stays put once they scroll up.
export function LogView({ lines }: { lines: LogLine[] }) {
  const parent = useRef<HTMLDivElement>(null);
  const [follow, setFollow] = useState(true);
  const [search, setSearch] = useState("");
  const [hit, setHit] = useState(0);
  const hits = useMemo(() => searchLines(lines, search), [lines, search]);
  const virtual = useVirtualizer({
    count: lines.length,
    getScrollElement: () => parent.current,
    estimateSize: () => 18,
    overscan: 30,
  });
  useEffect(() => {
    if (follow && lines.length) virtual.scrollToIndex(lines.length - 1, { align: "end" });
  }, [lines.length, follow, virtual]);
  const hitSet = useMemo(() => new Set(hits), [hits]);
  const jump = (n: number) => {
    if (!hits.length) return;
    const next = (n + hits.length) % hits.length;
    setHit(next);
    setFollow(false);
    virtual.scrollToIndex(hits[next], { align: "center" });
  };
  return (
    <div className="log">
      <div className="toolbar">
        <input
          type="search"
          aria-label="Search log"
          placeholder="Search log"
          value={search}
          onChange={(e) => {
            setSearch(e.target.value);
            setHit(0);
          }}
          onKeyDown={(e) => {
            if (e.key === "Enter") jump(hit + 1);
          }}
        />
        <span className="muted small">{search ? `${hits.length} matches` : `${lines.length} lines`}</span>
        <button type="button" onClick={() => jump(hit - 1)} disabled={!hits.length}>
          Previous
        </button>
        <button type="button" onClick={() => jump(hit + 1)} disabled={!hits.length}>
          Next
        </button>
        <label className="small">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
        </label>
      </div>
      <div
        className="log-lines"
        ref={parent}
        onWheel={(e) => {
          if (e.deltaY < 0) setFollow(false);
        }}
        data-testid="log-lines"
      >
        <div style={{ height: virtual.getTotalSize(), position: "relative" }}>
          {virtual.getVirtualItems().map((item) => {
            const line = lines[item.index];
            return (
              <div
                key={line.line_id}
                className={"log-line" + (line.stream === "stderr" ? " stderr" : "") + (hitSet.has(item.index) ? " hit" : "")}
                style={{ position: "absolute", top: 0, transform: `translateY(${item.start}px)` }}
              >
                {line.line}
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}
