import type { ServiceImpl } from "@connectrpc/connect";
import type { AdminService } from "../../gen/switchyard/v1/admin_pb.js";
import type { Logger } from "../../shared/logger.js";
import type { Catalog } from "../domain/catalog/index.js";
import {
  accountToProto,
  createAccountInput,
  createPassthroughRuleInput,
  passthroughRuleToProto,
  updateAccountInput,
  updatePassthroughRuleInput,
} from "./admin-account-mappers.js";
import {
  apiKeyStatuses,
  apiKeyToProto,
  billingModes,
  fromTimestamp,
  groupToProto,
  modelPriceToProto,
  settingsFromProto,
  settingsToProto,
  userStatuses,
  userToProto,
} from "./admin-mappers.js";
import {
  subscriptionStatuses,
  subscriptionToProto,
  usageGroupings,
  usageRecordToProto,
  usageSummaryRowToProto,
} from "./admin-usage-mappers.js";
import { withErrorTranslation } from "./handle-errors.js";

/** What the AdminService needs: the catalog (which owns validation, audit and change events) and a logger. */
export interface AdminServiceDeps {
  catalog: Catalog;
  /** Receives unexpected errors (as INTERNAL); audit lines come from the catalog's own logger. */
  log: Logger;
}

/** The RPCs served by the lease store's owner, not here: Connect answers them UNIMPLEMENTED until then. */
type LeaseBackedRpc = "listStickySessions" | "clearStickySessions" | "listLeases";

/** AdminService without the lease-backed RPCs. */
export type AdminServiceImpl = Omit<ServiceImpl<typeof AdminService>, LeaseBackedRpc>;

/**
 * The AdminService over the catalog. Handlers only translate proto ⇄ catalog; every error leaves through
 * {@link withErrorTranslation}, so a SwitchyardError keeps its code and anything else becomes INTERNAL.
 */
export function createAdminService(deps: AdminServiceDeps): AdminServiceImpl {
  const log = deps.log.child({ component: "admin-service" });
  return withErrorTranslation({ ...identityRpcs(deps.catalog), ...resourceRpcs(deps.catalog) }, log);
}

/** Users, groups and API keys. */
function identityRpcs(c: Catalog) {
  return {
    async createUser(req) {
      return { user: userToProto(await c.users.create(req)) };
    },
    async getUser(req) {
      return { user: userToProto(await c.users.get(req)) };
    },
    async listUsers(req) {
      const page = await c.users.list(req);
      return { users: page.items.map(userToProto), nextPageToken: page.nextPageToken };
    },
    async updateUser(req) {
      const status = userStatuses.ifPresent(req.status, "status");
      return { user: userToProto(await c.users.update({ ...req, status })) };
    },
    async deleteUser(req) {
      await c.users.delete(req.id);
      return {};
    },
    async createGroup(req) {
      const billingMode = billingModes.orDefault(req.billingMode, "billing_mode");
      return { group: groupToProto(await c.groups.create({ ...req, billingMode })) };
    },
    async getGroup(req) {
      return { group: groupToProto(await c.groups.get(req)) };
    },
    async listGroups(req) {
      const page = await c.groups.list(req);
      return { groups: page.items.map(groupToProto), nextPageToken: page.nextPageToken };
    },
    async updateGroup(req) {
      const billingMode = billingModes.ifPresent(req.billingMode, "billing_mode");
      return { group: groupToProto(await c.groups.update({ ...req, billingMode })) };
    },
    async deleteGroup(req) {
      await c.groups.delete(req.id);
      return {};
    },
    async createApiKey(req) {
      const created = await c.apiKeys.create({ ...req, expiresAt: fromTimestamp(req.expireTime) });
      return { apiKey: apiKeyToProto(created.apiKey), key: created.key };
    },
    async getApiKey(req) {
      const key = req.keySha256.length > 0 ? await c.apiKeys.getByHash(req) : await c.apiKeys.get(req.id);
      return { apiKey: apiKeyToProto(key) };
    },
    async listApiKeys(req) {
      const page = await c.apiKeys.list(req);
      return { apiKeys: page.items.map(apiKeyToProto), nextPageToken: page.nextPageToken };
    },
    async updateApiKey(req) {
      const updated = await c.apiKeys.update({
        id: req.id,
        name: req.name,
        status: apiKeyStatuses.ifPresent(req.status, "status"),
        expiresAt: fromTimestamp(req.expireTime),
        clearExpiresAt: req.clearExpireTime,
        quotaUsd: req.quotaUsd,
        replaceIpAllow: req.replaceIpAllow,
        ipAllow: req.ipAllow,
        replaceIpDeny: req.replaceIpDeny,
        ipDeny: req.ipDeny,
        spendLimit5hUsd: req.spendLimit5hUsd,
        spendLimit1dUsd: req.spendLimit1dUsd,
        spendLimit7dUsd: req.spendLimit7dUsd,
      });
      return { apiKey: apiKeyToProto(updated) };
    },
    async revokeApiKey(req) {
      return { apiKey: apiKeyToProto(await c.apiKeys.revoke(req.id)) };
    },
    async importApiKey(req) {
      const status = apiKeyStatuses.orDefault(req.status, "status");
      const imported = await c.apiKeys.importKey({
        ...req,
        status,
        expiresAt: fromTimestamp(req.expireTime),
      });
      return { apiKey: apiKeyToProto(imported) };
    },
  } satisfies Partial<AdminServiceImpl>;
}

