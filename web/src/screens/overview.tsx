import type { Admin } from "../api.js";
import { count, percent, usd } from "../components/format.js";
import { useLoad } from "../components/hooks.js";
import { Empty, ErrorLine } from "../components/ui.js";

/** Traffic, live load and today's usage at a glance; refreshed every 5 s. */
export function OverviewScreen({ admin }: { admin: Admin }) {
  const { data, error } = useLoad(() => admin.getOverview({}), "overview", 5_000);
  return (
    <>
      <ErrorLine error={error} />
      {data ? (
        <>
          <div className="tiles">
            <Tile
              label="Requests / s"
              value={data.requestsPerSecond.toFixed(2)}
              hint={`${count(data.windowRequests)} in the last minute`}
            />
            <Tile
              label="Error rate"
              value={percent(data.errorRate)}
              hint={`${count(data.windowErrors)} refused or failed`}
            />
            <Tile label="In-flight leases" value={count(data.inFlightLeases)} hint="requests running now" />
            <Tile
              label="Waiting requests"
              value={count(data.waitingRequests)}
              hint="for a user or account slot"
            />
            <Tile
              label="Cache-hit ratio today"
              value={data.inputTokensToday === 0n ? "—" : percent(data.cacheHitRatioToday)}
              hint={`${count(data.cachedInputTokensToday)} of ${count(data.inputTokensToday)} input tokens cached`}
            />
            <Tile
              label="Spend today"
              value={usd(data.spendTodayUsd)}
              hint={`${count(data.requestsToday)} requests since midnight ${data.billingTimezone}`}
            />
          </div>
          {data.requestsToday === 0n && data.windowRequests === 0n ? (
            <Empty>
              No traffic yet. Create a group, an upstream account in it, a user and an API key (Groups &
              billing, Accounts, Users & keys), then point an OpenAI SDK at the data plane with that key.
            </Empty>
          ) : null}
          <p className="muted small-print">
            Requests/s and error rate: this control-plane replica's own counters over the last minute (admits
            granted and refused, requests that ended with an upstream error). Leases, waiters and today's
            figures cover every replica.
          </p>
        </>
      ) : null}
    </>
  );
}

function Tile({ label, value, hint }: { label: string; value: string; hint: string }) {
  return (
    <div className="tile" data-tile={label}>
      <span className="tile-label">{label}</span>
      <strong className="tile-value">{value}</strong>
      <span className="tile-hint">{hint}</span>
    </div>
  );
}
