import { gzipSync } from "node:zlib";
import { chunked, type Finish, type FuzzCase, PROXY_PATHS, type Rng, rawRequest } from "./requests.js";

/** What the generators know of the stack: a valid key, and the one model its accounts serve. */
export interface FuzzContext {
  rng: Rng;
  key: string;
  model: string;
}

type Json = Record<string, unknown>;

/** A body every proxy route refuses, whatever the key: never valid JSON of the right shape. */
export function invalidBody(ctx: FuzzContext, path: string): Buffer {
  const { rng, model } = ctx;
  const chat = path.includes("chat");
  const forms: Array<() => string> = [
    () => "",
    () => rng.text(rng.int(1, 200), "{}[]:,\"'abc 123\\\n\t"),
    () => `{"model":"${model}","input":"unterminated`,
    () => JSON.stringify([{ model }]),
    () => rng.pick(["null", "true", "42", '"model"', "{}", "[]"]),
    () => JSON.stringify({ input: "hi", messages: [{ role: "user", content: "hi" }] }),
    () => JSON.stringify({ model: rng.pick([42, null, true, [], {}, ""]), input: "hi" }),
    () => JSON.stringify({ model, input: "hi", stream: rng.pick(["yes", 1, null, {}, []]) }),
    () =>
      JSON.stringify({
        model: `nope-${rng.text(8)}`,
        input: "hi",
        messages: [{ role: "user", content: "x" }],
      }),
    () =>
      chat
        ? JSON.stringify({ model, messages: rng.pick(["hi", [], null, {}]) })
        : JSON.stringify({ model, input: [{ type: "function_call_output", output: "42" }] }),
  ];
  return Buffer.from(rng.pick(forms)(), "utf8");
}

function keyHeader(ctx: FuzzContext): string {
  return `authorization: Bearer ${ctx.key}`;
}

function jsonPost(ctx: FuzzContext, body: Buffer | string, extra: string[] = [], path?: string): Buffer {
  const target = path ?? ctx.rng.pick(PROXY_PATHS);
  return rawRequest({ target, headers: [keyHeader(ctx), "content-type: application/json", ...extra], body });
}

function error(category: string, bytes: Buffer, finish: Finish): FuzzCase {
  return { category, bytes, finish, expect: "error" };
}

/** Bodies that are not JSON at all, or JSON that is not an object. */
export function notJson(ctx: FuzzContext): FuzzCase {
  const { rng } = ctx;
  const body = rng.pick([
    () => rng.bytes(rng.int(1, 2_000)),
    () => Buffer.from(`\uFEFF{"model":"${ctx.model}","input":"hi"}`),
    () => Buffer.from(`{"model":"${ctx.model}","input":"hi",}`),
    () => Buffer.from(`{"model":"${ctx.model}", /* c */ "input":"hi"}`),
    () => Buffer.from(`{"model":"${ctx.model}","input":NaN}`),
    () => Buffer.from(rng.pick(["[1,2]", "null", "0", '"x"', "   ", "\n"])),
    () => Buffer.from(`{"model":"${ctx.model}","input":"${"a".repeat(rng.int(1, 5_000))}`),
  ])();
  return error("not-json-body", jsonPost(ctx, body), rng.pick(["end", "wait"]));
}

/** JSON objects whose validated fields (`model`, `stream`, `messages`, tool outputs) have the wrong type. */
export function wrongJsonTypes(ctx: FuzzContext): FuzzCase {
  const { rng, model } = ctx;
  const path = rng.pick(PROXY_PATHS);
  const chat = path.includes("chat");
  const base: Json = chat ? { messages: [{ role: "user", content: "hi" }] } : { input: "hi" };
  const notString = (): unknown => rng.pick([42, -1.5, null, true, false, [], {}, [model], { model }, ""]);
  const notBoolean = (): unknown => rng.pick(["true", "yes", 1, 0, null, {}, [true]]);
  const body = rng.pick<() => Json>([
    () => ({ ...base, model: notString(), stream: rng.pick([true, false, undefined]) }),
    () => ({ ...base, model, stream: notBoolean() }),
    () =>
      chat
        ? { model, messages: rng.pick(["hi", [], null, {}, 3]) }
        : { model, input: [{ type: "function_call_output", call_id: rng.text(6), output: "42" }] },
  ])();
  return error("wrong-json-types", jsonPost(ctx, JSON.stringify(body), [], path), rng.pick(["end", "wait"]));
}

