import type { AccountView } from "./account.js";

/** Whether an account serves a requested model, and under which name it is sent upstream. */
export interface ModelResolution {
  readonly supported: boolean;
  /** The name to send upstream; the requested name when unsupported or when the mapping target is empty. */
  readonly upstreamModel: string;
}

const WILDCARD = "*";

/** Whether a mapping key is a prefix pattern (`gpt-5*`); a `*` anywhere but at the end is a literal character. */
export function isWildcardPattern(key: string): boolean {
  return key.endsWith(WILDCARD);
}

function wildcardMatches(pattern: string, model: string): boolean {
  return model.startsWith(pattern.slice(0, -WILDCARD.length));
}

/**
 * Resolves a requested model against an account's mapping. An empty mapping serves every model unchanged. An exact
 * key beats any wildcard; among wildcards the longest pattern wins (keys are unique, so there is never a tie). An
 * empty target keeps the requested name. Matching is case-sensitive, as model ids are.
 */
export function resolveModel(mapping: Readonly<Record<string, string>>, requested: string): ModelResolution {
  const keys = Object.keys(mapping);
  if (keys.length === 0) return { supported: true, upstreamModel: requested };
  let key: string | undefined = Object.hasOwn(mapping, requested) ? requested : undefined;
  if (key === undefined) {
    for (const candidate of keys) {
      if (!isWildcardPattern(candidate) || !wildcardMatches(candidate, requested)) continue;
      if (key === undefined || candidate.length > key.length) key = candidate;
    }
  }
  if (key === undefined) return { supported: false, upstreamModel: requested };
  const target = mapping[key] ?? "";
  return { supported: true, upstreamModel: target === "" ? requested : target };
}

/**
 * The model ids a group can list on GET /v1/models: the union of what each of its accounts serves, sorted. An
 * account's exact mapping keys are listed; a wildcard key (`gpt-5*`) is a pattern, not a model id, so it is never
 * listed itself and admits the entries of `knownModels` (the caller's default list) that it matches; an account
 * with an empty mapping serves every model and contributes all of `knownModels`. No accounts gives an empty list.
 */
export function groupModelList(
  accounts: readonly Pick<AccountView, "modelMapping">[],
  knownModels: readonly string[] = [],
): string[] {
  const models = new Set<string>();
  for (const { modelMapping } of accounts) {
    const keys = Object.keys(modelMapping);
    if (keys.length === 0) for (const known of knownModels) models.add(known);
    for (const key of keys) {
      if (!isWildcardPattern(key)) {
        models.add(key);
        continue;
      }
      for (const known of knownModels) if (wildcardMatches(key, known)) models.add(known);
    }
  }
  return [...models].sort();
}
