import { type FormEvent, useState } from "react";
import type { Admin } from "../api.js";
import { formValues } from "../components/form.js";
import { duration, ms } from "../components/format.js";
import { useLoad, useNow } from "../components/hooks.js";
import { useNames } from "../components/names.js";
import { ConfirmButton, Empty, ErrorLine, Section } from "../components/ui.js";

/** Sticky bindings (conversation → account), filtered by user or account; clear one, a user's or an account's. */
export function SessionsScreen({ admin }: { admin: Admin }) {
  const names = useNames(admin);
  const now = useNow();
  const [filter, setFilter] = useState({ userId: "", accountId: "" });
  const list = useLoad(
    () => admin.listStickySessions({ ...filter, limit: 500 }),
    JSON.stringify(filter),
    10_000,
  );
  const apply = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const v = formValues(event.currentTarget);
    setFilter({ userId: v.userId ?? "", accountId: v.accountId ?? "" });
  };
  const filtered = filter.userId !== "" || filter.accountId !== "";
  return (
    <>
      <Section
        title="Filter"
        actions={
          filtered ? (
            <ConfirmButton
              label="Clear all matching"
              title="Clear every binding matching the filter?"
              message="Their next requests are scheduled afresh (and may miss the upstream's prompt cache once)."
              onConfirm={async () => {
                await admin.clearStickySessions(filter);
                list.reload();
              }}
            />
          ) : null
        }
      >
        <form className="form-grid" onSubmit={apply}>
          <label className="field">
            <span>User</span>
            <select name="userId" defaultValue="">
              <option value="">every user</option>
              {names.users.map((u) => (
                <option key={u.id} value={u.id}>
                  {u.name}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>Account</span>
            <select name="accountId" defaultValue="">
              <option value="">every account</option>
              {names.accounts.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name}
                </option>
              ))}
            </select>
          </label>
          <div className="row wide">
            <button type="submit" className="primary">
              Apply
            </button>
          </div>
        </form>
      </Section>
      <Section title={`Sticky bindings (${list.data?.sessions.length ?? 0})`}>
        <ErrorLine error={list.error} />
        {list.data && list.data.sessions.length === 0 ? (
          <Empty>
            No sticky binding. Conversations are bound to an account when clients send a session id or chain
            responses.
          </Empty>
        ) : (
          <div className="table-wrap">
            <table id="sessions-table">
              <thead>
                <tr>
                  <th>User</th>
                  <th>Group</th>
                  <th>Conversation</th>
                  <th>Account</th>
                  <th>Lapses in</th>
                  <th>Actions</th>
                </tr>
              </thead>
              <tbody>
                {list.data?.sessions.map((s) => (
                  <tr key={`${s.groupId}:${s.userId}:${s.sessionHash}`}>
                    <td>{names.user(s.userId)}</td>
                    <td>{names.group(s.groupId)}</td>
                    <td>
                      <code>{s.sessionHash}</code>
                    </td>
                    <td>{names.account(s.accountId)}</td>
                    <td>{duration(ms(s.expireTime) - now)}</td>
                    <td className="actions">
                      <ConfirmButton
                        label="Clear"
                        title="Clear this binding?"
                        message="The conversation's next request is scheduled afresh."
                        onConfirm={async () => {
                          await admin.clearStickySessions({
                            userId: s.userId,
                            groupId: s.groupId,
                            sessionHash: s.sessionHash,
                          });
                          list.reload();
                        }}
                      />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
    </>
  );
}
