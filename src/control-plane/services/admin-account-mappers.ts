import { create } from "@bufbuild/protobuf";
import {
  type Account,
  AccountSchema,
  AccountStatus,
  AccountType,
  type ChatGptCredential,
  type CreateAccountRequest,
  type CreatePassthroughRuleRequest,
  MatchMode,
  type PassthroughRule,
  PassthroughRuleSchema,
  type UpdateAccountRequest,
  type UpdatePassthroughRuleRequest,
  UsageWindowSchema,
} from "../../gen/switchyard/v1/admin_pb.js";
import type {
  AccountRecord,
  CreateAccountInput,
  CreatePassthroughRuleInput,
  AccountStatus as DomainAccountStatus,
  AccountType as DomainAccountType,
  MatchMode as DomainMatchMode,
  PassthroughRuleRecord,
  UpdateAccountInput,
  UpdatePassthroughRuleInput,
  UsageWindowRecord,
} from "../domain/catalog/index.js";
import { EnumMapping, toTimestamp } from "./admin-mappers.js";

/** Proto ⇄ catalog translation for accounts (never a credential outward) and error-passthrough rules. */

/** AccountType ⇄ the catalog's account type. */
export const accountTypes = new EnumMapping<AccountType, DomainAccountType>([
  [AccountType.API_KEY, "apikey"],
  [AccountType.OAUTH, "oauth"],
]);

/** AccountStatus ⇄ the catalog's account status. */
export const accountStatuses = new EnumMapping<AccountStatus, DomainAccountStatus>([
  [AccountStatus.ACTIVE, "active"],
  [AccountStatus.DISABLED, "disabled"],
  [AccountStatus.ERROR, "error"],
]);

/** MatchMode ⇄ the catalog's match mode. */
export const matchModes = new EnumMapping<MatchMode, DomainMatchMode>([
  [MatchMode.ANY, "any"],
  [MatchMode.ALL, "all"],
]);

/** The account without its credential: only `has_credential` says one is stored. */
export function accountToProto(a: AccountRecord): Account {
  return create(AccountSchema, {
    id: a.id,
    name: a.name,
    platform: a.platform,
    type: accountTypes.proto(a.type),
    baseUrl: a.baseUrl,
    hasCredential: a.hasCredential,
    proxyUrl: a.proxyUrl,
    concurrency: a.concurrency,
    priority: a.priority,
    modelMapping: { ...a.modelMapping },
    groupIds: [...a.groupIds],
    status: accountStatuses.proto(a.status),
    schedulable: a.schedulable,
    rateLimitedUntil: toTimestamp(a.rateLimitedUntil),
    overloadedUntil: toTimestamp(a.overloadedUntil),
    tempUnschedulableUntil: toTimestamp(a.tempUnschedulableUntil),
    statusReason: a.statusReason,
    lastUsedTime: toTimestamp(a.lastUsedAt),
    createTime: toTimestamp(a.createdAt),
    updateTime: toTimestamp(a.updatedAt),
    ...usageWindowsToProto(a.usageWindows),
    ...(a.tokenExpiresAt ? { tokenExpireTime: toTimestamp(a.tokenExpiresAt) } : {}),
  });
}

function usageWindowsToProto(windows: AccountRecord["usageWindows"]) {
  const one = (w: UsageWindowRecord | null) =>
    w === null
      ? undefined
      : create(UsageWindowSchema, {
          usedPercent: w.usedPercent,
          windowMinutes: w.windowMinutes,
          resetTime: toTimestamp(new Date(w.resetsAt)),
          reportTime: toTimestamp(new Date(w.reportedAt)),
        });
  const primary = one(windows?.primary ?? null);
  const secondary = one(windows?.secondary ?? null);
  return {
    ...(primary ? { primaryWindow: primary } : {}),
    ...(secondary ? { secondaryWindow: secondary } : {}),
  };
}

function chatgptInput(c: ChatGptCredential | undefined) {
  return c === undefined
    ? {}
    : {
        chatgpt: {
          accessToken: c.accessToken,
          refreshToken: c.refreshToken,
          idToken: c.idToken,
          chatgptAccountId: c.chatgptAccountId,
        },
      };
}

