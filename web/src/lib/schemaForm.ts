// A submit form generated from a recipe's parameter JSON Schema: one field per top-level property.
import type { JsonSchema } from "../api/types";

export interface Field {
  name: string;
  kind: "string" | "number" | "integer" | "boolean" | "enum" | "json";
  required: boolean;
  initial: string;
  options?: string[];
  description?: string;
}

function typeOf(schema: JsonSchema): string | undefined {
  return Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
}

export function fieldsOf(schema: JsonSchema | undefined): Field[] {
  const properties = schema?.properties ?? {};
  const required = new Set(schema?.required ?? []);
  return Object.entries(properties).map(([name, property]) => {
    const type = typeOf(property);
    const kind: Field["kind"] = property.enum
      ? "enum"
      : type === "string" || type === "number" || type === "integer" || type === "boolean"
        ? type
        : "json";
    const initial =
      property.default === undefined ? "" : kind === "json" ? JSON.stringify(property.default) : String(property.default);
    return {
      name,
      kind,
      required: required.has(name),
      initial,
      options: property.enum?.map(String),
      description: property.description ?? property.title,
    };
  });
}

// Form text → typed parameter values; empty optional fields are left out (the schema's default applies).
export function parametersFrom(fields: Field[], values: Record<string, string>): { parameters: Record<string, unknown>; errors: Record<string, string> } {
  const parameters: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const text = (values[field.name] ?? field.initial).trim();
    if (!text) {
      if (field.required) errors[field.name] = "required";
      continue;
    }
    if (field.kind === "number" || field.kind === "integer") {
      const number = Number(text);
      if (!Number.isFinite(number) || (field.kind === "integer" && !Number.isInteger(number))) errors[field.name] = `not ${field.kind === "integer" ? "an integer" : "a number"}`;
      else parameters[field.name] = number;
    } else if (field.kind === "boolean") parameters[field.name] = text === "true";
    else if (field.kind === "json") {
      try {
        parameters[field.name] = JSON.parse(text);
      } catch {
        errors[field.name] = "not valid JSON";
      }
    } else parameters[field.name] = text;
  }
  return { parameters, errors };
}
