import { hash } from "node:crypto";
import { type HeaderMap, headerValue } from "./header-map.js";

/** Which client API a body belongs to: it decides where the conversation's opening messages are. */
export type SessionEndpoint = "responses" | "chat";

/** Headers that name the conversation, in the order they are tried. They are aliases: one source kind. */
const SESSION_HEADERS = [
  "session_id",
  "conversation_id",
  "x-session-affinity",
  "x-session-id",
  "x-opencode-session",
  "x-conversation-id",
] as const;

/** Deeper JSON than this is left out of the content seed (stands as "~"): bounds recursion on hostile bodies. */
const MAX_SEED_DEPTH = 32;

/**
 * The sticky-session hash of a request: 16 lower-case hex characters, the first 8 bytes of SHA-256 over the
 * seed (BEHAVIOUR.md allows any 64-bit hash). The seed is the first non-empty (trimmed) of: a session header
 * (`session_id`, `conversation_id`, `x-session-affinity`, `x-session-id`, `x-opencode-session`,
 * `x-conversation-id`), the body's
 * `prompt_cache_key`, or the conversation's opening — model, tools, instructions, the system/developer messages
 * before the first user message, and that user message. The hashed material starts with the source kind
 * (`header`, `prompt_cache_key`, `content`), so equal values from different kinds never collide; the six
 * headers are one kind on purpose (the same id under another header is the same conversation). Only what stays
 * the same as a conversation grows is in the content seed, so later turns keep the hash. Returns "" (no
 * stickiness) when there is no header, no key and no opening content: model and tools alone do not identify a
 * conversation.
 */
export function sessionHash(
  headers: HeaderMap,
  json: Readonly<Record<string, unknown>>,
  endpoint: SessionEndpoint,
): string {
  for (const name of SESSION_HEADERS) {
    const value = headerValue(headers, name)?.trim();
    if (value) return digest(`header\n${value}`);
  }
  const cacheKey = json.prompt_cache_key;
  if (typeof cacheKey === "string" && cacheKey.trim() !== "") {
    return digest(`prompt_cache_key\n${cacheKey.trim()}`);
  }
  const seed = contentSeed(json, endpoint);
  return seed === "" ? "" : digest(seed);
}

function digest(material: string): string {
  return hash("sha256", material, "hex").slice(0, 16);
}

/** The opening of a conversation: system/developer messages before the first user message, and its content. */
interface Opening {
  system: { role: string; content: unknown }[];
  firstUser: unknown;
}

/** Each part is JSON on one line, joined by "\n": the material cannot be read two ways. */
function contentSeed(json: Readonly<Record<string, unknown>>, endpoint: SessionEndpoint): string {
  const instructions = endpoint === "responses" ? present(json.instructions) : undefined;
  const opening = endpoint === "responses" ? responsesOpening(json.input) : messagesOpening(json.messages);
  if (instructions === undefined && opening.system.length === 0 && opening.firstUser === undefined) return "";
  return [
    "content",
    stableJson(json.model, 0),
    stableJson(json.tools, 0),
    stableJson(instructions, 0),
    stableJson(opening.system, 0),
    stableJson(opening.firstUser, 0),
  ].join("\n");
}

function responsesOpening(input: unknown): Opening {
  if (typeof input === "string") return { system: [], firstUser: present(input) };
  return messagesOpening(input);
}

function messagesOpening(items: unknown): Opening {
  const opening: Opening = { system: [], firstUser: undefined };
  if (!Array.isArray(items)) return opening;
  for (const item of items) {
    if (item === null || typeof item !== "object") continue;
    const { role, content } = item as Record<string, unknown>;
    if (role === "user") {
      opening.firstUser = present(content);
      break;
    }
    if (role === "system" || role === "developer") opening.system.push({ role, content: content ?? null });
  }
  return opening;
}

/** The value unless it is absent, null or "". */
function present(value: unknown): unknown {
  return value === null || value === "" ? undefined : value;
}

/** JSON with object keys sorted, so clients that reorder keys still get the same hash; undefined is null. */
function stableJson(value: unknown, depth: number): string {
  if (value === undefined || value === null) return "null";
  if (typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (depth >= MAX_SEED_DEPTH) return '"~"';
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) out += (i === 0 ? "" : ",") + stableJson(value[i], depth + 1);
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = "{";
  let first = true;
  for (const key of keys) {
    if (record[key] === undefined) continue;
    out += `${first ? "" : ","}${JSON.stringify(key)}:${stableJson(record[key], depth + 1)}`;
    first = false;
  }
  return `${out}}`;
}
