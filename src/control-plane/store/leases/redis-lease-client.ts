import { Redis, type RedisOptions } from "ioredis";
import { ErrorCode, SwitchyardError } from "../../../shared/errors.js";
import { LEASE_SCRIPT_KEYS, LEASE_SCRIPTS, MULTI_KEY_SCRIPTS } from "./redis-lease-scripts.js";

/** The five Redis keys of one slot key (see redis-lease-scripts.ts), in script order. */
export type SlotKeys = readonly [string, string, string, string, string];

export type ScriptArg = string | number;

/** The lease scripts as ioredis commands (defined by {@link createLeaseClient}). */
export interface LeaseCommands {
  leaseAcquire(...keysAndArgs: ScriptArg[]): Promise<unknown>;
  leasePoll(...keysAndArgs: ScriptArg[]): Promise<unknown>;
  leaseCancel(...keysAndArgs: ScriptArg[]): Promise<unknown>;
  leaseRelease(...keysAndArgs: ScriptArg[]): Promise<unknown>;
  leaseRenew(...keysAndArgs: ScriptArg[]): Promise<unknown>;
  leaseReassert(...keysAndArgs: ScriptArg[]): Promise<unknown>;
  leaseLoad(...keysAndArgs: ScriptArg[]): Promise<unknown>;
  /** Multi-key: the first argument is the number of keys (slot key bases). */
  leaseBatch(...countKeysAndArgs: ScriptArg[]): Promise<unknown>;
}

/** A command connection with the lease scripts defined on it. */
export type LeaseClient = Redis & LeaseCommands;

/** What every lease script answers: three numbers whose meaning depends on the script, and the expired holders. */
export interface ScriptReply {
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly expired: readonly string[];
}

/** Tuning of the fail-closed connections. */
export interface LeaseConnectionTuning {
  /** A command without an answer after this long fails (ms). */
  commandTimeoutMs: number;
  /** Giving up on a connection attempt after this long (ms). */
  connectTimeoutMs: number;
  /** The connections' names in CLIENT LIST (the subscriber's gets ":sub" appended). */
  connectionName: string;
}

/**
 * ioredis options that make every command fail fast while Redis is unreachable, instead of queueing until it
 * comes back: no offline queue, commands in flight rejected at the first disconnect, a per-command timeout,
 * and quick reconnect attempts in the background.
 */
function failClosed(base: RedisOptions, tuning: LeaseConnectionTuning): RedisOptions {
  return {
    ...base,
    keyPrefix: undefined,
    connectionName: tuning.connectionName,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: tuning.commandTimeoutMs,
    connectTimeout: tuning.connectTimeoutMs,
    retryStrategy: (attempt: number) => Math.min(attempt * 100, 500),
  };
}

/** The command connection, with the lease scripts defined and auto-pipelining on (not yet connected). */
export function createLeaseClient(base: RedisOptions, tuning: LeaseConnectionTuning): LeaseClient {
  const client = new Redis({ ...failClosed(base, tuning), enableAutoPipelining: true });
  for (const [name, lua] of Object.entries(LEASE_SCRIPTS)) {
    client.defineCommand(name, { lua, numberOfKeys: LEASE_SCRIPT_KEYS });
  }
  for (const [name, lua] of Object.entries(MULTI_KEY_SCRIPTS)) {
    client.defineCommand(name, { lua });
  }
  return client as LeaseClient;
}

/** The subscriber connection that receives this replica's wake-ups (not yet connected). */
export function createWakeSubscriber(base: RedisOptions, tuning: LeaseConnectionTuning): Redis {
  const options = failClosed(base, { ...tuning, connectionName: `${tuning.connectionName}:sub` });
  return new Redis({ ...options, commandTimeout: undefined });
}

/** Any Redis failure, as the store reports it: fail closed with STORE_UNAVAILABLE. */
export function storeUnavailable(cause: unknown): SwitchyardError {
  if (cause instanceof SwitchyardError) return cause;
  return new SwitchyardError(ErrorCode.STORE_UNAVAILABLE, { message: "Lease store unavailable", cause });
}

/** Runs a Redis call, turning any failure into STORE_UNAVAILABLE. */
export async function guarded<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw storeUnavailable(err);
  }
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

/** Checks a script's raw answer; a malformed one is a bug, reported as INTERNAL. */
export function parseScriptReply(raw: unknown): ScriptReply {
  if (Array.isArray(raw) && raw.length === 4) {
    const [a, b, c, expired] = raw as unknown[];
    if (typeof a === "number" && typeof b === "number" && typeof c === "number" && isStringList(expired)) {
      return { a, b, c, expired };
    }
  }
  throw new SwitchyardError(ErrorCode.INTERNAL, { message: "Unexpected lease script reply" });
}
