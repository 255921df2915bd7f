import { type Api, post, requestBody } from "./traffic.js";

/** One answer of a steady load: when it was sent and answered, its status and request id. */
export interface LoadAnswer {
  sentAt: number;
  answeredAt: number;
  status: number;
  requestId: string;
}

/** A load that runs until stopped, remembering every answer (for outages: what clients saw before, during, after). */
export interface SteadyLoad {
  readonly answers: LoadAnswer[];
  /** Stops sending; resolves once every request in flight is answered. */
  stop(): Promise<LoadAnswer[]>;
}

/**
 * `clients` concurrent clients each sending small requests one after the other (each answer read to its end) until
 * stopped — non-stream only, or every other one streamed with `mixStreams`. A transport failure is an answer with
 * status 0. Never throws.
 */
export function steadyLoad(
  dataPlaneUrl: string,
  key: string,
  clients: number,
  api: Api = "chat",
  mixStreams = false,
): SteadyLoad {
  const answers: LoadAnswer[] = [];
  let stopped = false;
  let sent = 0;
  const client = async (): Promise<void> => {
    while (!stopped) {
      const sentAt = Date.now();
      const stream = mixStreams && sent++ % 2 === 1;
      const answer = await post(dataPlaneUrl, key, api, requestBody(api, stream)).then(
        async (res) => {
          await res.arrayBuffer();
          return { status: res.status, requestId: res.headers.get("x-request-id") ?? "" };
        },
        () => ({ status: 0, requestId: "" }),
      );
      answers.push({ sentAt, answeredAt: Date.now(), ...answer });
      // A refused request is retried at once by clients that do not back off; keep the pace sane anyway.
      if (answer.status !== 200) await new Promise((r) => setTimeout(r, 20));
    }
  };
  const running = Promise.all(Array.from({ length: clients }, client));
  return {
    answers,
    async stop() {
      stopped = true;
      await running;
      return answers;
    },
  };
}

/** Status → count of a set of answers. */
export function statusCounts(answers: readonly LoadAnswer[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const a of answers) counts[a.status] = (counts[a.status] ?? 0) + 1;
  return counts;
}
