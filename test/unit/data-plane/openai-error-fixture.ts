import { expect } from "vitest";
import { type OpenAIErrorResponse, SwitchyardError, toOpenAIError } from "../../../src/shared/errors.js";

/** What a client would receive for the SwitchyardError `run` throws; fails the test when it does not throw one. */
export function answerOf(run: () => unknown): OpenAIErrorResponse {
  let thrown: unknown;
  try {
    run();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(SwitchyardError);
  return toOpenAIError(thrown);
}

/** The same for a promise that must reject with a SwitchyardError. */
export async function answerOfRejection(promise: Promise<unknown>): Promise<OpenAIErrorResponse> {
  const thrown = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(thrown).toBeInstanceOf(SwitchyardError);
  return toOpenAIError(thrown);
}

/** A 400 invalid_request_error as BEHAVIOUR.md shapes it. */
export function invalidRequest(message: string, param: string | null = null): OpenAIErrorResponse {
  return {
    status: 400,
    headers: {},
    body: { error: { type: "invalid_request_error", message, code: null, param } },
  };
}
