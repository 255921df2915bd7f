import type { EntityManager } from "@mikro-orm/postgresql";
import { newEntityId } from "../../../shared/ids.js";
import { type PassthroughRule, PassthroughRuleEntity } from "../../store/db/entities.js";
import { type CatalogDeps, nowOf, recordMutation } from "./catalog-deps.js";
import { decodeCursor, type Page, type PageRequest, resolvePageSize, toPage } from "./pagination.js";
import { type PassthroughRuleFields, validatePassthroughRule } from "./passthrough-rule-validation.js";
import { onUniqueViolation } from "./unique-violation.js";
import { alreadyExists, lookupId, notFound } from "./validation.js";

export type { MatchMode, PassthroughRuleFields } from "./passthrough-rule-validation.js";

/** A stored rule. */
export interface PassthroughRuleRecord extends PassthroughRuleFields {
  id: string;
  createdAt: Date;
  updatedAt: Date;
}

/** CreatePassthroughRule's fields: only `name` is required; the rest default as the proto says. */
export type CreatePassthroughRuleInput = Pick<PassthroughRuleFields, "name"> & Partial<PassthroughRuleFields>;

/** UpdatePassthroughRule's fields; absent ones are left as they are (lists are replaced whole). */
export type UpdatePassthroughRuleInput = { id: string } & Partial<PassthroughRuleFields>;

/** The order rules are tried in: priority, then creation. */
const RULE_ORDER = { priority: "asc", createdAt: "asc", id: "asc" } as const;

function fieldsOf(row: PassthroughRule): PassthroughRuleFields {
  return {
    name: row.name,
    enabled: row.enabled,
    priority: row.priority,
    errorCodes: [...row.errorCodes],
    keywords: [...row.keywords],
    matchMode: row.matchMode === "all" ? "all" : "any",
    platforms: [...row.platforms],
    passthroughCode: row.passthroughCode,
    responseCode: row.responseCode,
    passthroughBody: row.passthroughBody,
    customMessage: row.customMessage,
    skipMonitoring: row.skipMonitoring,
    description: row.description,
  };
}

/** The rule row as a record. */
export function toPassthroughRuleRecord(row: PassthroughRule): PassthroughRuleRecord {
  return { id: row.id, ...fieldsOf(row), createdAt: row.createdAt, updatedAt: row.updatedAt };
}

/** Every enabled rule in the order they are tried: what the data-plane snapshot carries. */
export async function listEnabledPassthroughRules(em: EntityManager): Promise<PassthroughRuleRecord[]> {
  const rows = await em.fork().find(PassthroughRuleEntity, { enabled: true }, { orderBy: RULE_ORDER });
  return rows.map(toPassthroughRuleRecord);
}

/** Error-passthrough rules: how upstream errors are rewritten for clients. */
export class PassthroughRuleCatalog {
  constructor(private readonly deps: CatalogDeps) {}

  async create(input: CreatePassthroughRuleInput): Promise<PassthroughRuleRecord> {
    const fields = validatePassthroughRule({
      name: input.name,
      enabled: input.enabled ?? true,
      priority: input.priority ?? 0,
      errorCodes: input.errorCodes ?? [],
      keywords: input.keywords ?? [],
      matchMode: input.matchMode ?? "any",
      platforms: input.platforms ?? [],
      passthroughCode: input.passthroughCode ?? true,
      responseCode: input.responseCode ?? 0,
      passthroughBody: input.passthroughBody ?? true,
      customMessage: input.customMessage ?? "",
      skipMonitoring: input.skipMonitoring ?? false,
      description: input.description ?? "",
    });
    const em = this.deps.em.fork();
    const now = nowOf(this.deps);
    const row = em.create(PassthroughRuleEntity, {
      id: newEntityId(),
      ...fields,
      createdAt: now,
      updatedAt: now,
    });
    await onUniqueViolation(
      () => em.flush(),
      () => alreadyExists("passthrough rule", fields.name),
    );
    recordMutation(
      this.deps,
      "passthrough_rule.create",
      { kind: "passthrough_rule", id: row.id },
      {
        name: fields.name,
        enabled: fields.enabled,
      },
    );
    return toPassthroughRuleRecord(row);
  }

  async get(id: string): Promise<PassthroughRuleRecord> {
    return toPassthroughRuleRecord(await this.#find(this.deps.em.fork(), id));
  }

  /** In the order they are tried: priority, then creation. */
  async list(page: PageRequest): Promise<Page<PassthroughRuleRecord>> {
    const size = resolvePageSize(page.pageSize);
    const cursor = decodeCursor(page.pageToken, ["int", "instant", "uuid"] as const);
    const where = cursor
      ? {
          $or: [
            { priority: { $gt: cursor[0] } },
            { priority: cursor[0], createdAt: { $gt: cursor[1] } },
            { priority: cursor[0], createdAt: cursor[1], id: { $gt: cursor[2] } },
          ],
        }
      : {};
    const rows = await this.deps.em
      .fork()
      .find(PassthroughRuleEntity, where, { orderBy: RULE_ORDER, limit: size + 1 });
    return toPage(rows, size, (r) => [r.priority, r.createdAt, r.id], toPassthroughRuleRecord);
  }

  /** Applies the present fields, then validates the rule as a whole. */
  async update(input: UpdatePassthroughRuleInput): Promise<PassthroughRuleRecord> {
    const em = this.deps.em.fork();
    const row = await this.#find(em, input.id);
    const { id: _id, ...changes } = input;
    const present = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
    const fields = validatePassthroughRule({ ...fieldsOf(row), ...present });
    Object.assign(row, fields, { updatedAt: nowOf(this.deps) });
    await onUniqueViolation(
      () => em.flush(),
      () => alreadyExists("passthrough rule", fields.name),
    );
    recordMutation(
      this.deps,
      "passthrough_rule.update",
      { kind: "passthrough_rule", id: row.id },
      {
        changed: Object.keys(present),
        enabled: fields.enabled,
      },
    );
    return toPassthroughRuleRecord(row);
  }

  async delete(id: string): Promise<void> {
    const em = this.deps.em.fork();
    const row = await this.#find(em, id);
    await em.remove(row).flush();
    recordMutation(
      this.deps,
      "passthrough_rule.delete",
      { kind: "passthrough_rule", id: row.id },
      { name: row.name },
    );
  }

  async #find(em: CatalogDeps["em"], id: string): Promise<PassthroughRule> {
    const row = await em.findOne(PassthroughRuleEntity, { id: lookupId(id, "passthrough rule") });
    if (!row) throw notFound("passthrough rule", id);
    return row;
  }
}
