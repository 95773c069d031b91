import { describe, expect, it } from "vitest";
import { assessmentValue, bar, decoded, plain, spanTree, type Span } from "./traces";

const span = (id: string, parent: string | undefined, startMs: number, endMs: number): Span => ({
  span_id: id,
  parent_span_id: parent,
  name: id,
  start_time_unix_nano: String(BigInt(startMs) * 1_000_000n + 1_700_000_000_000_000_000n),
  end_time_unix_nano: String(BigInt(endMs) * 1_000_000n + 1_700_000_000_000_000_000n),
});

describe("traces", () => {
  it("orders spans as a tree with offsets from the trace's start", () => {
    const rows = spanTree([span("b", "root", 50, 80), span("root", undefined, 0, 100), span("a", "root", 10, 40), span("a1", "a", 12, 20)]);
    expect(rows.map((r) => `${"-".repeat(r.depth)}${r.span.name}`)).toEqual(["root", "-a", "--a1", "-b"]);
    expect(rows.map((r) => [r.startMs, r.durationMs])).toEqual([[0, 100], [10, 30], [12, 8], [50, 30]]);
  });

  it("shows a span whose parent is missing as a root", () => {
    expect(spanTree([span("orphan", "gone", 0, 1)]).map((r) => r.depth)).toEqual([0]);
  });

  it("places waterfall bars in proportion, never vanishing", () => {
    expect(bar({ span: span("x", undefined, 0, 1), depth: 0, startMs: 25, durationMs: 50 }, 100)).toEqual({ left: 25, width: 50 });
    expect(bar({ span: span("x", undefined, 0, 1), depth: 0, startMs: 99, durationMs: 0 }, 100).width).toBe(0.5);
  });

  it("turns OTLP values and JSON strings into plain values", () => {
    const value = { kvlist_value: { values: [{ key: "hits", value: { array_value: { values: [{ string_value: "A" }, { int_value: "3" }] } } }] } };
    expect(plain(value)).toEqual({ hits: ["A", 3] });
    expect(decoded('{"q": 1}')).toEqual({ q: 1 });
    expect(decoded("not json")).toBe("not json");
  });

  it("shows feedback and expectation values", () => {
    expect(assessmentValue({ assessment_id: "1", assessment_name: "ok", feedback: { value: true } })).toBe("true");
    expect(assessmentValue({ assessment_id: "2", assessment_name: "ref", expectation: { value: "42" } })).toBe("42");
  });
});
