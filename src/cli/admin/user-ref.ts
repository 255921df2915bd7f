import type { AdminClient } from "./command.js";
import { isUuid } from "./flag-values.js";

/**
 * The id of a user given as `--user NAME|ID`: a UUID is taken as the id as it is (the server checks it exists);
 * anything else is a name, looked up with GetUser (NOT_FOUND when there is no such user).
 */
export async function resolveUserId(client: AdminClient, ref: string): Promise<string> {
  if (isUuid(ref)) return ref.toLowerCase();
  const { user } = await client.getUser({ name: ref });
  if (user === undefined) throw new Error(`the control plane answered without user ${JSON.stringify(ref)}`);
  return user.id;
}

/** An optional `--user` filter: "" (all users) stays "". */
export async function resolveOptionalUserId(client: AdminClient, ref: string): Promise<string> {
  return ref === "" ? "" : resolveUserId(client, ref);
}
