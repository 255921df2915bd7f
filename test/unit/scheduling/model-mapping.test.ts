import { describe, expect, it } from "vitest";
import { groupModelList, resolveModel } from "../../../src/control-plane/domain/scheduling/model-mapping.js";

describe("resolveModel", () => {
  it.each([
    ["an empty mapping serves every model unchanged", {}, "gpt-5", true, "gpt-5"],
    ["an exact key maps to its target", { "gpt-5": "gpt-5-2025-08-07" }, "gpt-5", true, "gpt-5-2025-08-07"],
    ["an exact key with an empty target keeps the requested name", { "gpt-5": "" }, "gpt-5", true, "gpt-5"],
    [
      "an exact key beats a matching wildcard",
      { "gpt-5*": "wild", "gpt-5": "exact" },
      "gpt-5",
      true,
      "exact",
    ],
    [
      "the longest matching wildcard wins",
      { "gpt-*": "short", "gpt-5*": "long" },
      "gpt-5-mini",
      true,
      "long",
    ],
    [
      "a shorter wildcard serves what the longer one does not match",
      { "gpt-*": "short", "gpt-5*": "long" },
      "gpt-4o",
      true,
      "short",
    ],
    [
      "a wildcard with an empty target keeps the requested name",
      { "gpt-5*": "" },
      "gpt-5-mini",
      true,
      "gpt-5-mini",
    ],
    ["a wildcard matches its bare prefix", { "gpt-5*": "x" }, "gpt-5", true, "x"],
    ["a lone star serves every model", { "*": "" }, "o3", true, "o3"],
    ["an unmatched model is unsupported and keeps its name", { "gpt-5*": "x" }, "o3", false, "o3"],
    ["a star inside a key is a literal character", { "gpt-*-mini": "x" }, "gpt-5-mini", false, "gpt-5-mini"],
    ["matching is case-sensitive", { "gpt-5": "" }, "GPT-5", false, "GPT-5"],
    ["inherited object keys are not mapping keys", { "gpt-5": "" }, "constructor", false, "constructor"],
  ] as const)("%s", (_name, mapping, requested, supported, upstreamModel) => {
    expect(resolveModel(mapping, requested)).toEqual({ supported, upstreamModel });
  });
});

describe("groupModelList", () => {
  const known = ["gpt-4o", "gpt-5", "gpt-5-mini", "o3"];

  it.each([
    ["no accounts list nothing", [], []],
    ["an account with an empty mapping serves everything: it contributes the known list", [{}], known],
    [
      "an account serving everything adds the known list to other accounts' keys",
      [{ "my-model": "gpt-5" }, {}],
      ["gpt-4o", "gpt-5", "gpt-5-mini", "my-model", "o3"],
    ],
    [
      "exact keys of every account are merged, deduplicated and sorted",
      [{ o3: "", "gpt-5": "x" }, { "gpt-5": "" }],
      ["gpt-5", "o3"],
    ],
    [
      "a wildcard key is not listed but admits the known models it matches",
      [{ "gpt-5*": "", o1: "" }],
      ["gpt-5", "gpt-5-mini", "o1"],
    ],
    ["a wildcard matching no known model adds nothing", [{ "claude-*": "" }], []],
  ] as const)("%s", (_name, mappings, expected) => {
    const accounts = mappings.map((modelMapping) => ({ modelMapping }));
    expect(groupModelList(accounts, known)).toEqual(expected);
  });

  it("lists no wildcard-matched models when no known list is given", () => {
    expect(groupModelList([{ modelMapping: { "gpt-5*": "", o3: "" } }])).toEqual(["o3"]);
  });
});
