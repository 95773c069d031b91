import { describe, expect, it } from "vitest";
import { fieldsOf, parametersFrom } from "./schemaForm";

describe("recipe submit form", () => {
  const schema = {
    type: "object",
    required: ["epochs"],
    properties: {
      epochs: { type: "integer", default: 3 },
      lr: { type: "number" },
      optimizer: { type: "string", enum: ["adam", "sgd"], default: "adam" },
      layers: { type: "array", default: [64, 32] },
      verbose: { type: "boolean" },
    },
  };

  it("makes one field per parameter with its default", () => {
    const fields = fieldsOf(schema);
    expect(fields.map((f) => [f.name, f.kind, f.initial])).toEqual([
      ["epochs", "integer", "3"],
      ["lr", "number", ""],
      ["optimizer", "enum", "adam"],
      ["layers", "json", "[64,32]"],
      ["verbose", "boolean", ""],
    ]);
  });

  it("types the values and reports bad ones per field", () => {
    const fields = fieldsOf(schema);
    expect(parametersFrom(fields, { lr: "0.01", verbose: "true" }).parameters).toEqual({
      epochs: 3,
      lr: 0.01,
      optimizer: "adam",
      layers: [64, 32],
      verbose: true,
    });
    expect(parametersFrom(fields, { epochs: "2.5", layers: "[" }).errors).toEqual({ epochs: "not an integer", layers: "not valid JSON" });
  });
});
