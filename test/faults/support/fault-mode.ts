/**
 * The two sizes of the fault matrix. `npm test` runs every fault file in the reduced size, so CI stays well under
 * its budget; `npm run test:faults` sets SWITCHYARD_FAULTS=full and runs the whole matrix, whose figures go to
 * docs/reliability.md.
 */
export type FaultMode = "reduced" | "full";

/** The size this run uses: `full` when SWITCHYARD_FAULTS=full, else `reduced`. */
export function faultMode(): FaultMode {
  return process.env.SWITCHYARD_FAULTS === "full" ? "full" : "reduced";
}

/** Picks a scenario's parameter for this run's size, e.g. `sized({ reduced: 4, full: 32 })`. */
export function sized<T>(sizes: { reduced: T; full: T }): T {
  return sizes[faultMode()];
}
