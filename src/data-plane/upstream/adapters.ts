import { chatgptOAuthAdapter } from "./chatgpt-oauth/adapter.js";
import { openAIApiKeyAdapter } from "./openai-apikey/adapter.js";
import type { UpstreamAdapter } from "./upstream-adapter.js";

/** Every adapter the data plane has, by `UpstreamTarget.kind`; the only place that names a kind of upstream. */
const ADAPTERS: ReadonlyMap<string, UpstreamAdapter> = new Map(
  [openAIApiKeyAdapter, chatgptOAuthAdapter].map((adapter) => [adapter.kind, adapter]),
);

/**
 * The adapter for an account's kind, or undefined for a kind this data plane does not know (a newer control plane
 * may send one; the caller treats the attempt as a transport failure so the request moves on).
 */
export function adapterFor(kind: string): UpstreamAdapter | undefined {
  return ADAPTERS.get(kind);
}

/** The kinds this data plane can call. */
export function knownUpstreamKinds(): string[] {
  return [...ADAPTERS.keys()];
}
