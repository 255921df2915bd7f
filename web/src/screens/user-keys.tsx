import { useState } from "react";
import { type ApiKey, ApiKeyStatus } from "../../../src/gen/switchyard/v1/admin_pb.js";
import type { Admin } from "../api.js";
import { dateTime, usd } from "../components/format.js";
import type { Names } from "../components/names.js";
import { Badge, ConfirmButton } from "../components/ui.js";

/** One API key of a user: prefix, label, group, status, quota used; revoke behind a confirmation. */
export function KeyRow(props: { admin: Admin; apiKey: ApiKey; names: Names; onChanged: () => void }) {
  const k = props.apiKey;
  const status =
    k.status === ApiKeyStatus.REVOKED ? (
      <Badge tone="bad">revoked</Badge>
    ) : k.status === ApiKeyStatus.DISABLED ? (
      <Badge tone="muted">disabled</Badge>
    ) : (
      <Badge tone="ok">active</Badge>
    );
  return (
    <tr data-key-prefix={k.prefix}>
      <td>
        <code>{k.prefix}…</code>
      </td>
      <td>{k.name || "—"}</td>
      <td>{props.names.group(k.groupId)}</td>
      <td>{status}</td>
      <td>
        {usd(k.quotaUsedUsd)} / {k.quotaUsd === "" ? "unlimited" : usd(k.quotaUsd)}
      </td>
      <td>{dateTime(k.lastUsedTime)}</td>
      <td className="actions">
        {k.status !== ApiKeyStatus.REVOKED ? (
          <ConfirmButton
            label="Revoke"
            title={`Revoke ${k.prefix}…?`}
            message="The key stops working on every data plane within a second. This cannot be undone."
            onConfirm={async () => {
              await props.admin.revokeApiKey({ id: k.id });
              props.onChanged();
            }}
          />
        ) : null}
      </td>
    </tr>
  );
}

/** The plaintext key, shown once, with a copy button. */
export function NewKey({ value, onDismiss }: { value: string; onDismiss: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="new-key" role="status">
      <p>
        <strong>Copy the new key now:</strong> it is shown this once and can never be read again.
      </p>
      <div className="row">
        <code id="new-key-value">{value}</code>
        <button
          type="button"
          className="small"
          onClick={() => {
            void navigator.clipboard?.writeText(value).then(() => setCopied(true));
          }}
        >
          {copied ? "Copied" : "Copy"}
        </button>
        <button type="button" className="small ghost" onClick={onDismiss}>
          Done
        </button>
      </div>
    </div>
  );
}