/** CreateAccountRequest as catalog input; unset optional fields stay absent so defaults apply. */
export function createAccountInput(req: CreateAccountRequest): CreateAccountInput {
  const type = accountTypes.orDefault(req.type, "type");
  return {
    name: req.name,
    platform: req.platform,
    ...(type === undefined ? {} : { type }),
    baseUrl: req.baseUrl,
    credential: req.credential,
    ...chatgptInput(req.chatgpt),
    proxyUrl: req.proxyUrl,
    ...(req.concurrency === undefined ? {} : { concurrency: req.concurrency }),
    ...(req.priority === undefined ? {} : { priority: req.priority }),
    modelMapping: { ...req.modelMapping },
    groupIds: [...req.groupIds],
  };
}

/** UpdateAccountRequest as catalog input; lists only when their replace_* flag is set. */
export function updateAccountInput(req: UpdateAccountRequest): UpdateAccountInput {
  return {
    id: req.id,
    name: req.name,
    baseUrl: req.baseUrl,
    credential: req.credential,
    ...chatgptInput(req.chatgpt),
    proxyUrl: req.proxyUrl,
    concurrency: req.concurrency,
    priority: req.priority,
    modelMapping: req.replaceModelMapping ? { ...req.modelMapping } : undefined,
    groupIds: req.replaceGroupIds ? [...req.groupIds] : undefined,
    status: accountStatuses.ifPresent(req.status, "status"),
    schedulable: req.schedulable,
  };
}

/** A rule record as the proto PassthroughRule. */
export function passthroughRuleToProto(r: PassthroughRuleRecord): PassthroughRule {
  return create(PassthroughRuleSchema, {
    id: r.id,
    name: r.name,
    enabled: r.enabled,
    priority: r.priority,
    errorCodes: [...r.errorCodes],
    keywords: [...r.keywords],
    matchMode: matchModes.proto(r.matchMode),
    platforms: [...r.platforms],
    passthroughCode: r.passthroughCode,
    responseCode: r.responseCode,
    passthroughBody: r.passthroughBody,
    customMessage: r.customMessage,
    skipMonitoring: r.skipMonitoring,
    description: r.description,
    createTime: toTimestamp(r.createdAt),
    updateTime: toTimestamp(r.updatedAt),
  });
}

/** CreatePassthroughRuleRequest as catalog input; unset optionals take the catalog's defaults. */
export function createPassthroughRuleInput(req: CreatePassthroughRuleRequest): CreatePassthroughRuleInput {
  return {
    name: req.name,
    enabled: req.enabled,
    priority: req.priority,
    errorCodes: [...req.errorCodes],
    keywords: [...req.keywords],
    matchMode: matchModes.orDefault(req.matchMode, "match_mode"),
    platforms: [...req.platforms],
    passthroughCode: req.passthroughCode,
    responseCode: req.responseCode,
    passthroughBody: req.passthroughBody,
    customMessage: req.customMessage,
    skipMonitoring: req.skipMonitoring,
    description: req.description,
  };
}

/** UpdatePassthroughRuleRequest as catalog input; lists only when their replace_* flag is set. */
export function updatePassthroughRuleInput(req: UpdatePassthroughRuleRequest): UpdatePassthroughRuleInput {
  return {
    id: req.id,
    name: req.name,
    enabled: req.enabled,
    priority: req.priority,
    errorCodes: req.replaceErrorCodes ? [...req.errorCodes] : undefined,
    keywords: req.replaceKeywords ? [...req.keywords] : undefined,
    matchMode: matchModes.ifPresent(req.matchMode, "match_mode"),
    platforms: req.replacePlatforms ? [...req.platforms] : undefined,
    passthroughCode: req.passthroughCode,
    responseCode: req.responseCode,
    passthroughBody: req.passthroughBody,
    customMessage: req.customMessage,
    skipMonitoring: req.skipMonitoring,
    description: req.description,
  };
}
