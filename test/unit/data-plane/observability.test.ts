import { IncomingMessage, ServerResponse } from "node:http";
import { Socket } from "node:net";
import { Writable } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { AccessLog, clientRequestIdOf } from "../../../src/data-plane/observability/access-log.js";
import { ModelLabels, OTHER_MODEL } from "../../../src/data-plane/observability/model-label.js";
import { RequestContext } from "../../../src/data-plane/pipeline/request-context.js";
import { type Snapshot, SnapshotSchema } from "../../../src/gen/switchyard/v1/gateway_pb.js";
import { createLogger } from "../../../src/shared/logger.js";

const snapshotOf = (revision: number, ...models: string[][]): Snapshot =>
  create(SnapshotSchema, {
    version: 1,
    revision: BigInt(revision),
    groupModels: models.map((m, i) => ({ groupId: `g${i}`, models: m })),
  });

describe("the model label", () => {
  it("names models the snapshot names, labels a `prefix*` match with the pattern, and everything else other", () => {
    let current: Snapshot | null = null;
    const labels = new ModelLabels(() => current);
    expect(labels.label("gpt-5")).toBe(OTHER_MODEL);
    current = snapshotOf(1, ["gpt-5", "gpt-4.1-mini"], ["o4-*", "o4-mini-*"]);
    expect(labels.label("gpt-5")).toBe("gpt-5");
    expect(labels.label("o4-mini-high")).toBe("o4-mini-*");
    expect(labels.label("o4-large")).toBe("o4-*");
    expect(labels.label("no-such-model")).toBe(OTHER_MODEL);
    current = snapshotOf(2, ["gpt-4.1-mini"]);
    expect(labels.label("gpt-5")).toBe(OTHER_MODEL);
  });
});

describe("the client's X-Request-Id", () => {
  it("is kept only when well-formed", () => {
    expect(clientRequestIdOf("req-7f3a_9:b/c+d=e@f")).toBe("req-7f3a_9:b/c+d=e@f");
    for (const bad of [undefined, "", "has space", 'quo"te', "x".repeat(129), ["a", "b"], "line\nbreak"])
      expect(clientRequestIdOf(bad)).toBe("");
  });
});

function contextWithStatus(status: number, log = createLogger({ level: "silent" })): RequestContext {
  const req = new IncomingMessage(new Socket());
  const res = new ServerResponse(req);
  res.statusCode = status;
  return new RequestContext("responses", req, res, log, { trustedProxies: null, header: "x-forwarded-for" });
}

function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, log: createLogger({ level: "info", destination }) };
}

describe("the access log", () => {
  it("samples ordinary requests but always logs failures and failed-over requests", async () => {
    const { lines, log } = capture();
    const draws = [0.9, 0.1];
    const access = new AccessLog(log, { level: "info", sampleRate: 0.5 }, () => draws.shift() ?? 0);
    access.write(contextWithStatus(200)); // 0.9 ≥ 0.5: skipped
    access.write(contextWithStatus(200)); // 0.1 < 0.5: logged
    access.write(contextWithStatus(502)); // always
    const failedOver = contextWithStatus(200);
    failedOver.failovers = 1;
    access.write(failedOver); // always (no draw left would also log)
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => l.status)).toEqual([200, 502, 200]);
    expect(lines[0]).toMatchObject({
      access: true,
      msg: "request finished",
      level: "info",
      route: "responses",
    });
  });

  it("writes nothing when off, or below the logger's level", async () => {
    const { lines, log } = capture();
    new AccessLog(log, { level: "off", sampleRate: 1 }).write(contextWithStatus(200));
    new AccessLog(log, { level: "debug", sampleRate: 1 }).write(contextWithStatus(200));
    await new Promise((r) => setImmediate(r));
    expect(lines).toEqual([]);
  });
});
