import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { FailureSchema } from "../../src/gen/switchyard/v1/types_pb.js";
import {
  asSwitchyardError,
  ErrorCode,
  SwitchyardError,
  toConnectError,
  toOpenAIError,
} from "../../src/shared/errors.js";

const allCodes = Object.values(ErrorCode).filter((v): v is ErrorCode => typeof v === "number");

describe("the closed error-code set", () => {
  it.each([
    [ErrorCode.INVALID_API_KEY, 401, "authentication_error", Code.Unauthenticated],
    [ErrorCode.API_KEY_EXPIRED, 403, "permission_error", Code.PermissionDenied],
    [ErrorCode.USER_QUEUE_FULL, 429, "rate_limit_error", Code.ResourceExhausted],
    [ErrorCode.USER_WAIT_TIMEOUT, 429, "rate_limit_error", Code.ResourceExhausted],
    [ErrorCode.MODEL_NOT_FOUND, 404, "invalid_request_error", Code.NotFound],
    [ErrorCode.NO_AVAILABLE_ACCOUNT, 503, "api_error", Code.Unavailable],
    [ErrorCode.STORE_UNAVAILABLE, 503, "api_error", Code.Unavailable],
    [ErrorCode.KEY_QUOTA_EXCEEDED, 429, "insufficient_quota", Code.ResourceExhausted],
    [ErrorCode.INSUFFICIENT_BALANCE, 403, "insufficient_quota", Code.FailedPrecondition],
    [ErrorCode.UPSTREAM_AUTH_FAILED, 502, "upstream_error", Code.Unavailable],
    [ErrorCode.UPSTREAM_RATE_LIMITED, 429, "rate_limit_error", Code.ResourceExhausted],
    [ErrorCode.UPSTREAM_OVERLOADED, 503, "upstream_error", Code.Unavailable],
    [ErrorCode.REQUEST_TOO_LARGE, 413, "invalid_request_error", Code.InvalidArgument],
    [ErrorCode.INTERNAL, 500, "api_error", Code.Internal],
  ] as const)("code %i maps to HTTP %i %s and gRPC %i", (code, http, type, grpc) => {
    const err = new SwitchyardError(code);
    const answer = toOpenAIError(err);
    expect(answer.status).toBe(http);
    expect(answer.body.error.type).toBe(type);
    expect(toConnectError(err).code).toBe(grpc);
  });

  it("uses BEHAVIOUR.md's messages by default", () => {
    expect(new SwitchyardError(ErrorCode.USER_QUEUE_FULL).message).toBe(
      "Too many pending requests, please retry later",
    );
    expect(new SwitchyardError(ErrorCode.UPSTREAM_AUTH_FAILED).message).toBe(
      "Upstream authentication failed, please contact administrator",
    );
    expect(new SwitchyardError(ErrorCode.UPSTREAM_UNAVAILABLE).message).toBe(
      "Upstream service temporarily unavailable",
    );
  });

  it("gives every code an HTTP status and a gRPC code", () => {
    for (const code of allCodes) {
      const answer = toOpenAIError(new SwitchyardError(code));
      expect(answer.status, `code ${code}`).toBeGreaterThanOrEqual(400);
      expect(answer.body.error.message.length, `code ${code}`).toBeGreaterThan(0);
      expect(toConnectError(new SwitchyardError(code)).code, `code ${code}`).toBeGreaterThan(0);
    }
  });

  it("renders the OpenAI shape with param, code and Retry-After rounded up to seconds", () => {
    const answer = toOpenAIError(
      new SwitchyardError(ErrorCode.INVALID_REQUEST, { message: "model is required", param: "model" }),
    );
    expect(answer).toEqual({
      status: 400,
      headers: {},
      body: {
        error: { type: "invalid_request_error", message: "model is required", code: null, param: "model" },
      },
    });
    const limited = toOpenAIError(
      new SwitchyardError(ErrorCode.UPSTREAM_RATE_LIMITED, { retryAfterMs: 1500 }),
    );
    expect(limited.headers["retry-after"]).toBe("2");
    expect(limited.body.error.code).toBe("rate_limit_exceeded");
  });

  it("round-trips through a Connect error detail", () => {
    const original = new SwitchyardError(ErrorCode.USER_WAIT_TIMEOUT, { retryAfterMs: 3000 });
    const wire = toConnectError(original);
    expect(wire.findDetails(FailureSchema)).toHaveLength(1);
    const back = asSwitchyardError(wire);
    expect(back.code).toBe(ErrorCode.USER_WAIT_TIMEOUT);
    expect(back.retryAfterMs).toBe(3000);
    expect(back.message).toBe(original.message);
  });

  it("never leaks an unknown error's message to clients", () => {
    const answer = toOpenAIError(new Error("ECONNREFUSED 10.0.0.5:5432 password=hunter2"));
    expect(answer.status).toBe(500);
    expect(answer.body.error.message).toBe("Internal server error");
    expect(JSON.stringify(answer)).not.toContain("hunter2");
  });

  it("treats a Connect error without detail from an unreachable peer as control plane unavailable", () => {
    const e = asSwitchyardError(new ConnectError("connect ECONNREFUSED", Code.Unavailable));
    expect(e.code).toBe(ErrorCode.CONTROL_PLANE_UNAVAILABLE);
    expect(toOpenAIError(e).status).toBe(503);
  });
});
