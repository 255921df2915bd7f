import { type FormEvent, useState } from "react";
import { type User, UserStatus } from "../../../src/gen/switchyard/v1/admin_pb.js";
import type { Admin } from "../api.js";
import { formValues, useSubmit } from "../components/form.js";
import { dateTime, usd } from "../components/format.js";
import { useLoad } from "../components/hooks.js";
import { type Names, useNames } from "../components/names.js";
import { Badge, ConfirmButton, Empty, ErrorLine, Field, Section, SubmitRow } from "../components/ui.js";
import { KeyRow, NewKey } from "./user-keys.js";

/** Users (balance, concurrency in use) and their API keys (quota used; create shows the key once; revoke). */
export function UsersScreen({ admin }: { admin: Admin }) {
  const [version, setVersion] = useState(0);
  const changed = () => setVersion((v) => v + 1);
  const names = useNames(admin, String(version));
  const users = useLoad(() => admin.listUsers({ pageSize: 500 }), `users:${version}`);
  const leases = useLoad(() => admin.listLeases({ limit: 1000 }), `leases:${version}`, 5_000);
  const [selected, setSelected] = useState<string>("");
  const user = users.data?.users.find((u) => u.id === selected) ?? null;
  const inUse = (id: string) => leases.data?.leases.filter((l) => l.userId === id).length ?? 0;
  return (
    <>
      <UserForm
        admin={admin}
        onCreated={(id) => {
          setSelected(id);
          changed();
        }}
      />
      <Section title="Users">
        <ErrorLine error={users.error} />
        {users.data && users.data.users.length === 0 ? (
          <Empty>No user yet. Create one above, then give them an API key.</Empty>
        ) : (
          <div className="table-wrap">
            <table id="users-table">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Status</th>
                  <th>Balance</th>
                  <th>Requests in flight</th>
                  <th>Created</th>
                  <th>Actions</th>
                </tr>
              </thead>
              <tbody>
                {users.data?.users.map((u) => (
                  <tr key={u.id} aria-selected={u.id === selected}>
                    <td>
                      <strong>{u.name}</strong>
                    </td>
                    <td>
                      {u.status === UserStatus.DISABLED ? (
                        <Badge tone="muted">disabled</Badge>
                      ) : (
                        <Badge tone="ok">active</Badge>
                      )}
                    </td>
                    <td>{usd(u.balanceUsd)}</td>
                    <td>
                      {inUse(u.id)} / {u.concurrency === 0 ? "∞" : u.concurrency}
                    </td>
                    <td>{dateTime(u.createTime)}</td>
                    <td className="actions">
                      <button type="button" className="small" onClick={() => setSelected(u.id)}>
                        Keys & settings
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
      {user ? <UserDetail key={user.id} admin={admin} user={user} names={names} onChanged={changed} /> : null}
    </>
  );
}

function UserForm({ admin, onCreated }: { admin: Admin; onCreated: (id: string) => void }) {
  const submit = useSubmit();
  const onSubmit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const v = formValues(form);
    let id = "";
    const ok = await submit.run(async () => {
      const created = await admin.createUser({
        name: v.name ?? "",
        balanceUsd: v.balance ?? "",
        ...(v.concurrency ? { concurrency: Number(v.concurrency) } : {}),
      });
      id = created.user?.id ?? "";
    });
    if (ok) {
      form.reset();
      onCreated(id);
    }
  };
  return (
    <Section title="New user">
      <form className="form-grid" onSubmit={onSubmit} id="user-form">
        <Field label="Name" error={submit.errorOf("name")}>
          <input name="name" required />
        </Field>
        <Field label="Balance, USD" error={submit.errorOf("balance_usd")}>
          <input name="balance" inputMode="decimal" placeholder="0" />
        </Field>
        <Field label="Concurrency (0 = unlimited)" error={submit.errorOf("concurrency")}>
          <input name="concurrency" type="number" min={0} placeholder="5" />
        </Field>
        <SubmitRow label="Create user" form={submit} />
      </form>
    </Section>
  );
}

function UserDetail(props: { admin: Admin; user: User; names: Names; onChanged: () => void }) {
  const { admin, user, names } = props;
  const [version, setVersion] = useState(0);
  const keys = useLoad(
    () => admin.listApiKeys({ userId: user.id, pageSize: 500 }),
    `keys:${user.id}:${version}`,
  );
  const [created, setCreated] = useState<string | null>(null);
  const settings = useSubmit();
  const keyForm = useSubmit();
  const saveSettings = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const v = formValues(event.currentTarget);
    if (
      await settings.run(() =>
        admin.updateUser({ id: user.id, balanceUsd: v.balance, concurrency: Number(v.concurrency) }),
      )
    )
      props.onChanged();
  };
  const createKey = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    const v = formValues(form);
    let key = "";
    const ok = await keyForm.run(async () => {
      key = (
        await admin.createApiKey({
          userId: user.id,
          groupId: v.groupId ?? "",
          name: v.name ?? "",
          quotaUsd: v.quota ?? "",
        })
      ).key;
    });
    if (ok) {
      form.reset();
      setCreated(key);
      setVersion((x) => x + 1);
    }
  };
  const disabled = user.status === UserStatus.DISABLED;
  return (
    <Section
      title={`${user.name}: settings and API keys`}
      actions={
        <ConfirmButton
          label={disabled ? "Enable user" : "Disable user"}
          danger={!disabled}
          title={`${disabled ? "Enable" : "Disable"} ${user.name}?`}
          message={
            disabled
              ? "Their keys work again."
              : "Every request with their keys is refused with 403 until enabled again."
          }
          onConfirm={async () => {
            await admin.updateUser({
              id: user.id,
              status: disabled ? UserStatus.ACTIVE : UserStatus.DISABLED,
            });
            props.onChanged();
          }}
        />
      }
    >
      <form className="form-grid" onSubmit={saveSettings}>
        <Field label="Balance, USD (set, not added)" error={settings.errorOf("balance_usd")}>
          <input name="balance" inputMode="decimal" defaultValue={user.balanceUsd} />
        </Field>
        <Field label="Concurrency (0 = unlimited)" error={settings.errorOf("concurrency")}>
          <input name="concurrency" type="number" min={0} defaultValue={user.concurrency} />
        </Field>
        <div className="row wide">
          <button type="submit" disabled={settings.busy}>
            Save settings
          </button>
        </div>
        <div className="wide">
          <ErrorLine error={settings.error} />
        </div>
      </form>
      <h3>New API key</h3>
      <form className="form-grid" onSubmit={createKey} id="key-form">
        <Field label="Group" error={keyForm.errorOf("group_id")}>
          <select name="groupId" required defaultValue="">
            <option value="" disabled>
              {names.groups.length === 0 ? "create a group first" : "choose a group"}
            </option>
            {names.groups.map((g) => (
              <option key={g.id} value={g.id}>
                {g.name}
              </option>
            ))}
          </select>
        </Field>
        <Field label="Label (optional)" error={keyForm.errorOf("name")}>
          <input name="name" />
        </Field>
        <Field label="Quota, USD (blank = unlimited)" error={keyForm.errorOf("quota_usd")}>
          <input name="quota" inputMode="decimal" />
        </Field>
        <SubmitRow label="Create key" form={keyForm} />
      </form>
      {created ? <NewKey value={created} onDismiss={() => setCreated(null)} /> : null}
      <ErrorLine error={keys.error} />
      {keys.data && keys.data.apiKeys.length === 0 ? (
        <Empty>{user.name} has no API key yet. Create one above; it is shown once.</Empty>
      ) : (
        <div className="table-wrap">
          <table id="keys-table">
            <thead>
              <tr>
                <th>Key</th>
                <th>Label</th>
                <th>Group</th>
                <th>Status</th>
                <th>Quota used</th>
                <th>Last used</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {keys.data?.apiKeys.map((k) => (
                <KeyRow
                  key={k.id}
                  admin={admin}
                  apiKey={k}
                  names={names}
                  onChanged={() => setVersion((x) => x + 1)}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Section>
  );
}
