import { describe, expect, it } from "vitest";
import type { LogLine } from "../api/types";
import { appendLines, indexOfLine, prependLines, searchLines } from "./logBuffer";

const line = (id: number, text = `line ${id}`): LogLine => ({ line_id: id, attempt: 1, stream: "stdout", ts: 0, line: text });

describe("log buffer", () => {
  it("drops lines already shown when a poll overlaps", () => {
    const lines = appendLines([line(1), line(2)], [line(2), line(3)]);
    expect(lines.map((l) => l.line_id)).toEqual([1, 2, 3]);
  });

  it("keeps the newest lines past the cap", () => {
    const lines = appendLines([line(1), line(2)], [line(3)], 2);
    expect(lines.map((l) => l.line_id)).toEqual([2, 3]);
  });

  // How fast this is on a million lines is measured by bench/ui_logs.py, not asserted here.
  it("finds every match in a million lines, case-insensitively", () => {
    const many = Array.from({ length: 1_000_000 }, (_, i) => line(i, i % 100_000 === 0 ? "ERROR boom" : "ok"));
    expect(searchLines(many, "error")).toEqual(
      Array.from({ length: 10 }, (_, i) => i * 100_000),
    );
  });

  it("puts earlier lines first, skipping any already shown, within the cap", () => {
    expect(prependLines([line(5), line(6)], [line(3), line(4), line(5)]).map((l) => l.line_id)).toEqual([3, 4, 5, 6]);
    expect(prependLines([line(5), line(6)], [line(2), line(3), line(4)], 3).map((l) => l.line_id)).toEqual([4, 5, 6]);
    expect(prependLines([line(5)], [line(4)], 1).map((l) => l.line_id)).toEqual([5]);
  });

  it("finds a line by id in sorted lines", () => {
    const lines = [line(2), line(7), line(9), line(40)];
    expect(lines.map((l) => indexOfLine(lines, l.line_id))).toEqual([0, 1, 2, 3]);
    expect(indexOfLine(lines, 8)).toBe(-1);
    expect(indexOfLine([], 1)).toBe(-1);
  });
});
