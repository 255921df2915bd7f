import OpenAI from "openai";
import type { FakeOpenAI } from "../../support/fake-openai/index.js";
import { FaultStack } from "./fault-stack.js";
import type { SwitchyardProcess } from "./switchyard-process.js";
import { type Admin, seedTenant, type Tenant, type TenantAccount } from "./tenants.js";

/** Gateway settings of the upstream-fault files: the shortest idle timeout AdminService accepts. */
export const LAB_SETTINGS = {
  streamIdleTimeoutMs: 10_000,
  streamKeepaliveIntervalMs: 1_000,
  clientGoneDrainMs: 1_000,
};
/** SWITCHYARD_UPSTREAM_HEADERS_TIMEOUT_MS of the lab's second data plane (the smallest accepted). */
export const SHORT_HEADERS_TIMEOUT_MS = 1_000;

/** A user of the lab with its own fake upstream, an SDK client and the upstream keys the fake saw. */
export interface LabTenant extends Tenant {
  fake: FakeOpenAI;
  /** The openai SDK pointed at a data plane (default the lab's main one), without retries. */
  sdk(dataPlane?: SwitchyardProcess): OpenAI;
  /** Which accounts (by index) the fake saw requests from, in order, since the `since`-th request. */
  served(since?: number): number[];
}

/**
 * One control plane and two data planes for upstream faults: `dataPlane` with default timeouts, `shortHeaders`
 * with a 1 s first-byte timeout. The settings are stored before the data planes start, so their first snapshot
 * already carries them (nothing to wait for).
 */
export class UpstreamLab {
  readonly stack: FaultStack;
  readonly admin: Admin;
  readonly dataPlane: SwitchyardProcess;
  readonly shortHeaders: SwitchyardProcess;

  private constructor(
    stack: FaultStack,
    admin: Admin,
    dataPlane: SwitchyardProcess,
    short: SwitchyardProcess,
  ) {
    this.stack = stack;
    this.admin = admin;
    this.dataPlane = dataPlane;
    this.shortHeaders = short;
  }

  /** Starts the lab; `stop()` it in afterAll. */
  static async start(label: string): Promise<UpstreamLab> {
    const stack = await FaultStack.start({ label });
    try {
      const admin = stack.adminOf();
      await admin.updateSettings({ settings: LAB_SETTINGS });
      const dataPlane = await stack.startDataPlane({ name: "dp" });
      const short = await stack.startDataPlane({
        name: "dp-short-headers",
        env: { SWITCHYARD_UPSTREAM_HEADERS_TIMEOUT_MS: String(SHORT_HEADERS_TIMEOUT_MS) },
      });
      return new UpstreamLab(stack, admin, dataPlane, short);
    } catch (err) {
      await stack.stop();
      throw err;
    }
  }

  /** A tenant whose accounts (priorities as given, first preferred) all point at a fake of its own. */
  async tenant(priorities: number[] = [50]): Promise<LabTenant> {
    const fake = await this.stack.startFake();
    const tenant = await seedTenant(this.admin, {
      fake,
      accounts: priorities.map((priority) => ({ priority })),
    });
    const indexOf = (apiKey: string | null) => tenant.accounts.findIndex((a) => a.credential === apiKey);
    return {
      ...tenant,
      fake,
      sdk: (dp = this.dataPlane) =>
        new OpenAI({
          apiKey: tenant.key,
          baseURL: `${dp.url}/v1`,
          maxRetries: 0,
          timeout: 120_000,
          logLevel: "off",
        }),
      served: (since = 0) => fake.requests.slice(since).map((r) => indexOf(r.apiKey)),
    };
  }

  /** Stops everything. */
  stop(): Promise<void> {
    return this.stack.stop();
  }
}

/** The nth account of a tenant, or a test failure. */
export function accountOf(tenant: Tenant, index: number): TenantAccount {
  const account = tenant.accounts[index];
  if (!account) throw new Error(`tenant has no account ${index}`);
  return account;
}
