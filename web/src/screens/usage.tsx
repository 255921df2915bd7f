import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type FormEvent, useState } from "react";
import type { UsageRecord } from "../../../src/gen/switchyard/v1/admin_pb.js";
import type { Admin } from "../api.js";
import { formValues } from "../components/form.js";
import { count, dateTime, localInput, usd } from "../components/format.js";
import { useLoad } from "../components/hooks.js";
import { useNames } from "../components/names.js";
import { Empty, ErrorLine, Pager, Section } from "../components/ui.js";
import { Chart } from "../components/usage-chart.js";
import { download, outcomeWord, toCsv } from "../components/usage-csv.js";

interface Filters {
  userId: string;
  keyId: string;
  accountId: string;
  model: string;
  /** Epoch ms; null: 24 hours before the load. */
  start: number | null;
  /** Epoch ms; null: now (at each load). */
  end: number | null;
}

const HOUR = 3_600_000;

/** The range a load covers: open ends resolved against the clock, so "until now" includes what just happened. */
function rangeOf(filters: Filters): { start: number; end: number } {
  const end = filters.end ?? Math.ceil(Date.now() / 60_000) * 60_000 + 60_000;
  return { start: filters.start ?? end - 24 * HOUR, end };
}

/** A bucket width giving at most ~100 bars, in whole minutes. */
function bucketSecondsFor(rangeMs: number): number {
  return Math.max(60, Math.ceil(rangeMs / 100 / 60_000) * 60);
}

