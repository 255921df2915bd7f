import { type FuzzContext, invalidBody } from "./api-cases.js";
import { type FuzzCase, MODELS_PATHS, PROXY_PATHS, rawRequest } from "./requests.js";

function error(category: string, bytes: Buffer): FuzzCase {
  return { category, bytes, finish: "end", expect: "error" };
}

/** A well-formed Switchyard key that was never issued. */
function unknownKey(ctx: FuzzContext): string {
  return `sk-sy-${ctx.rng.text(43, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")}`;
}

/** Missing, malformed, unknown and oddly carried keys, on every route that authenticates. */
export function keys(ctx: FuzzContext): FuzzCase {
  const { rng, key } = ctx;
  const credentials = rng.pick<() => string[]>([
    () => [],
    () => ["authorization: Bearer"],
    () => ["authorization: Bearer "],
    () => [`authorization: Basic ${Buffer.from(`user:${key}`).toString("base64")}`],
    () => [`authorization: Token ${key}`],
    () => [`authorization: Bearer ${key.slice(0, -1)}`],
    () => [`authorization: Bearer ${key}x`],
    () => [`authorization: Bearer ${unknownKey(ctx)}`],
    () => [`authorization: Bearer ${"k".repeat(rng.int(257, 4_000))}`],
    () => [`authorization: Bearer ${rng.text(rng.int(1, 60), "abc!$%&'*+-.^_|~\t ")}`],
    () => [`x-api-key: ${unknownKey(ctx)}`],
    () => [`api-key: ${rng.text(rng.int(1, 80))}`],
    () => [`x-api-key: ${key.toUpperCase()}`],
    () => [`authorization: bearer\t${unknownKey(ctx)}`],
    () => ["authorization: Bearer sk-sy-", "x-api-key: "],
  ])();
  if (rng.chance(0.4)) {
    const target = rng.pick(MODELS_PATHS);
    return error("keys", rawRequest({ method: "GET", target, headers: credentials }));
  }
  const target = rng.pick(PROXY_PATHS);
  const path = target.includes("chat") ? "chat" : "responses";
  // Half the time a body that would be valid, so unknown keys travel to the control plane and are refused there.
  const body = rng.chance(0.5)
    ? JSON.stringify(
        path === "chat"
          ? { model: ctx.model, messages: [{ role: "user", content: "hi" }] }
          : { model: ctx.model, input: "hi" },
      )
    : invalidBody(ctx, target);
  return error(
    "keys",
    rawRequest({ target, headers: [...credentials, "content-type: application/json"], body }),
  );
}

/** A key in the query string, plain or encoded, with or without a valid key in the headers. */
export function queryKey(ctx: FuzzContext): FuzzCase {
  const { rng, key } = ctx;
  const name = rng.pick(["api_key", "key", "API-KEY", "apikey", "%61pi_key", "api%5Fkey", "Key"]);
  const value = rng.pick([key, unknownKey(ctx), "x"]);
  const query = rng.pick([`?${name}=${value}`, `?a=1&${name}=${value}&b`, `?${name}=${value}#frag`]);
  const headers = rng.chance(0.5) ? [`authorization: Bearer ${key}`] : [];
  const get = rng.chance(0.4);
  const target = `${rng.pick(get ? MODELS_PATHS : PROXY_PATHS)}${query}`;
  const body = JSON.stringify({ model: ctx.model, input: "hi", messages: [{ role: "user", content: "hi" }] });
  const bytes = get
    ? rawRequest({ method: "GET", target, headers })
    : rawRequest({ target, headers: [...headers, "content-type: application/json"], body });
  return error("query-key", bytes);
}

/** The valid key with bodies the API refuses: unknown models, tool outputs without context, over the limit. */
export function validKeyInvalidBody(ctx: FuzzContext, bodyLimitBytes: number): FuzzCase {
  const { rng, key, model } = ctx;
  const target = rng.pick(PROXY_PATHS);
  const chat = target.includes("chat");
  const body = rng.pick<() => string | Buffer>([
    () => invalidBody(ctx, target),
    () =>
      JSON.stringify(
        chat
          ? { model: `${model}-${rng.text(4)}`, messages: [{ role: "user", content: "hi" }] }
          : { model: rng.pick([`${model}-mini`, model.toUpperCase(), ` ${model}`, "*"]), input: "hi" },
      ),
    () => JSON.stringify({ model, input: "x".repeat(bodyLimitBytes), messages: "x".repeat(bodyLimitBytes) }),
  ])();
  const headers = [`authorization: Bearer ${key}`, "content-type: application/json"];
  return error("valid-key-invalid-body", rawRequest({ target, headers, body }));
}
