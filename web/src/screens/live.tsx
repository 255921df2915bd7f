import { WaitTarget } from "../../../src/gen/switchyard/v1/admin_pb.js";
import type { Admin } from "../api.js";
import { duration, ms, shortId } from "../components/format.js";
import { useLoad, useNow } from "../components/hooks.js";
import { useNames } from "../components/names.js";
import { Empty, ErrorLine, Section } from "../components/ui.js";

/** Live leases and wait queues, refreshed every 2 s: who runs on which account, who waits for what and how long. */
export function LiveScreen({ admin }: { admin: Admin }) {
  const names = useNames(admin);
  const now = useNow();
  const leases = useLoad(() => admin.listLeases({ limit: 500 }), "leases", 2_000);
  const waiting = useLoad(() => admin.listWaitingRequests({ limit: 500 }), "waiting", 2_000);
  return (
    <>
      <Section title={`Waiting requests (${waiting.data?.requests.length ?? 0})`}>
        <ErrorLine error={waiting.error} />
        {waiting.data && waiting.data.requests.length === 0 ? (
          <Empty>No request is waiting: every user and account has a free slot.</Empty>
        ) : (
          <div className="table-wrap">
            <table id="waiting-table">
              <thead>
                <tr>
                  <th>User</th>
                  <th>Waits for</th>
                  <th>Model</th>
                  <th>Group</th>
                  <th>Waiting</th>
                  <th>Gives up in</th>
                  <th>Request</th>
                </tr>
              </thead>
              <tbody>
                {waiting.data?.requests.map((w) => (
                  <tr key={w.requestId}>
                    <td>{names.user(w.userId)}</td>
                    <td>{w.target === WaitTarget.USER_SLOT ? "a user slot" : "an account slot"}</td>
                    <td>{w.model}</td>
                    <td>{names.group(w.groupId)}</td>
                    <td>{duration(now - ms(w.waitStartTime))}</td>
                    <td>{duration(ms(w.deadlineTime) - now)}</td>
                    <td title={w.requestId}>{shortId(w.requestId)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
      <Section title={`Live leases (${leases.data?.leases.length ?? 0})`}>
        <ErrorLine error={leases.error} />
        {leases.data && leases.data.leases.length === 0 ? (
          <Empty>No request is running right now. Leases appear here while requests are served.</Empty>
        ) : (
          <div className="table-wrap">
            <table id="leases-table">
              <thead>
                <tr>
                  <th>User</th>
                  <th>Account</th>
                  <th>Model</th>
                  <th>Attempt</th>
                  <th>Running</th>
                  <th>Expires in</th>
                  <th>Data plane</th>
                </tr>
              </thead>
              <tbody>
                {leases.data?.leases.map((l) => (
                  <tr key={l.leaseId}>
                    <td>{names.user(l.userId)}</td>
                    <td>{l.accountId ? names.account(l.accountId) : "(user slot only)"}</td>
                    <td>{l.model}</td>
                    <td>{l.attempt}</td>
                    <td>{duration(now - ms(l.acquireTime))}</td>
                    <td>{duration(ms(l.expireTime) - now)}</td>
                    <td title={l.instanceId}>{shortId(l.instanceId)}</td>
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
