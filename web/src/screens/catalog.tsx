import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type FormEvent, useState } from "react";
import { BillingMode, MatchMode, SubscriptionStatus } from "../../../src/gen/switchyard/v1/admin_pb.js";
import type { Admin } from "../api.js";
import { formValues, useSubmit } from "../components/form.js";
import { dateTime, usd } from "../components/format.js";
import { useLoad } from "../components/hooks.js";
import { useNames } from "../components/names.js";
import { Badge, ConfirmButton, Empty, ErrorLine, Field, Section } from "../components/ui.js";

type Tab = "groups" | "prices" | "rules" | "subscriptions";
const TABS: { id: Tab; label: string }[] = [
  { id: "groups", label: "Groups" },
  { id: "prices", label: "Prices" },
  { id: "rules", label: "Passthrough rules" },
  { id: "subscriptions", label: "Subscriptions" },
];

/** Groups, model prices, error-passthrough rules and subscriptions. */
export function CatalogScreen({ admin }: { admin: Admin }) {
  const [tab, setTab] = useState<Tab>("groups");
  return (
    <>
      <div className="tabs" role="tablist">
        {TABS.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            aria-selected={tab === t.id}
            onClick={() => setTab(t.id)}
          >
            {t.label}
          </button>
        ))}
      </div>
      {tab === "groups" ? <Groups admin={admin} /> : null}
      {tab === "prices" ? <Prices admin={admin} /> : null}
      {tab === "rules" ? <Rules admin={admin} /> : null}
      {tab === "subscriptions" ? <Subscriptions admin={admin} /> : null}
    </>
  );
}

/** Runs a create form: the call with the form's values; on success the form is cleared and the list reloaded. */
function useCreate(call: (v: Record<string, string>) => Promise<unknown>, reload: () => void) {
  const submit = useSubmit();
  const onSubmit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    if (await submit.run(() => call(formValues(form)))) {
      form.reset();
      reload();
    }
  };
  return { submit, onSubmit };
}

