import { Writable } from "node:stream";
import { DriverException } from "@mikro-orm/core";
import { describe, expect, it } from "vitest";
import { ErrorCode, SwitchyardError } from "../../src/shared/errors.js";
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

  it("logs database errors by type and SQLSTATE only, wherever they appear, never the statement's values", () => {
    const { lines, destination } = capture();
    const log = createLogger({ destination });
    // What node-postgres raises and MikroORM wraps: the message quotes the statement with its parameters.
    const pgError = Object.assign(
      new Error(
        "insert into usage_records (request_id, user_id, upstream_model) values ('req_secret_id', '3f0e1c2a-user', 'gpt-secret-model') - value \"3000000000\" is out of range for type integer",
      ),
      { code: "22003", severity: "ERROR", detail: "Key (request_id)=(req_secret_id) already exists." },
    );
    const driver = new DriverException(pgError);
    log.error({ err: driver }, "usage batch failed");
    log.error({ err: new SwitchyardError(ErrorCode.STORE_UNAVAILABLE, { cause: driver }) }, "wrapped");
    log.warn({ err: new Error("plain failure", { cause: pgError }) }, "caused");
    const text = lines.map((l) => JSON.stringify(l)).join("\n");
    for (const value of ["req_secret_id", "3f0e1c2a-user", "gpt-secret-model", "3000000000", "insert into"]) {
      expect(text).not.toContain(value);
    }
    expect(lines[0]?.err).toEqual({ type: "DriverException", sqlState: "22003" });
    expect(lines[1]?.err).toMatchObject({
      type: "SwitchyardError",
      cause: { type: "DriverException", sqlState: "22003" },
    });
    expect(lines[2]?.err).toMatchObject({ message: "plain failure", cause: { sqlState: "22003" } });
  });

  it("drops the statement a query builder puts in front of a failed query's message and stack", () => {
    const { lines, destination } = capture();
    const log = createLogger({ destination });
    const err = new Error(
      "update users set balance_usd = balance_usd - '0.00007'::numeric where id = 'user-secret-id' - Client has encountered a connection error and is not queryable",
    );
    log.warn({ err }, "database unavailable");
    const text = JSON.stringify(lines[0]);
    expect(text).not.toContain("user-secret-id");
    expect(text).not.toContain("0.00007");
    expect(lines[0]?.err).toMatchObject({
      message: "[statement] - Client has encountered a connection error and is not queryable",
    });
  });
});