/** Accounts, passthrough rules, prices, subscriptions, usage and settings. */
function resourceRpcs(c: Catalog) {
  return {
    async createAccount(req) {
      return { account: accountToProto(await c.accounts.create(createAccountInput(req))) };
    },
    async getAccount(req) {
      return { account: accountToProto(await c.accounts.get(req.id)) };
    },
    async listAccounts(req) {
      const page = await c.accounts.list(req);
      return { accounts: page.items.map(accountToProto), nextPageToken: page.nextPageToken };
    },
    async updateAccount(req) {
      return { account: accountToProto(await c.accounts.update(updateAccountInput(req))) };
    },
    async deleteAccount(req) {
      await c.accounts.delete(req.id);
      return {};
    },
    async clearAccountCooldown(req) {
      return { account: accountToProto(await c.accounts.clearCooldown(req.id)) };
    },
    async createPassthroughRule(req) {
      return {
        rule: passthroughRuleToProto(await c.passthroughRules.create(createPassthroughRuleInput(req))),
      };
    },
    async getPassthroughRule(req) {
      return { rule: passthroughRuleToProto(await c.passthroughRules.get(req.id)) };
    },
    async listPassthroughRules(req) {
      const page = await c.passthroughRules.list(req);
      return { rules: page.items.map(passthroughRuleToProto), nextPageToken: page.nextPageToken };
    },
    async updatePassthroughRule(req) {
      return {
        rule: passthroughRuleToProto(await c.passthroughRules.update(updatePassthroughRuleInput(req))),
      };
    },
    async deletePassthroughRule(req) {
      await c.passthroughRules.delete(req.id);
      return {};
    },
    async setModelPrice(req) {
      const p = req.price;
      const price = await c.modelPrices.set({
        model: p?.model ?? "",
        inputUsdPerMtok: p?.inputUsdPerMtok ?? "",
        cachedInputUsdPerMtok: p?.cachedInputUsdPerMtok ?? "",
        outputUsdPerMtok: p?.outputUsdPerMtok ?? "",
      });
      return { price: modelPriceToProto(price) };
    },
    async listModelPrices(req) {
      const page = await c.modelPrices.list(req);
      return { prices: page.items.map(modelPriceToProto), nextPageToken: page.nextPageToken };
    },
    async deleteModelPrice(req) {
      await c.modelPrices.delete(req.model);
      return {};
    },
    async createSubscription(req) {
      const created = await c.subscriptions.create({
        userId: req.userId,
        groupId: req.groupId,
        startsAt: fromTimestamp(req.startTime),
        expiresAt: fromTimestamp(req.expireTime),
      });
      return { subscription: subscriptionToProto(created) };
    },
    async getSubscription(req) {
      return { subscription: subscriptionToProto(await c.subscriptions.get(req.id)) };
    },
    async listSubscriptions(req) {
      const page = await c.subscriptions.list(req);
      return { subscriptions: page.items.map(subscriptionToProto), nextPageToken: page.nextPageToken };
    },
    async updateSubscription(req) {
      const updated = await c.subscriptions.update({
        id: req.id,
        status: subscriptionStatuses.ifPresent(req.status, "status"),
        expiresAt: fromTimestamp(req.expireTime),
      });
      return { subscription: subscriptionToProto(updated) };
    },
    async deleteSubscription(req) {
      await c.subscriptions.delete(req.id);
      return {};
    },
    async listUsage(req) {
      const page = await c.usage.list({
        ...req,
        start: fromTimestamp(req.startTime),
        end: fromTimestamp(req.endTime),
      });
      return { records: page.items.map(usageRecordToProto), nextPageToken: page.nextPageToken };
    },
    async summarizeUsage(req) {
      const by = usageGroupings.orDefault(req.groupBy, "group_by") ?? "model";
      const rows = await c.usage.summarize(by, {
        userId: req.userId,
        start: fromTimestamp(req.startTime),
        end: fromTimestamp(req.endTime),
      });
      return { rows: rows.map(usageSummaryRowToProto) };
    },
    async getSettings() {
      return { settings: settingsToProto(await c.settings.get()) };
    },
    async updateSettings(req) {
      return { settings: settingsToProto(await c.settings.update(settingsFromProto(req.settings))) };
    },
  } satisfies Partial<AdminServiceImpl>;
}
