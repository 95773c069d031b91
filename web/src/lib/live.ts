// Live updates: the server's Server-Sent Event streams (/api/v1/live/...) instead of polling.
import { useEffect, useRef } from "react";

export type LiveHandlers = Record<string, (data: unknown) => void>;

// Reopen delay after the n-th failure in a row (the server may be restarting).
export const backoff = (failures: number) => Math.min(30_000, 1000 * failures);

// Subscribes to `url` (null: nothing) and calls the handler named like each event. The server ends a
// stream after a while (`end`) so access is checked again; it is then reopened at once, and after a
// dropped connection with a growing delay. The handlers may change between renders without reopening.
export function useLiveEvents(url: string | null, handlers: LiveHandlers): void {
  const current = useRef(handlers);
  current.current = handlers;
  const names = Object.keys(handlers).sort().join(",");
  useEffect(() => {
    if (!url) return;
    let source: EventSource | null = null;
    let stopped = false;
    let failures = 0;
    let timer: number | undefined;
    const open = () => {
      source = new EventSource(url);
      for (const name of names.split(",")) {
        source.addEventListener(name, (event) => {
          failures = 0;
          current.current[name]?.(JSON.parse((event as MessageEvent<string>).data));
        });
      }
      source.addEventListener("end", () => {
        source?.close();
        if (!stopped) timer = window.setTimeout(open, 0);
      });
      source.onerror = () => {
        source?.close();
        if (!stopped) timer = window.setTimeout(open, backoff(++failures));
      };
    };
    open();
    return () => {
      stopped = true;
      source?.close();
      window.clearTimeout(timer);
    };
  }, [url, names]);
}

// The chart queries (["downsample", runIds, keys, ...]) that show any of `keys` of `runId` (all: no keys).
export function chartQueryShows(queryKey: readonly unknown[], runId: string, keys: string[]): boolean {
  if (queryKey[0] !== "downsample") return false;
  const runIds = queryKey[1] as string[];
  const shown = queryKey[2] as string[];
  return runIds.includes(runId) && (!keys.length || shown.some((k) => keys.includes(k)));
}
