import type { EntityManager } from "@mikro-orm/postgresql";
import { AccountEntity } from "../../store/db/entities.js";

/**
 * Accounts whose `group_ids` (a jsonb array) contain a group, as a query builder the caller can narrow, order and
 * page. jsonb containment (`@>`) is used rather than the `?` operator, which collides with query placeholders.
 */
export function accountsOfGroupQuery(em: EntityManager, groupId: string) {
  return em
    .createQueryBuilder(AccountEntity, "a")
    .select("*")
    .where("a.group_ids @> ?::jsonb", [JSON.stringify([groupId])]);
}
