import { useVirtualizer } from "@tanstack/react-virtual";
import { useDeferredValue, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import type { LogLine } from "../api/types";
import { indexOfLine, searchLines } from "../lib/logBuffer";

const LINE_HEIGHT = 18;
const NEAR_TOP = 4 * LINE_HEIGHT;

interface Props {
  lines: LogLine[];
  hasEarlier?: boolean; // earlier lines exist on the server
  onLoadEarlier?: () => Promise<void>;
}

// A virtualised log: only visible lines are in the DOM, so a million lines scroll freely. It follows
// the tail while the user is at the bottom and stays put once they scroll up; scrolling to the top of
// what is loaded fetches earlier lines and keeps the lines on screen where they were.
export function LogView({ lines, hasEarlier = false, onLoadEarlier }: Props) {
  const parent = useRef<HTMLDivElement>(null);
  const [follow, setFollow] = useState(true);
  const [search, setSearch] = useState("");
  const [hit, setHit] = useState(0);
  const [loadingAll, setLoadingAll] = useState(false);
  const needle = useDeferredValue(search); // typing stays responsive while a million lines are searched
  const hits = useMemo(() => searchLines(lines, needle), [lines, needle]);
  const autoScrolled = useRef(0);
  const lastTop = useRef(0);
  const firstId = useRef<number | null>(null);
  const wholeLog = useRef(false); // "Load the whole log" was pressed
  const virtual = useVirtualizer({
    count: lines.length,
    getScrollElement: () => parent.current,
    estimateSize: () => LINE_HEIGHT,
    overscan: 30,
  });
  useEffect(() => {
    if (follow && lines.length) {
      autoScrolled.current = performance.now();
      virtual.scrollToIndex(lines.length - 1, { align: "end" });
    }
  }, [lines.length, follow, virtual]);
  // Earlier lines put before the shown ones: move the scroll position down by as many lines.
  useLayoutEffect(() => {
    const previous = firstId.current;
    firstId.current = lines.length ? lines[0].line_id : null;
    if (previous === null || !lines.length || lines[0].line_id === previous || !parent.current) return;
    const added = indexOfLine(lines, previous);
    if (added > 0) {
      parent.current.scrollTop += added * LINE_HEIGHT;
      lastTop.current = parent.current.scrollTop;
    }
  }, [lines]);
  const hitSet = useMemo(() => new Set(hits), [hits]);
  const jump = (n: number) => {
    if (!hits.length) return;
    const next = (n + hits.length) % hits.length;
    setHit(next);
    setFollow(false);
    virtual.scrollToIndex(hits[next], { align: "center" });
  };
  const onScroll = () => {
    const element = parent.current;
    if (!element) return;
    // Following only ever scrolls down: a scroll up away from the bottom is the user's, and stops it.
    const fromBottom = element.scrollHeight - element.scrollTop - element.clientHeight;
    const up = element.scrollTop < lastTop.current - 1;
    lastTop.current = element.scrollTop;
    if (follow && fromBottom > 2 * LINE_HEIGHT && (up || performance.now() - autoScrolled.current > 300)) setFollow(false);
    if (element.scrollTop < NEAR_TOP && hasEarlier && onLoadEarlier) void onLoadEarlier();
  };
  const loadAll = async () => {
    if (!onLoadEarlier) return;
    setLoadingAll(true);
    try {
      await onLoadEarlier();
    } finally {
      setLoadingAll(false);
    }
  };
  // "Load the whole log" keeps fetching earlier pages until none are left.
  useEffect(() => {
    if (loadingAll || !hasEarlier || !wholeLog.current) return;
    void loadAll();
  });
  const count = lines.length.toLocaleString("en-US");
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
        <span className="muted small" data-testid="log-count">
          {needle ? `${hits.length.toLocaleString("en-US")} matches in ${count} lines` : `${count} lines`}
          {hasEarlier ? " (the end of the log; earlier lines load as you scroll up)" : ""}
        </span>
        <button type="button" onClick={() => jump(hit - 1)} disabled={!hits.length}>
          Previous
        </button>
        <button type="button" onClick={() => jump(hit + 1)} disabled={!hits.length}>
          Next
        </button>
        {hasEarlier ? (
          <button
            type="button"
            disabled={loadingAll}
            onClick={() => {
              wholeLog.current = true;
              void loadAll();
            }}
          >
            Load the whole log
          </button>
        ) : null}
        <label className="small">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
        </label>
      </div>
      <div
        className="log-lines"
        ref={parent}
        onScroll={onScroll}
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
