import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, requestLogger } from "../../src/shared/logger.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, destination };
}

describe("the logger", () => {
  it("writes JSON lines with the level label and the bound request id", () => {
    const { lines, destination } = capture();
    const log = requestLogger(createLogger({ destination, name: "data-plane" }), "req_abc");
    log.info({ accountId: "acc_1" }, "lease granted");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: "info",
      name: "data-plane",
      requestId: "req_abc",
      accountId: "acc_1",
      msg: "lease granted",
    });
  });

  it("censors credentials, keys, tokens and bodies at the top level and nested", () => {
    const { lines, destination } = capture();
    const log = createLogger({ destination });
    log.info(
      {
        authorization: "Bearer sk-sy-secret1",
        credential: "sk-upstream-secret2",
        headers: {
          authorization: "Bearer sk-sy-secret3",
          "x-api-key": "sk-sy-secret4",
          accept: "text/plain",
        },
        account: { credential: "sk-upstream-secret5", name: "primary" },
        body: { input: "private prompt" },
      },
      "upstream call",
    );
    const text = JSON.stringify(lines[0]);
    for (const secret of ["secret1", "secret2", "secret3", "secret4", "secret5", "private prompt"]) {
      expect(text).not.toContain(secret);
    }
    expect(lines[0]).toMatchObject({
      authorization: "[redacted]",
      headers: { authorization: "[redacted]", "x-api-key": "[redacted]", accept: "text/plain" },
      account: { credential: "[redacted]", name: "primary" },
    });
  });
});