function Groups({ admin }: { admin: Admin }) {
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
          <div className="row wide">
            <button type="submit" className="primary" disabled={submit.busy}>
              Create group
            </button>
          </div>
          <div className="wide">
            <ErrorLine error={submit.error} />
          </div>
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

function Prices({ admin }: { admin: Admin }) {
  const list = useLoad(() => admin.listModelPrices({ pageSize: 500 }), "prices");
  const { submit, onSubmit } = useCreate(
    (v) =>
      admin.setModelPrice({
        price: {
          model: v.model ?? "",
          inputUsdPerMtok: v.input ?? "",
          cachedInputUsdPerMtok: v.cached ?? "",
          outputUsdPerMtok: v.output ?? "",
        },
      }),
    list.reload,
  );
  return (
    <>
      <Section title="Set a model price">
        <form className="form-grid" onSubmit={onSubmit}>
          <Field label="Model" error={submit.errorOf("price.model", "model")}>
            <input name="model" required />
          </Field>
          <Field label="Input, USD per 1M tokens" error={submit.errorOf("price.input_usd_per_mtok")}>
            <input name="input" inputMode="decimal" required />
          </Field>
          <Field label="Cached input, USD per 1M" error={submit.errorOf("price.cached_input_usd_per_mtok")}>
            <input name="cached" inputMode="decimal" required />
          </Field>
          <Field label="Output, USD per 1M" error={submit.errorOf("price.output_usd_per_mtok")}>
            <input name="output" inputMode="decimal" required />
          </Field>
          <div className="row wide">
            <button type="submit" className="primary" disabled={submit.busy}>
              Save price
            </button>
          </div>
          <div className="wide">
            <ErrorLine error={submit.error} />
          </div>
        </form>
      </Section>
      <Section title="Model prices">
        <ErrorLine error={list.error} />
        {list.data && list.data.prices.length === 0 ? (
          <Empty>No price set: requests cost 0 until their model has a price. Set one above.</Empty>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>Model</th>
                  <th>Input / 1M</th>
                  <th>Cached / 1M</th>
                  <th>Output / 1M</th>
                  <th>Changed</th>
                  <th>Actions</th>
                </tr>
              </thead>
              <tbody>
                {list.data?.prices.map((p) => (
                  <tr key={p.model}>
                    <td>{p.model}</td>
                    <td>{usd(p.inputUsdPerMtok)}</td>
                    <td>{usd(p.cachedInputUsdPerMtok)}</td>
                    <td>{usd(p.outputUsdPerMtok)}</td>
                    <td>{dateTime(p.updateTime)}</td>
                    <td className="actions">
                      <ConfirmButton
                        label="Delete"
                        title={`Delete the price of ${p.model}?`}
                        message="Its requests then cost 0 (and raise the unpriced-usage metric)."
                        onConfirm={async () => {
                          await admin.deleteModelPrice({ model: p.model });
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

function splitList(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

function Rules({ admin }: { admin: Admin }) {
  const list = useLoad(() => admin.listPassthroughRules({ pageSize: 500 }), "rules");
  const { submit, onSubmit } = useCreate(
    (v) =>
      admin.createPassthroughRule({
        name: v.name ?? "",
        priority: Number(v.priority || 0),
        errorCodes: splitList(v.codes).map(Number),
        keywords: splitList(v.keywords),
        matchMode: v.matchMode === "all" ? MatchMode.ALL : MatchMode.ANY,
        responseCode: Number(v.responseCode || 0),
        customMessage: v.message ?? "",
        description: v.description ?? "",
      }),
    list.reload,
  );
  return (
    <>
      <Section title="New passthrough rule">
        <form className="form-grid" onSubmit={onSubmit}>
          <Field label="Name" error={submit.errorOf("name")}>
            <input name="name" required />
          </Field>
          <Field label="Priority (lower first)" error={submit.errorOf("priority")}>
            <input name="priority" type="number" placeholder="0" />
          </Field>
          <Field label="Upstream status codes (comma-separated)" error={submit.errorOf("error_codes")}>
            <input name="codes" placeholder="400, 422" />
          </Field>
          <Field label="Keywords in the error body (comma-separated)" error={submit.errorOf("keywords")}>
            <input name="keywords" />
          </Field>
          <Field label="Match" error={submit.errorOf("match_mode")}>
            <select name="matchMode" defaultValue="any">
              <option value="any">any condition</option>
              <option value="all">all conditions</option>
            </select>
          </Field>
          <Field label="Answer with status (blank: the upstream's)" error={submit.errorOf("response_code")}>
            <input name="responseCode" type="number" />
          </Field>
          <Field label="Custom message (blank: the upstream's body)" error={submit.errorOf("custom_message")}>
            <input name="message" />
          </Field>
          <Field label="Description" error={submit.errorOf("description")}>
            <input name="description" />
          </Field>
          <div className="row wide">
            <button type="submit" className="primary" disabled={submit.busy}>
              Create rule
            </button>
          </div>
          <div className="wide">
            <ErrorLine error={submit.error} />
          </div>
        </form>
      </Section>
      <Section title="Passthrough rules (in the order they are tried)">
        <ErrorLine error={list.error} />
        {list.data && list.data.rules.length === 0 ? (
          <Empty>No rule: upstream errors fail over, then reach clients in the gateway's own words.</Empty>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Enabled</th>
                  <th>Priority</th>
                  <th>Codes</th>
                  <th>Keywords</th>
                  <th>Answer</th>
                  <th>Actions</th>
                </tr>
              </thead>
              <tbody>
                {list.data?.rules.map((r) => (
                  <tr key={r.id}>
                    <td>{r.name}</td>
                    <td>{r.enabled ? <Badge tone="ok">on</Badge> : <Badge tone="muted">off</Badge>}</td>
                    <td>{r.priority}</td>
                    <td>{r.errorCodes.join(", ") || "any"}</td>
                    <td>{r.keywords.join(", ") || "—"}</td>
                    <td>{r.passthroughCode ? "upstream status" : r.responseCode}</td>
                    <td className="actions">
                      <ConfirmButton
                        label={r.enabled ? "Turn off" : "Turn on"}
                        danger={r.enabled}
                        title={`${r.enabled ? "Turn off" : "Turn on"} ${r.name}?`}
                        message={
                          r.enabled
                            ? "Matching errors are handled as if the rule did not exist."
                            : "Matching errors are passed through again."
                        }
                        onConfirm={async () => {
                          await admin.updatePassthroughRule({ id: r.id, enabled: !r.enabled });
                          list.reload();
                        }}
                      />
                      <ConfirmButton
                        label="Delete"
                        title={`Delete rule ${r.name}?`}
                        message="This cannot be undone."
                        onConfirm={async () => {
                          await admin.deletePassthroughRule({ id: r.id });
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

function Subscriptions({ admin }: { admin: Admin }) {
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
          <div className="row wide">
            <button type="submit" className="primary" disabled={submit.busy}>
              Subscribe
            </button>
          </div>
          <div className="wide">
            <ErrorLine error={submit.error} />
          </div>
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
