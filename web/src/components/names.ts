import type { Admin } from "../api.js";
import { shortId } from "./format.js";
import { useLoad } from "./hooks.js";

/** Names of users, groups and accounts by id, to show names where the API gives ids. */
export interface Names {
  user(id: string): string;
  group(id: string): string;
  account(id: string): string;
  users: { id: string; name: string }[];
  groups: { id: string; name: string }[];
  accounts: { id: string; name: string }[];
}

/** Loads the first 500 of each (enough for the pickers; past that ids are shown). */
export function useNames(admin: Admin, refreshKey = ""): Names {
  const { data } = useLoad(async () => {
    const [users, groups, accounts] = await Promise.all([
      admin.listUsers({ pageSize: 500 }),
      admin.listGroups({ pageSize: 500 }),
      admin.listAccounts({ pageSize: 500 }),
    ]);
    return {
      users: users.users.map((u) => ({ id: u.id, name: u.name })),
      groups: groups.groups.map((g) => ({ id: g.id, name: g.name })),
      accounts: accounts.accounts.map((a) => ({ id: a.id, name: a.name })),
    };
  }, `names:${refreshKey}`);
  const lookup = (list: { id: string; name: string }[] | undefined) => {
    const byId = new Map((list ?? []).map((x) => [x.id, x.name]));
    return (id: string) => (id === "" ? "—" : (byId.get(id) ?? shortId(id)));
  };
  return {
    user: lookup(data?.users),
    group: lookup(data?.groups),
    account: lookup(data?.accounts),
    users: data?.users ?? [],
    groups: data?.groups ?? [],
    accounts: data?.accounts ?? [],
  };
}
