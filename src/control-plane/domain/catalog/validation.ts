import { ErrorCode, SwitchyardError } from "../../../shared/errors.js";
import { MoneyFormatError, type PicoUsd, parseUsd } from "../../../shared/money.js";

/**
 * Field validation shared by the catalogs. Every failure is an INVALID_ARGUMENT whose message starts with the field
 * name (the proto's snake_case name, as API callers know it) and whose `param` is that name.
 */

/** An INVALID_ARGUMENT about one field. */
export function invalid(field: string, problem: string): SwitchyardError {
  return new SwitchyardError(ErrorCode.INVALID_ARGUMENT, { message: `${field}: ${problem}`, param: field });
}

/** A NOT_FOUND for a resource kind ("user", "group", …) and the id or name asked for. */
export function notFound(kind: string, id: string): SwitchyardError {
  return new SwitchyardError(ErrorCode.NOT_FOUND, { message: `${kind} ${JSON.stringify(id)} not found` });
}

/** An ALREADY_EXISTS for a duplicate unique name. */
export function alreadyExists(kind: string, name: string): SwitchyardError {
  return new SwitchyardError(ErrorCode.ALREADY_EXISTS, {
    message: `${kind} ${JSON.stringify(name)} already exists`,
  });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a string is a UUID PostgreSQL accepts (checked first, so a malformed id never reaches the database). */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** A required id field: empty or malformed is INVALID_ARGUMENT. Returned lower-cased, as PostgreSQL prints it. */
export function requiredId(value: string, field: string): string {
  if (value === "") throw invalid(field, "required");
  if (!isUuid(value)) throw invalid(field, "not a valid id");
  return value.toLowerCase();
}

/** An optional id filter: "" means no filter; a malformed one is INVALID_ARGUMENT. */
export function optionalId(value: string | undefined, field: string): string | undefined {
  return value === undefined || value === "" ? undefined : requiredId(value, field);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
const CONTROL = /[\u0000-\u001f\u007f]/;

/** A display name: trimmed, 1–`max` characters, no control characters. */
export function requiredName(value: string, field: string, max: number): string {
  const name = value.trim();
  if (name === "") throw invalid(field, "required");
  if ([...name].length > max) throw invalid(field, `at most ${max} characters`);
  if (hasControlCharacter(name)) throw invalid(field, "must not contain control characters");
  return name;
}

/** Free text: at most `max` characters (may be empty); no NUL, which PostgreSQL text cannot hold. */
export function boundedText(value: string, field: string, max: number): string {
  if ([...value].length > max) throw invalid(field, `at most ${max} characters`);
  if (value.includes("\u0000")) throw invalid(field, "must not contain NUL characters");
  return value;
}

/** Whether a string holds a control character (C0 or DEL). */
export function hasControlCharacter(value: string): boolean {
  return CONTROL.test(value);
}

/** Options for {@link moneyField}. */
export interface MoneyRules {
  /** Refuse amounts below zero (default true: few amounts make sense negative). */
  nonNegative?: boolean;
  /** Refuse zero as well. */
  positive?: boolean;
}

/** A USD decimal string (≤ 6 fractional digits) as pico-USD. */
export function moneyField(value: string, field: string, rules: MoneyRules = {}): PicoUsd {
  let amount: PicoUsd;
  try {
    amount = parseUsd(value);
  } catch (err) {
    if (err instanceof MoneyFormatError) {
      throw invalid(field, "must be a decimal amount with at most 6 fractional digits");
    }
    throw err;
  }
  if (rules.positive && amount <= 0n) throw invalid(field, "must be positive");
  if ((rules.nonNegative ?? true) && amount < 0n) throw invalid(field, "must not be negative");
  return amount;
}

/** A USD amount where "" means none (limits, quotas). */
export function optionalMoneyField(value: string, field: string): PicoUsd | null {
  return value.trim() === "" ? null : moneyField(value, field);
}

/** An integer within [min, max]. */
export function intInRange(value: number, field: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalid(field, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

const EARLIEST = Date.parse("0001-01-01T00:00:00.000Z");
const LATEST = Date.parse("9999-12-31T23:59:59.999Z");

/**
 * A timestamp that must be a real instant PostgreSQL can store: protobuf timestamps can encode values outside both
 * JavaScript's and PostgreSQL's ranges, and the database must never be the one to refuse them.
 */
export function validDate(value: Date, field: string): Date {
  const t = value.getTime();
  if (Number.isNaN(t) || t < EARLIEST || t > LATEST) throw invalid(field, "not a valid time (years 1–9999)");
  return value;
}

/**
 * The id of the resource a call addresses: empty is INVALID_ARGUMENT ("id: required"); a malformed one names
 * nothing, so it is NOT_FOUND like any other unknown id.
 */
export function lookupId(value: string, kind: string, field = "id"): string {
  if (value === "") throw invalid(field, "required");
  if (!isUuid(value)) throw notFound(kind, value);
  return value.toLowerCase();
}
