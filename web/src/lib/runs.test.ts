import { QueryClient } from "@tanstack/react-query";
import { describe, expect, it } from "vitest";
import type { Run } from "../api/types";
import { availableColumns, cachedRun, differingKeys, groupRows, parseColumnName, searchColumns, toRow } from "./runs";

function run(id: string, params: Record<string, string>, metrics: Record<string, number>): Run {
  return {
    info: { run_id: id, experiment_id: "1", status: "FINISHED", lifecycle_stage: "active" },
    data: {
      params: Object.entries(params).map(([key, value]) => ({ key, value })),
      metrics: Object.entries(metrics).map(([key, value]) => ({ key, value, step: 0, timestamp: 0 })),
      tags: [{ key: "mlflow.runName", value: "run-" + id }],
    },
  };
}

describe("runs table helpers", () => {
  const rows = [run("a", { lr: "0.1", seed: "1" }, { loss: 1 }), run("b", { lr: "0.2", seed: "1" }, { loss: 1, acc: 0.5 })];

  it("lists every metric and param key once, hiding mlflow's own tags", () => {
    const columns = availableColumns(rows.map(toRow)).map((c) => `${c.kind}.${c.key}`);
    expect(columns).toEqual(["metrics.acc", "metrics.loss", "params.lr", "params.seed"]);
  });

  it("searches 12,000 keys quickly and caps what it shows", () => {
    const many = Array.from({ length: 12_000 }, (_, i) => ({ kind: "metrics" as const, key: `layer_${i}/grad_norm` }));
    const started = performance.now();
    const { matches, total } = searchColumns(many, "LAYER_11", 50);
    expect(performance.now() - started).toBeLessThan(100);
    expect(total).toBe(1111); // layer_11, layer_110..119, layer_1100..1199
    expect(matches).toHaveLength(50);
  });

  it("marks only the keys whose values differ", () => {
    const r = rows.map(toRow);
    expect([...differingKeys(r, "params")]).toEqual(["lr"]);
    expect([...differingKeys(r, "metrics")].sort()).toEqual(["acc"]);
  });

  it("groups rows by a param value", () => {
    const groups = groupRows(rows.map(toRow), { kind: "params", key: "lr" });
    expect(groups.map((g) => g.value)).toEqual(["0.1", "0.2"]);
  });

  it("parses column names with dots in the key", () => {
    expect(parseColumnName("metrics.val.loss")).toEqual({ kind: "metrics", key: "val.loss" });
    expect(parseColumnName("bogus")).toBeNull();
  });
});

describe("a run from the runs table's cache", () => {
  it("is found in any page of any cached runs search, with when that search was fetched", () => {
    const client = new QueryClient();
    const pages = { pages: [{ runs: [run("a", {}, {})] }, { runs: [run("b", {}, { loss: 2 })] }], pageParams: [undefined, "t"] };
    client.setQueryData(["runs", "1", "", []], pages, { updatedAt: 1234 });
    client.setQueryData(["experiment", "1"], { experiment: {} });
    const found = cachedRun(client, "b");
    expect(found?.run.data.metrics?.[0].value).toBe(2);
    expect(found?.updatedAt).toBe(1234);
    expect(cachedRun(client, "missing")).toBeUndefined();
  });
});
