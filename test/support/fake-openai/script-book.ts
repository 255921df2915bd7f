import type { Behaviour, RuleMatch, ScriptRule } from "./types.js";

/** What a rule is matched against. */
export interface RuleSubject {
  apiKey: string | null;
  model: string | undefined;
  path: string;
}

interface Entry {
  rule: ScriptRule;
  remaining: number;
}

/** `/v1/responses` and `/responses` name the same endpoint. */
function samePath(wanted: string, actual: string): boolean {
  if (wanted === actual) return true;
  const strip = (path: string) => (path.startsWith("/v1/") ? path.slice(3) : path);
  return strip(wanted) === strip(actual);
}

function matches(match: RuleMatch | undefined, subject: RuleSubject): boolean {
  if (match === undefined) return true;
  if (match.apiKey !== undefined && match.apiKey !== subject.apiKey) return false;
  if (match.model !== undefined && match.model !== subject.model) return false;
  if (match.path !== undefined && !samePath(match.path, subject.path)) return false;
  return true;
}

/**
 * The ordered list of scripted rules. The first rule that matches and still has uses left answers the request
 * and uses one of its `times`; exhausted rules stay in place but never match again.
 */
export class ScriptBook {
  #entries: Entry[] = [];

  add(rule: ScriptRule): void {
    this.#entries.push({ rule, remaining: rule.times ?? Number.POSITIVE_INFINITY });
  }

  clear(): void {
    this.#entries = [];
  }

  get size(): number {
    return this.#entries.length;
  }

  /** Picks the behaviour for a request and consumes one use of its rule; undefined when no rule applies. */
  take(subject: RuleSubject): Behaviour | undefined {
    for (const entry of this.#entries) {
      if (entry.remaining <= 0 || !matches(entry.rule.match, subject)) continue;
      entry.remaining -= 1;
      return entry.rule;
    }
    return undefined;
  }
}
