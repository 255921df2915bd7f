import { knownPlatform } from "./account-validation.js";
import { boundedText, intInRange, invalid, requiredName } from "./validation.js";

/** How a rule's codes and keywords combine. */
export type MatchMode = "any" | "all";

/** The fields of a rule that are validated together (BEHAVIOUR.md "Error-passthrough rules"). */
export interface PassthroughRuleFields {
  name: string;
  enabled: boolean;
  priority: number;
  errorCodes: number[];
  keywords: string[];
  matchMode: MatchMode;
  platforms: string[];
  passthroughCode: boolean;
  responseCode: number;
  passthroughBody: boolean;
  customMessage: string;
  skipMonitoring: boolean;
  description: string;
}

const NAME_MAX = 128;
const LIST_MAX = 100;
const KEYWORD_MAX = 256;
const MESSAGE_MAX = 2048;
const DESCRIPTION_MAX = 1024;
const INT32 = 2 ** 31 - 1;

function statusCode(value: number, field: string): number {
  return intInRange(value, field, 100, 599);
}

/**
 * Validates a rule as a whole and returns it normalised (keywords trimmed, duplicates dropped). A rule must match on
 * something, `all` needs both a code and a keyword (otherwise it could never match), and whatever the rule does not
 * pass through it must supply: a response code, a message.
 */
export function validatePassthroughRule(rule: PassthroughRuleFields): PassthroughRuleFields {
  const errorCodes = [...new Set(rule.errorCodes)];
  if (errorCodes.length > LIST_MAX) throw invalid("error_codes", `at most ${LIST_MAX} codes`);
  for (const code of errorCodes) statusCode(code, "error_codes");
  const keywords = [...new Set(rule.keywords.map((k) => k.trim()))];
  if (keywords.length > LIST_MAX) throw invalid("keywords", `at most ${LIST_MAX} keywords`);
  for (const k of keywords) {
    if (k === "") throw invalid("keywords", "keywords must not be empty");
    boundedText(k, "keywords", KEYWORD_MAX);
  }
  if (errorCodes.length === 0 && keywords.length === 0) {
    throw invalid("error_codes", "a rule needs at least one error code or keyword");
  }
  if (rule.matchMode === "all" && (errorCodes.length === 0 || keywords.length === 0)) {
    throw invalid("match_mode", "ALL needs at least one error code and one keyword");
  }
  const platforms = [...new Set(rule.platforms)];
  for (const p of platforms) knownPlatform(p, "platforms");
  if (!rule.passthroughCode || rule.responseCode !== 0) {
    if (rule.responseCode === 0)
      throw invalid("response_code", "required (100–599) when passthrough_code is false");
    statusCode(rule.responseCode, "response_code");
  }
  if (!rule.passthroughBody && rule.customMessage.trim() === "") {
    throw invalid("custom_message", "required when passthrough_body is false");
  }
  return {
    ...rule,
    name: requiredName(rule.name, "name", NAME_MAX),
    priority: intInRange(rule.priority, "priority", -INT32, INT32),
    errorCodes,
    keywords,
    platforms,
    customMessage: boundedText(rule.customMessage, "custom_message", MESSAGE_MAX),
    description: boundedText(rule.description, "description", DESCRIPTION_MAX),
  };
}
