import { type FormEvent, useState } from "react";
import { type Account, AccountStatus } from "../../../src/gen/switchyard/v1/admin_pb.js";
import type { Admin } from "../api.js";
import { formList, formValues, useSubmit } from "../components/form.js";
import { dateTime } from "../components/format.js";
import { useLoad, useNow } from "../components/hooks.js";
import { type Names, useNames } from "../components/names.js";
import { ConfirmButton, Empty, ErrorLine, Field, Section } from "../components/ui.js";
import { Cooldown, StatusBadge, UsageWindows } from "./account-state.js";

/** Upstream accounts: state, cooldowns, slots in use; create, edit, disable, clear cooldown, delete. */
export function AccountsScreen({ admin }: { admin: Admin }) {
  const [version, setVersion] = useState(0);
  const names = useNames(admin, String(version));
  const now = useNow();
  const accounts = useLoad(() => admin.listAccounts({ pageSize: 500 }), `accounts:${version}`, 10_000);
  const leases = useLoad(() => admin.listLeases({ limit: 1000 }), `leases:${version}`, 5_000);
  const [editing, setEditing] = useState<Account | null>(null);
  const changed = () => setVersion((v) => v + 1);
  const inUse = (id: string) => leases.data?.leases.filter((l) => l.accountId === id).length ?? 0;
  return (
    <>
      <AccountForm
        key={editing?.id ?? "new"}
        admin={admin}
        names={names}
        account={editing}
        onDone={() => {
          setEditing(null);
          changed();
        }}
      />
      <Section title="Accounts">
        <ErrorLine error={accounts.error} />
        {accounts.data && accounts.data.accounts.length === 0 ? (
          <Empty>
            No upstream account yet. Add one above with its API key and the groups it serves; requests with
            keys of those groups are then routed to it.
          </Empty>
        ) : (
          <div className="table-wrap">
            <table id="accounts-table">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Status</th>
                  <th>Cooldown</th>
                  <th>Usage windows</th>
                  <th>Slots in use</th>
                  <th>Priority</th>
                  <th>Groups</th>
                  <th>Last used</th>
                  <th>Actions</th>
                </tr>
              </thead>
              <tbody>
                {accounts.data?.accounts.map((a) => (
                  <tr key={a.id}>
                    <td>
                      <strong>{a.name}</strong>
                      <div className="muted small-print">{a.baseUrl}</div>
                    </td>
                    <td>
                      <StatusBadge account={a} />
                    </td>
                    <td>
                      <Cooldown account={a} now={now} />
                    </td>
                    <td>
                      <UsageWindows account={a} now={now} />
                    </td>
                    <td>
                      {inUse(a.id)} / {a.concurrency}
                    </td>
                    <td>{a.priority}</td>
                    <td>{a.groupIds.map(names.group).join(", ")}</td>
                    <td>{dateTime(a.lastUsedTime)}</td>
                    <td className="actions">
                      <button type="button" className="small" onClick={() => setEditing(a)}>
                        Edit
                      </button>
                      <AccountActions admin={admin} account={a} onChanged={changed} />
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

function AccountActions({
  admin,
  account,
  onChanged,
}: {
  admin: Admin;
  account: Account;
  onChanged: () => void;
}) {
  const disabled = account.status === AccountStatus.DISABLED;
  return (
    <>
      <ConfirmButton
        label={disabled ? "Enable" : "Disable"}
        danger={!disabled}
        title={`${disabled ? "Enable" : "Disable"} ${account.name}?`}
        message={
          disabled
            ? "It is scheduled again."
            : "No new request is routed to it; requests running on it finish."
        }
        onConfirm={async () => {
          await admin.updateAccount({
            id: account.id,
            status: disabled ? AccountStatus.ACTIVE : AccountStatus.DISABLED,
          });
          onChanged();
        }}
      />
      <ConfirmButton
        label="Clear cooldown"
        danger={false}
        title={`Clear ${account.name}'s cooldown?`}
        message="Its cooldowns and error status are cleared and it is scheduled again at once."
        onConfirm={async () => {
          await admin.clearAccountCooldown({ id: account.id });
          onChanged();
        }}
      />
      <ConfirmButton
        label="Delete"
        title={`Delete ${account.name}?`}
        message="The account and its stored credential are deleted; requests running on it finish."
        onConfirm={async () => {
          await admin.deleteAccount({ id: account.id });
          onChanged();
        }}
      />
    </>
  );
}

/** Creates an account, or edits `account` (a blank credential keeps the stored one). */
function AccountForm(props: { admin: Admin; names: Names; account: Account | null; onDone: () => void }) {
  const { account, names } = props;
  const submit = useSubmit();
  const onSubmit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const v = formValues(form);
    const groupIds = formList(form, "groupIds");
    const number = (value: string | undefined) =>
      value === undefined || value === "" ? undefined : Number(value);
    const ok = await submit.run(() =>
      account
        ? props.admin.updateAccount({
            id: account.id,
            name: v.name,
            baseUrl: v.baseUrl,
            ...(v.credential ? { credential: v.credential } : {}),
            proxyUrl: v.proxyUrl ?? "",
            concurrency: number(v.concurrency),
            priority: number(v.priority),
            replaceGroupIds: true,
            groupIds,
          })
        : props.admin.createAccount({
            name: v.name ?? "",
            baseUrl: v.baseUrl ?? "",
            credential: v.credential ?? "",
            proxyUrl: v.proxyUrl ?? "",
            concurrency: number(v.concurrency),
            priority: number(v.priority),
            groupIds,
          }),
    );
    if (ok) {
      form.reset();
      props.onDone();
    }
  };
  return (
    <Section
      title={account ? `Edit ${account.name}` : "New account"}
      actions={
        account ? (
          <button type="button" className="small ghost" onClick={props.onDone}>
            Cancel edit
          </button>
        ) : null
      }
    >
      <form className="form-grid" onSubmit={onSubmit} id="account-form">
        <Field label="Name" error={submit.errorOf("name")}>
          <input name="name" required defaultValue={account?.name} />
        </Field>
        <Field label="Base URL" error={submit.errorOf("base_url")}>
          <input name="baseUrl" placeholder="https://api.openai.com" defaultValue={account?.baseUrl} />
        </Field>
        <Field
          label={account ? "New API key (blank keeps the stored one)" : "Upstream API key"}
          error={submit.errorOf("credential")}
        >
          <input name="credential" type="password" autoComplete="off" required={!account} />
        </Field>
        <Field label="Proxy URL (optional)" error={submit.errorOf("proxy_url")}>
          <input name="proxyUrl" defaultValue={account?.proxyUrl} />
        </Field>
        <Field label="Concurrency" error={submit.errorOf("concurrency")}>
          <input
            name="concurrency"
            type="number"
            min={1}
            placeholder="3"
            defaultValue={account?.concurrency}
          />
        </Field>
        <Field label="Priority (lower first)" error={submit.errorOf("priority")}>
          <input name="priority" type="number" placeholder="50" defaultValue={account?.priority} />
        </Field>
        <fieldset className={submit.errorOf("group_ids") ? "field invalid wide" : "field wide"}>
          <legend>Groups it serves</legend>
          {names.groups.length === 0 ? (
            <span className="muted">Create a group first (Groups & billing).</span>
          ) : null}
          {names.groups.map((g) => (
            <label key={g.id} className="check">
              <input
                type="checkbox"
                name="groupIds"
                value={g.id}
                defaultChecked={account?.groupIds.includes(g.id)}
              />
              {g.name}
            </label>
          ))}
          {submit.errorOf("group_ids") ? (
            <small className="field-error">{submit.errorOf("group_ids")}</small>
          ) : null}
        </fieldset>
        <div className="wide row">
          <button type="submit" className="primary" disabled={submit.busy}>
            {account ? "Save account" : "Create account"}
          </button>
        </div>
        <div className="wide">
          <ErrorLine error={submit.error} />
        </div>
      </form>
    </Section>
  );
}
