import type { UsageSeriesPoint } from "../../../src/gen/switchyard/v1/admin_pb.js";
import { dateTime, localInput, ms } from "./format.js";

/** Where a chart's buckets lie: the first bucket's start, the width, how many the range has. */
export interface Axis {
  start: number;
  bucketMs: number;
  buckets: number;
}

/**
 * A bar chart of one figure per time bucket, as SVG: each bar at its bucket's place in the whole range (buckets
 * without usage stay empty), the tallest bar filling the height.
 */
export function Chart(props: {
  title: string;
  points: UsageSeriesPoint[];
  axis: Axis;
  value: (p: UsageSeriesPoint) => number;
  format: (n: number) => string;
}) {
  const { axis } = props;
  const values = props.points.map(props.value);
  const max = Math.max(1e-12, ...values);
  const total = values.reduce((a, b) => a + b, 0);
  const width = 600;
  const height = 120;
  const barWidth = width / Math.max(axis.buckets, 1);
  return (
    <figure className="chart">
      <figcaption>
        {props.title}: <strong>{props.format(total)}</strong>{" "}
        <span className="muted">
          (peak {props.format(max)} per {Math.round(axis.bucketMs / 60_000)} min)
        </span>
      </figcaption>
      <svg
        viewBox={`0 0 ${width} ${height}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`${props.title} over time`}
      >
        {props.points.map((point, i) => {
          const v = values[i] ?? 0;
          const h = Math.max(1, (v / max) * (height - 4));
          const slot = Math.round((ms(point.bucketStartTime) - axis.start) / axis.bucketMs);
          return (
            <rect
              key={ms(point.bucketStartTime)}
              x={slot * barWidth + barWidth * 0.1}
              y={height - h}
              width={Math.max(1, barWidth * 0.8)}
              height={h}
            >
              <title>
                {dateTime(point.bucketStartTime)}: {props.format(v)}
              </title>
            </rect>
          );
        })}
      </svg>
      <div className="chart-axis muted small-print">
        <span>{localTime(axis.start)}</span>
        <span>{localTime(axis.start + axis.buckets * axis.bucketMs)}</span>
      </div>
    </figure>
  );
}

function localTime(epochMs: number): string {
  return localInput(epochMs).replace("T", " ");
}
