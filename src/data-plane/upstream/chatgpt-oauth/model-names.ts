import table from "./model-names.json" with { type: "json" };

/**
 * The model-name table of ChatGPT accounts (model-names.json, beside this file): the subscription serves Codex
 * models, so common API names are sent as the Codex model that stands for them. Data, not code: edit the JSON.
 */
const MODELS: Readonly<Record<string, string>> = table.models;

/** The name the Codex backend gets for `model` (the account's mapping already applied). */
export function codexModelName(model: string): string {
  return Object.hasOwn(MODELS, model) ? (MODELS[model] ?? model) : model;
}
