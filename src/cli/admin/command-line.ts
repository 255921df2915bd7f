import { parseArgs } from "node:util";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { AdminCommand } from "./command.js";
import { choiceValue, decimalValue, intValue, listValue, timeValue, usdValue } from "./flag-values.js";
import { UsageError } from "./usage-error.js";

type FlagValue = string | boolean | Array<string | boolean> | undefined;

/** Flags every admin command takes. */
const COMMON_FLAGS = {
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * A command line accepted by parseArgs, with typed accessors that throw UsageError for a missing or malformed
 * value. Flag names are given without dashes.
 */
export class CommandInput {
  constructor(
    private readonly values: Readonly<Record<string, FlagValue>>,
    /** The positional arguments, as many as the command declares. */
    readonly args: readonly string[],
  ) {}

  /** Whether the flag was given. */
  has(flag: string): boolean {
    return this.values[flag] !== undefined;
  }

  /** A value flag's text, or undefined when not given. */
  text(flag: string): string | undefined {
    const value = this.values[flag];
    return typeof value === "string" ? value : undefined;
  }

  /** A value flag that must be given and not be empty. */
  required(flag: string): string {
    const value = this.text(flag);
    if (value === undefined || value.trim() === "") throw new UsageError(`--${flag} is required`);
    return value;
  }

  /** Every value of a repeatable flag, in order. */
  texts(flag: string): string[] {
    const value = this.values[flag];
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
  }

  /** A boolean flag. */
  switch(flag: string): boolean {
    return this.values[flag] === true;
  }

  /** Positional argument `i`. */
  arg(i: number): string {
    const value = this.args[i];
    if (value === undefined) throw new UsageError(`missing argument ${i + 1}`);
    return value;
  }

  /** A USD amount, or undefined when not given. */
  usd(flag: string): string | undefined {
    const raw = this.text(flag);
    return raw === undefined ? undefined : usdValue(raw, `--${flag}`);
  }

  /** A USD amount that must be given. */
  requiredUsd(flag: string): string {
    return usdValue(this.required(flag), `--${flag}`);
  }

  /** A non-negative decimal, or undefined when not given. */
  decimal(flag: string): string | undefined {
    const raw = this.text(flag);
    return raw === undefined ? undefined : decimalValue(raw, `--${flag}`);
  }

  /** A whole number within [min, max], or undefined when not given. */
  int(flag: string, min: number, max: number): number | undefined {
    const raw = this.text(flag);
    return raw === undefined ? undefined : intValue(raw, `--${flag}`, min, max);
  }

  /** One of a closed set of words, or undefined when not given. */
  choice<T>(flag: string, choices: Readonly<Record<string, T>>): T | undefined {
    const raw = this.text(flag);
    return raw === undefined ? undefined : choiceValue(raw, `--${flag}`, choices);
  }

  /** An instant (ISO 8601 or a duration from now), or undefined when not given. */
  time(flag: string, direction: "past" | "future"): Timestamp | undefined {
    const raw = this.text(flag);
    return raw === undefined ? undefined : timeValue(raw, `--${flag}`, direction);
  }

  /** A comma-separated list, or undefined when not given. */
  list(flag: string): string[] | undefined {
    const raw = this.text(flag);
    return raw === undefined ? undefined : listValue(raw, `--${flag}`);
  }
}

/** Parses a command's flags and arguments strictly: unknown flags and extra or missing arguments are usage errors. */
export function parseCommandLine(command: AdminCommand, argv: readonly string[]): CommandInput {
  let parsed: { values: Record<string, FlagValue>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: joinNegativeNumbers(argv, command),
      options: { ...command.flags, ...COMMON_FLAGS },
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    throw new UsageError(describeParseError(err));
  }
  const expected = command.args ?? [];
  const { positionals } = parsed;
  if (positionals.length < expected.length) throw new UsageError(`missing ${expected[positionals.length]}`);
  if (positionals.length > expected.length) {
    throw new UsageError(`unexpected argument '${positionals[expected.length]}'`);
  }
  return new CommandInput(parsed.values, positionals);
}

/**
 * `--priority -1` as `--priority=-1`: parseArgs refuses a value that starts with a dash as ambiguous, but a
 * negative number after a value flag can only be its value.
 */
function joinNegativeNumbers(argv: readonly string[], command: AdminCommand): string[] {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--") {
      args.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    const flag = arg.startsWith("--") ? command.flags[arg.slice(2)] : undefined;
    if (flag?.type === "string" && next !== undefined && /^-\d+(\.\d+)?$/.test(next)) {
      args.push(`${arg}=${next}`);
      i++;
    } else {
      args.push(arg);
    }
  }
  return args;
}

/** Whether a command line asks for help (before any `--`). */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === "--help" || a === "-h");
}

/** parseArgs' messages, shortened to one line in the CLI's words. */
function describeParseError(err: unknown): string {
  const message = err instanceof Error ? (err.message.split("\n")[0] ?? "") : String(err);
  const unknown = /^Unknown option '([^']+)'/.exec(message);
  if (unknown) return `unknown flag '${unknown[1]}'`;
  const flag = /^Option '(-{1,2}[^ ']+)/.exec(message)?.[1];
  if (flag !== undefined) {
    if (message.includes("argument missing")) return `${flag} needs a value`;
    if (message.includes("ambiguous"))
      return `${flag} needs a value (write ${flag}=-N for a value starting with -)`;
    if (message.includes("does not take an argument")) return `${flag} takes no value`;
  }
  return message;
}
