import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { SubscriptionStatus } from "../../../src/gen/switchyard/v1/admin_pb.js";
import type { Admin } from "../api.js";
import { useCreate } from "../components/form.js";
import { dateTime, usd } from "../components/format.js";
import { useLoad } from "../components/hooks.js";
import { useNames } from "../components/names.js";
import { Badge, ConfirmButton, Empty, ErrorLine, Field, Section, SubmitRow } from "../components/ui.js";
/** Subscriptions with their window usage: subscribe a user to a group, list, delete. */
export function Subscriptions({ admin }: { admin: Admin }) {
  const names = useNames(admin);
  const list = useLoad(() => admin.listSubscriptions({ pageSize: 500 }), "subscriptions");
  const { submit, onSubmit } = useCreate(
    (v) =>
      admin.createSubscription({
        userId: v.userId ?? "",
        groupId: v.groupId ?? "",
        ...(v.expires ? { expireTime: timestampFromDate(new Date(v.expires)) } : {}),
      }),
    list.reload,
  );
  return (
    <>
      <Section title="New subscription">
        <form className="form-grid" onSubmit={onSubmit}>
          <Field label="User" error={submit.errorOf("user_id")}>
            <select name="userId" required defaultValue="">
              <option value="" disabled>
                choose a user
              </option>
              {names.users.map((u) => (
                <option key={u.id} value={u.id}>
                  {u.name}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Subscription group" error={submit.errorOf("group_id")}>
            <select name="groupId" required defaultValue="">
              <option value="" disabled>
                choose a group
              </option>
              {names.groups.map((g) => (
                <option key={g.id} value={g.id}>
                  {g.name}
                </option>
              ))}
            </select>
          </Field>
          <Field label="Expires (optional)" error={submit.errorOf("expire_time")}>
            <input name="expires" type="datetime-local" />
          </Field>
          <SubmitRow label="Subscribe" form={submit} />
        </form>
      </Section>
      <Section title="Subscriptions">
        <ErrorLine error={list.error} />
        {list.data && list.data.subscriptions.length === 0 ? (
          <Empty>No subscription. Users of subscription-billed groups need one; create it above.</Empty>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>User</th>
                  <th>Group</th>
                  <th>Status</th>
                  <th>Used day / week / month</th>
                  <th>Expires</th>
                  <th>Actions</th>
                </tr>
              </thead>
              <tbody>
                {list.data?.subscriptions.map((s) => (
                  <tr key={s.id}>
                    <td>{names.user(s.userId)}</td>
                    <td>{names.group(s.groupId)}</td>
                    <td>
                      {s.status === SubscriptionStatus.ACTIVE ? (
                        <Badge tone="ok">active</Badge>
                      ) : (
                        <Badge tone="muted">cancelled</Badge>
                      )}
                    </td>
                    <td>
                      {usd(s.dailyUsedUsd)} / {usd(s.weeklyUsedUsd)} / {usd(s.monthlyUsedUsd)}
                    </td>
                    <td>{dateTime(s.expireTime)}</td>
                    <td className="actions">
                      <ConfirmButton
                        label="Delete"
                        title="Delete this subscription?"
                        message="The user's requests in that group are refused until subscribed again."
                        onConfirm={async () => {
                          await admin.deleteSubscription({ id: s.id });
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