/** Usage over time and record by record, filtered by user, key, account, model and time; CSV export. */
export function UsageScreen({ admin }: { admin: Admin }) {
  const names = useNames(admin);
  const [filters, setFilters] = useState<Filters>({
    userId: "",
    keyId: "",
    accountId: "",
    model: "",
    start: null,
    end: null,
  });
  /** Bumped by every "Apply", so applying the same filters loads again (new records may have arrived). */
  const [applied, setApplied] = useState(0);
  const [pages, setPages] = useState<string[]>([""]);
  const page = pages.length - 1;
  const selection = (range: { start: number; end: number }) => ({
    userId: filters.userId,
    keyId: filters.keyId,
    accountId: filters.accountId,
    model: filters.model,
    startTime: timestampFromDate(new Date(range.start)),
    endTime: timestampFromDate(new Date(range.end)),
  });
  const request = (pageToken: string, pageSize: number) => ({
    ...selection(rangeOf(filters)),
    pageSize,
    pageToken,
  });
  const key = `${JSON.stringify(filters)}:${applied}`;
  const series = useLoad(async () => {
    const range = rangeOf(filters);
    const bucketMs = bucketSecondsFor(range.end - range.start) * 1000;
    const answer = await admin.getUsageSeries({ ...selection(range), bucketSeconds: bucketMs / 1000 });
    return {
      points: answer.points,
      axis: { start: range.start, bucketMs, buckets: Math.ceil((range.end - range.start) / bucketMs) },
    };
  }, `series:${key}`);
  const records = useLoad(
    () => admin.listUsage(request(pages[page] ?? "", 50)),
    `records:${key}:${page}:${pages[page]}`,
  );
  const [exportError, setExportError] = useState<unknown>(null);
  const apply = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const v = formValues(event.currentTarget);
    setFilters({
      userId: v.userId ?? "",
      keyId: v.keyId ?? "",
      accountId: v.accountId ?? "",
      model: v.model ?? "",
      start: v.start ? new Date(v.start).getTime() : null,
      end: v.end ? new Date(v.end).getTime() : null,
    });
    setApplied((n) => n + 1);
    setPages([""]);
  };
  const exportCsv = async () => {
    setExportError(null);
    try {
      const rows: UsageRecord[] = [];
      let token = "";
      do {
        const answer = await admin.listUsage(request(token, 500));
        rows.push(...answer.records);
        token = answer.nextPageToken;
      } while (token !== "" && rows.length < 100_000);
      download(`usage-${new Date(rangeOf(filters).start).toISOString()}.csv`, toCsv(rows));
    } catch (err) {
      setExportError(err);
    }
  };
  return (
    <>
      <Section title="Filters">
        <form className="form-grid" onSubmit={apply} id="usage-filters">
          <label className="field">
            <span>User</span>
            <select name="userId" defaultValue={filters.userId}>
              <option value="">every user</option>
              {names.users.map((u) => (
                <option key={u.id} value={u.id}>
                  {u.name}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>Key id</span>
            <input name="keyId" defaultValue={filters.keyId} placeholder="every key" />
          </label>
          <label className="field">
            <span>Account</span>
            <select name="accountId" defaultValue={filters.accountId}>
              <option value="">every account</option>
              {names.accounts.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span>Model</span>
            <input name="model" defaultValue={filters.model} placeholder="every model" />
          </label>
          <label className="field">
            <span>From (blank: 24 hours ago)</span>
            <input name="start" type="datetime-local" defaultValue={localInput(filters.start)} />
          </label>
          <label className="field">
            <span>To (blank: now)</span>
            <input name="end" type="datetime-local" defaultValue={localInput(filters.end)} />
          </label>
          <div className="row wide">
            <button type="submit" className="primary">
              Apply
            </button>
            <button type="button" onClick={exportCsv}>
              Export CSV
            </button>
          </div>
          <div className="wide">
            <ErrorLine error={exportError} />
          </div>
        </form>
      </Section>
      <Section title="Over time">
        <ErrorLine error={series.error} />
        {series.data && series.data.points.length === 0 ? (
          <Empty>No usage in this range. Widen the time range or clear a filter.</Empty>
        ) : series.data ? (
          <div className="charts">
            <Chart
              title="Requests"
              points={series.data.points}
              axis={series.data.axis}
              value={(p) => Number(p.requests)}
              format={(n) => count(n)}
            />
            <Chart
              title="Tokens (input + output)"
              points={series.data.points}
              axis={series.data.axis}
              value={(p) => Number(p.inputTokens + p.outputTokens)}
              format={(n) => count(n)}
            />
            <Chart
              title="Cost"
              points={series.data.points}
              axis={series.data.axis}
              value={(p) => Number(p.totalCostUsd)}
              format={(n) => `$${n.toFixed(4)}`}
            />
          </div>
        ) : null}
      </Section>
      <Section title="Records">
        <ErrorLine error={records.error} />
        {records.data && records.data.records.length === 0 ? (
          <Empty>No request recorded for these filters.</Empty>
        ) : (
          <div className="table-wrap">
            <table id="usage-table">
              <thead>
                <tr>
                  <th>Time</th>
                  <th>User</th>
                  <th>Account</th>
                  <th>Model</th>
                  <th>Outcome</th>
                  <th>Tokens in / cached / out</th>
                  <th>Cost</th>
                  <th>Duration</th>
                </tr>
              </thead>
              <tbody>
                {records.data?.records.map((r) => (
                  <tr key={r.requestId}>
                    <td>{dateTime(r.createTime)}</td>
                    <td>{names.user(r.userId)}</td>
                    <td>{names.account(r.accountId)}</td>
                    <td>{r.requestedModel}</td>
                    <td>
                      {outcomeWord(r.outcome)} ({r.statusCode})
                    </td>
                    <td>
                      {count(r.tokens?.inputTokens ?? 0n)} / {count(r.tokens?.cachedInputTokens ?? 0n)} /{" "}
                      {count(r.tokens?.outputTokens ?? 0n)}
                    </td>
                    <td>{usd(r.totalCostUsd)}</td>
                    <td>{r.durationMs} ms</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <Pager
          page={page}
          hasNext={(records.data?.nextPageToken ?? "") !== ""}
          onPrev={() => setPages((p) => p.slice(0, -1))}
          onNext={() => setPages((p) => [...p, records.data?.nextPageToken ?? ""])}
        />
      </Section>
    </>
  );
}
