import { Pool } from "undici";
import { type Api, requestBody } from "./traffic.js";

/** One kind of request in a load mix. */
export interface LoadShape {
  api: Api;
  stream: boolean;
}

/** Small non-stream and stream requests of both APIs: what most gateway traffic looks like. */
export const DEFAULT_MIX: readonly LoadShape[] = [
  { api: "responses", stream: false },
  { api: "responses", stream: true },
  { api: "chat", stream: false },
  { api: "chat", stream: true },
];

/** What a load run sent and got back. */
export interface LoadResult {
  requests: number;
  /** Status code → count; a transport failure counts under 0. */
  statuses: Record<number, number>;
  elapsedMs: number;
}

/** Options of {@link runLoad}. */
export interface LoadOptions {
  dataPlaneUrl: string;
  key: string;
  requests: number;
  /** Concurrent clients, each sending its next request when its previous answer is read. */
  clients: number;
  mix?: readonly LoadShape[];
  /** Distinct conversations the requests are spread over (so sticky bindings are many but bounded). */
  conversations?: number;
}

/**
 * Sends `requests` requests through a data plane from `clients` concurrent clients (keep-alive connections, each
 * answer read to its end), cycling through the mix. Never throws for a failed request: it is counted.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const pool = new Pool(options.dataPlaneUrl, { connections: options.clients, pipelining: 1 });
  const mix = options.mix ?? DEFAULT_MIX;
  const conversations = options.conversations ?? 100;
  const statuses: Record<number, number> = {};
  let next = 0;
  const started = performance.now();
  const client = async (): Promise<void> => {
    for (let i = next++; i < options.requests; i = next++) {
      const shape = mix[i % mix.length] ?? { api: "responses", stream: false };
      const status = await pool
        .request({
          method: "POST",
          path: shape.api === "responses" ? "/v1/responses" : "/v1/chat/completions",
          headers: { authorization: `Bearer ${options.key}`, "content-type": "application/json" },
          body: JSON.stringify(requestBody(shape.api, shape.stream, `conversation ${i % conversations}`)),
        })
        .then(
          async ({ statusCode, body }) => {
            await body.text();
            return statusCode;
          },
          () => 0,
        );
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  try {
    await Promise.all(Array.from({ length: options.clients }, client));
  } finally {
    await pool.close();
  }
  return { requests: options.requests, statuses, elapsedMs: performance.now() - started };
}