/** Deeply nested arrays and objects, at the top or inside a field that must be a string. */
export function nestedJson(ctx: FuzzContext): FuzzCase {
  const { rng, model } = ctx;
  const depth = rng.int(100, 30_000);
  const [open, close] = rng.pick([
    ["[", "]"],
    ['{"a":', "}"],
  ]);
  const nest = `${open.repeat(depth)}1${close.repeat(depth)}`;
  const body = rng.pick([
    () => nest,
    () => `{"model":${nest},"input":"hi"}`,
    () => `{"model":"${model}","input":${nest},"stream":"bad"}`,
    () => open.repeat(depth),
  ])();
  return error("nested-json", jsonPost(ctx, body), rng.pick(["end", "wait"]));
}

/** Bytes that are not UTF-8, in the structure or inside the model name (which then names no model). */
export function invalidUtf8(ctx: FuzzContext): FuzzCase {
  const { rng, model } = ctx;
  const bad = rng.pick([
    Buffer.from([0xff]),
    Buffer.from([0xc0, 0xaf]),
    Buffer.from([0xed, 0xa0, 0x80]),
    rng.bytes(4),
  ]);
  const body = rng.pick([
    () => Buffer.concat([Buffer.from('{"model":"'), Buffer.from(model), bad, Buffer.from('","input":"hi"}')]),
    () =>
      Buffer.concat([
        Buffer.from('{"model":"gpt'),
        bad,
        Buffer.from('","messages":[{"role":"user","content":"x"}]}'),
      ]),
    () => Buffer.concat([Buffer.from("{"), bad, Buffer.from(`"model":"${model}"}`)]),
    () => Buffer.from(`{"model":"\\ud800${model}","input":"hi","messages":[{"role":"user","content":"x"}]}`),
  ])();
  return error("invalid-utf8", jsonPost(ctx, body), rng.pick(["end", "wait"]));
}

/** Content types and encodings the data plane does not decode, over bodies it must refuse. */
export function contentTypeEncoding(ctx: FuzzContext): FuzzCase {
  const { rng } = ctx;
  const path = rng.pick(PROXY_PATHS);
  const plain = invalidBody(ctx, path);
  const type = rng.pick([
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/json; charset=utf-16",
    "application/octet-stream",
    rng.text(20, "abc/;=\t ,\x01"),
  ]);
  const [encoding, body] = rng.pick<[string, Buffer]>([
    ["gzip", gzipSync(Buffer.from(JSON.stringify({ model: ctx.model, input: "hi" })))],
    ["gzip", plain],
    ["br", rng.bytes(rng.int(1, 300))],
    ["deflate, gzip", plain],
    [rng.text(8), plain],
    ["identity", plain],
  ]);
  const headers = [keyHeader(ctx), `content-type: ${type}`, `content-encoding: ${encoding}`];
  return error(
    "content-type-encoding",
    rawRequest({ target: path, headers, body }),
    rng.pick(["end", "wait"]),
  );
}

/** Requests whose body is wholly sent, then the client leaves; or whose upload stops half-way. */
export function abortedUpload(ctx: FuzzContext): FuzzCase {
  const { rng, model } = ctx;
  const body = Buffer.from(JSON.stringify({ model, input: "x".repeat(rng.int(10, 3_000)) }));
  const cut = rng.int(0, body.length - 1);
  const bytes = rng.chance(0.5)
    ? Buffer.concat([
        rawRequest({
          headers: [keyHeader(ctx), "content-type: application/json"],
          contentLength: String(body.length),
        }),
        body.subarray(0, cut),
      ])
    : Buffer.concat([
        rawRequest({ headers: [keyHeader(ctx), "transfer-encoding: chunked"], contentLength: false }),
        chunked([body.subarray(0, cut)], false),
      ]);
  const finish = rng.pick<Finish>(["abort", "reset", "end"]);
  return { category: "aborted-upload", bytes, finish, expect: finish === "end" ? "error" : "none" };
}

/** Valid requests whose client leaves at once: they are admitted, and their lease must not outlive them. */
export function abandonedValid(ctx: FuzzContext): FuzzCase {
  const { rng, model } = ctx;
  const stream = rng.chance(0.5);
  const path = rng.pick(PROXY_PATHS);
  const body = path.includes("chat")
    ? { model, stream, messages: [{ role: "user", content: "hi" }] }
    : { model, stream, input: "hi" };
  const bytes = jsonPost(ctx, JSON.stringify(body), [], path);
  return { category: "abandoned-valid", bytes, finish: rng.pick(["abort", "reset"]), expect: "none" };
}

/** Valid requests followed by a FIN: the whole answer must still arrive. */
export function halfClosedValid(ctx: FuzzContext): FuzzCase {
  const { rng, model } = ctx;
  const body = { model, input: "hi", stream: rng.chance(0.5) };
  const bytes = jsonPost(ctx, JSON.stringify(body), [], "/v1/responses");
  return { category: "half-closed-valid", bytes, finish: "end", expect: "success" };
}
