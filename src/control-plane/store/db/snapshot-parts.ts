import { create } from "@bufbuild/protobuf";
import type { MikroORM } from "@mikro-orm/postgresql";
import { GroupModelsSchema, SnapshotPassthroughRuleSchema } from "../../../gen/switchyard/v1/gateway_pb.js";
import { GatewaySettingsSchema } from "../../../gen/switchyard/v1/types_pb.js";
import { readGatewaySettings } from "../../domain/catalog/settings.js";
import { groupModelList } from "../../domain/scheduling/index.js";
import type { SnapshotParts } from "../../domain/snapshot/snapshot-source.js";

/**
 * What an account serving every model (an empty mapping) contributes to its groups' GET /v1/models list, and what
 * a wildcard mapping key is matched against.
 */
export const DEFAULT_MODEL_LIST = [
  "gpt-5",
  "gpt-5-mini",
  "gpt-5-nano",
  "gpt-4.1",
  "gpt-4.1-mini",
  "gpt-4.1-nano",
  "gpt-4o",
  "gpt-4o-mini",
  "o3",
  "o3-mini",
  "o4-mini",
];

interface RuleRow {
  id: string;
  error_codes: number[];
  keywords: string[];
  match_mode: string;
  platforms: string[];
  passthrough_code: boolean;
  response_code: number;
  passthrough_body: boolean;
  custom_message: string;
  skip_monitoring: boolean;
}

/**
 * Reads what a config snapshot holds: enabled passthrough rules in order, each group's models (from its active,
 * schedulable accounts: a disabled one serves nothing), the settings.
 */
export function snapshotPartsLoader(orm: MikroORM): () => Promise<SnapshotParts> {
  return async () => {
    const connection = orm.em.getConnection();
    const [rules, accounts, groups, settings] = await Promise.all([
      connection.execute<RuleRow[]>(
        "select * from passthrough_rules where enabled order by priority, created_at, id",
      ),
      connection.execute<{ model_mapping: Record<string, string>; group_ids: string[] }[]>(
        "select model_mapping, group_ids from accounts where status = 'active' and schedulable",
      ),
      connection.execute<{ id: string }[]>("select id from groups order by id"),
      readGatewaySettings(orm.em.fork()),
    ]);
    return {
      passthroughRules: rules.map((r) =>
        create(SnapshotPassthroughRuleSchema, {
          id: r.id,
          errorCodes: r.error_codes,
          keywords: r.keywords,
          matchAll: r.match_mode === "all",
          platforms: r.platforms,
          passthroughCode: r.passthrough_code,
          responseCode: r.response_code,
          passthroughBody: r.passthrough_body,
          customMessage: r.custom_message,
          skipMonitoring: r.skip_monitoring,
        }),
      ),
      groupModels: groups.map((g) => {
        const members = accounts
          .filter((a) => a.group_ids.includes(g.id))
          .map((a) => ({ modelMapping: a.model_mapping }));
        const models = groupModelList(members, DEFAULT_MODEL_LIST);
        return create(GroupModelsSchema, { groupId: g.id, models });
      }),
      settings: create(GatewaySettingsSchema, settings),
    };
  };
}
