import type { AdminClient } from "./command.js";
import { isUuid } from "./flag-values.js";

/**
 * The id of a group given as `--group NAME|ID`: a UUID is taken as the id as it is (the server checks it exists);
 * anything else is a name, looked up with GetGroup (NOT_FOUND when there is no such group).
 */
export async function resolveGroupId(client: AdminClient, ref: string): Promise<string> {
  if (isUuid(ref)) return ref.toLowerCase();
  const { group } = await client.getGroup({ name: ref });
  if (group === undefined) throw new Error(`the control plane answered without group ${JSON.stringify(ref)}`);
  return group.id;
}

/** Several `--group` values, resolved in order. */
export async function resolveGroupIds(client: AdminClient, refs: readonly string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const ref of refs) ids.push(await resolveGroupId(client, ref));
  return ids;
}
