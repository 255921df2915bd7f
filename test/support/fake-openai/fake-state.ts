import { ScriptBook } from "./script-book.js";
import { TrafficLog } from "./traffic-log.js";

/** Everything a fake server instance remembers between requests. */
export interface FakeState {
  readonly book: ScriptBook;
  readonly traffic: TrafficLog;
  readonly recordRequests: boolean;
}

export function createFakeState(recordRequests: boolean): FakeState {
  return { book: new ScriptBook(), traffic: new TrafficLog(), recordRequests };
}

/** Forgets scripts, records and totals (see `TrafficLog.reset`). */
export function resetFakeState(state: FakeState): void {
  state.book.clear();
  state.traffic.reset();
}
