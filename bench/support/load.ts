import autocannon from "autocannon";

/** One load run's numbers. */
export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
}

/** Options for {@link load}. */
export interface LoadOptions {
  url: string;
  connections: number;
  durationSeconds: number;
  method?: "GET" | "POST";
  body?: string;
  headers?: Record<string, string>;
  /** Headers of the i-th request (keys and sessions spread over a tenant set); added to `headers`. */
  headersFor?: (i: number) => Record<string, string>;
}

/** Drives `url` with autocannon and returns throughput and latency percentiles. */
export async function load(options: LoadOptions): Promise<LoadResult> {
  let sent = 0;
  const headersFor = options.headersFor;
  const result = await autocannon({
    ...(headersFor
      ? {
          requests: [
            {
              setupRequest: (req: autocannon.Request) => ({
                ...req,
                headers: { ...req.headers, ...headersFor(sent++) },
              }),
            },
          ],
        }
      : {}),
    url: options.url,
    connections: options.connections,
    duration: options.durationSeconds,
    method: options.method ?? "POST",
    ...(options.body === undefined ? {} : { body: options.body }),
    headers: { "content-type": "application/json", ...options.headers },
  });
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}
