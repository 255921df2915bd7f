import { BillingMode } from "../../../src/gen/switchyard/v1/admin_pb.js";
import type { Admin } from "../api.js";
import { useCreate } from "../components/form.js";
import { usd } from "../components/format.js";
import { useLoad } from "../components/hooks.js";
import { ConfirmButton, Empty, ErrorLine, Field, Section, SubmitRow } from "../components/ui.js";
/** Groups: create (name, billing mode, multiplier, subscription limits), list, delete. */
export function Groups({ admin }: { admin: Admin }) {
  const list = useLoad(() => admin.listGroups({ pageSize: 500 }), "groups");
  const { submit, onSubmit } = useCreate(
    (v) =>
      admin.createGroup({
        name: v.name ?? "",
        description: v.description ?? "",
        rateMultiplier: v.rateMultiplier ?? "",
        billingMode: v.billingMode === "subscription" ? BillingMode.SUBSCRIPTION : BillingMode.BALANCE,
        dailyLimitUsd: v.daily ?? "",
        weeklyLimitUsd: v.weekly ?? "",
        monthlyLimitUsd: v.monthly ?? "",
      }),
    list.reload,
  );
  return (
    <>
      <Section title="New group">
        <form className="form-grid" onSubmit={onSubmit} id="group-form">
          <Field label="Name" error={submit.errorOf("name")}>
            <input name="name" required />
          </Field>
          <Field label="Description" error={submit.errorOf("description")}>
            <input name="description" />
          </Field>
          <Field label="Rate multiplier" error={submit.errorOf("rate_multiplier")}>
            <input name="rateMultiplier" inputMode="decimal" placeholder="1" />
          </Field>
          <Field label="Billing" error={submit.errorOf("billing_mode")}>
            <select name="billingMode" defaultValue="balance">
              <option value="balance">from the user's balance</option>
              <option value="subscription">by subscription</option>
            </select>
          </Field>
          <Field label="Daily limit, USD (subscription)" error={submit.errorOf("daily_limit_usd")}>
            <input name="daily" inputMode="decimal" />
          </Field>
          <Field label="Weekly limit, USD" error={submit.errorOf("weekly_limit_usd")}>
            <input name="weekly" inputMode="decimal" />
          </Field>
          <Field label="Monthly limit, USD" error={submit.errorOf("monthly_limit_usd")}>
            <input name="monthly" inputMode="decimal" />
          </Field>
          <SubmitRow label="Create group" form={submit} />
        </form>
      </Section>
      <Section title="Groups">
        <ErrorLine error={list.error} />
        {list.data && list.data.groups.length === 0 ? (
          <Empty>
            No group yet. A group pools upstream accounts and sets billing; create one above first.
          </Empty>
        ) : (
          <div className="table-wrap">
            <table id="groups-table">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Billing</th>
                  <th>Multiplier</th>
                  <th>Limits (day / week / month)</th>
                  <th>Actions</th>
                </tr>
              </thead>
              <tbody>
                {list.data?.groups.map((g) => (
                  <tr key={g.id}>
                    <td>
                      <strong>{g.name}</strong>
                      <div className="muted small-print">{g.description}</div>
                    </td>
                    <td>{g.billingMode === BillingMode.SUBSCRIPTION ? "subscription" : "balance"}</td>
                    <td>×{g.rateMultiplier}</td>
                    <td>
                      {usd(g.dailyLimitUsd)} / {usd(g.weeklyLimitUsd)} / {usd(g.monthlyLimitUsd)}
                    </td>
                    <td className="actions">
                      <ConfirmButton
                        label="Delete"
                        title={`Delete group ${g.name}?`}
                        message="Only a group no API key or subscription uses can be deleted."
                        onConfirm={async () => {
                          await admin.deleteGroup({ id: g.id });
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
