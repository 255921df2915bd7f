import type { Client } from "@connectrpc/connect";
import type { AdminService } from "../../gen/switchyard/v1/admin_pb.js";
import type { CommandInput } from "./command-line.js";
import type { Output } from "./output.js";
import { UsageError } from "./usage-error.js";

/** A Connect client of the control plane's AdminService. */
export type AdminClient = Client<typeof AdminService>;

/** What a prepared command runs against. */
export interface AdminContext {
  client: AdminClient;
  out: Output;
}

/** The RPC part of a command: runs only after its whole command line was accepted. */
export type AdminAction = (ctx: AdminContext) => Promise<void>;

/** A flag as `node:util` parseArgs declares it; every value flag is a string and parsed by the command. */
export interface FlagSpec {
  readonly type: "string" | "boolean";
  readonly multiple?: boolean;
}

/** One `switchyard admin <resource> <action>` command. */
export interface AdminCommand {
  /** Resource and action, e.g. "users create". */
  readonly name: string;
  /** Names of the positional arguments, e.g. ["ID"]; exactly these many are accepted. */
  readonly args?: readonly string[];
  /** Flags besides --json and --help (which every command takes). */
  readonly flags: Readonly<Record<string, FlagSpec>>;
  /** The usage after the name, e.g. "--name N [--balance USD]". */
  readonly synopsis: string;
  /** One line saying what the command does. */
  readonly summary: string;
  /** Extra lines for `--help` (value formats, defaults). */
  readonly notes?: readonly string[];
  /**
   * Checks the command line and returns the action performing the RPCs. Throws UsageError; never calls anything,
   * so a malformed command line fails before reaching the control plane.
   */
  prepare(input: CommandInput): AdminAction;
}

/** A flag taking a value. */
export const VALUE: FlagSpec = { type: "string" };
/** A flag taking a value, repeatable. */
export const VALUES: FlagSpec = { type: "string", multiple: true };
/** A flag without a value. */
export const SWITCH: FlagSpec = { type: "boolean" };

/** A response field the contract always sets; its absence means a broken server, reported as a runtime error. */
export function present<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`the control plane answered without ${what}`);
  return value;
}

/** Refuses an update that changes nothing: `changes` are the optional request fields, `flags` their names. */
export function requireSomeChange(changes: Readonly<Record<string, unknown>>, flags: string): void {
  if (Object.values(changes).every((v) => v === undefined)) {
    throw new UsageError(`nothing to change: give at least one of ${flags}`);
  }
}
