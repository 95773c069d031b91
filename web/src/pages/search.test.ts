import { describe, expect, it } from "vitest";
import { identifier, quote } from "../lib/format";
import { experimentFilter } from "./Experiments";
import { orderBy } from "./Runs";

describe("search strings sent to the server", () => {
  it("sorts table columns by runyard's order_by, quoting odd keys", () => {
    expect(orderBy([{ id: "metrics.val/loss", desc: false }])).toEqual(["metrics.`val/loss` ASC"]);
    expect(orderBy([{ id: "start", desc: true }])).toEqual(["attributes.start_time DESC"]);
    expect(orderBy([{ id: "params.lr", desc: true }])).toEqual(["params.lr DESC"]);
  });

  it("searches experiment names case-insensitively with the text escaped", () => {
    expect(experimentFilter("  ")).toBeUndefined();
    expect(experimentFilter("bob's")).toBe("name ILIKE '%bob''s%'");
  });

  it("quotes identifiers and strings", () => {
    expect(identifier("tags", "a`b")).toBe('tags."a`b"');
    expect(identifier("tags", 'a"b`')).toBe('tags."a\\"b`"');
    expect(quote("it's")).toBe("'it''s'");
    expect(quote("a\\_b")).toBe("'a\\_b'");
  });
});
