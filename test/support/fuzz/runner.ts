import { RawConnection, type RawResponse } from "../raw-http-client.js";
import type { FuzzCase } from "./requests.js";

/** What came of one fuzzed exchange. */
export interface FuzzOutcome {
  case: FuzzCase;
  responses: RawResponse[];
  /** The data plane neither answered nor closed within the client's patience. */
  hung: boolean;
  /** The connection could not be opened (a crashed or saturated server). */
  connectError: string | null;
}

/** Loopback sources to spread clients over, so the per-IP auth-failure limiter sees many clients. */
const SOURCE_ADDRESSES = 250;

/** The source address of the `index`-th exchange: 127.0.0.2 to 127.0.0.251, round robin. */
export function sourceAddress(index: number): string {
  return `127.0.0.${2 + (index % SOURCE_ADDRESSES)}`;
}

/** Sends one case and collects its answers as its `finish` says. */
export async function runCase(
  url: string,
  c: FuzzCase,
  index: number,
  patienceMs: number,
): Promise<FuzzOutcome> {
  let conn: RawConnection;
  try {
    conn = await RawConnection.open(url, { localAddress: sourceAddress(index), head: c.head === true });
  } catch (err) {
    return { case: c, responses: [], hung: false, connectError: String(err) };
  }
  let hung = false;
  try {
    await conn.write(c.bytes);
    if (c.finish === "abort") conn.destroy();
    else if (c.finish === "reset") conn.reset();
    else if (c.finish === "end") {
      conn.end();
      await conn.waitEnded(patienceMs);
    } else {
      await conn.responsesOrClose(1, patienceMs);
    }
  } catch {
    hung = true;
  } finally {
    conn.destroy();
  }
  return { case: c, responses: [...conn.responses], hung, connectError: null };
}

/** Runs every case with `concurrency` exchanges in flight; outcomes come back in the cases' order. */
export async function runAll(
  url: string,
  cases: readonly FuzzCase[],
  concurrency: number,
  patienceMs: number,
): Promise<FuzzOutcome[]> {
  const outcomes: FuzzOutcome[] = new Array(cases.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < cases.length) {
      const index = next++;
      const c = cases[index];
      if (c) outcomes[index] = await runCase(url, c, index, patienceMs);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return outcomes;
}

/** Whether `body` is exactly the OpenAI error shape: `{"error":{type,message,code,param}}`, nothing else. */
export function isOpenAIError(body: Buffer): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return false;
  }
  if (typeof parsed !== "object" || parsed === null || Object.keys(parsed).join() !== "error") return false;
  const error = (parsed as { error: unknown }).error;
  if (typeof error !== "object" || error === null) return false;
  const { type, message, code, param } = error as Record<string, unknown>;
  return (
    Object.keys(error).sort().join() === "code,message,param,type" &&
    typeof type === "string" &&
    typeof message === "string" &&
    (code === null || typeof code === "string") &&
    (param === null || typeof param === "string")
  );
}
