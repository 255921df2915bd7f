import { MatchMode } from "../../../src/gen/switchyard/v1/admin_pb.js";
import type { Admin } from "../api.js";
import { useCreate } from "../components/form.js";
import { useLoad } from "../components/hooks.js";
import { Badge, ConfirmButton, Empty, ErrorLine, Field, Section, SubmitRow } from "../components/ui.js";

function splitList(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Error-passthrough rules in the order they are tried: create, turn on/off, delete. */
export function Rules({ admin }: { admin: Admin }) {
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
          <SubmitRow label="Create rule" form={submit} />
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
