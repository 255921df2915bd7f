import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type FaultMode, faultMode } from "./fault-mode.js";
import { runDir } from "./run-folder.js";

/** A figure's value: a count, a duration, a size, or a short note. */
export type FigureValue = number | string | boolean;

/** The figures one scenario recorded in one run. */
export interface ScenarioFigures {
  scenario: string;
  mode: FaultMode;
  /** ISO time of the last recording. */
  recordedAt: string;
  /** Figure name (with its unit, e.g. "recovery (ms)") → value, in recording order. */
  figures: Record<string, FigureValue>;
}

function fileOf(scenario: string, dir: string): string {
  return join(dir, "figures", `${scenario.replace(/[^A-Za-z0-9_.-]/g, "_")}.json`);
}

/**
 * Records named figures of a scenario for this run, e.g.
 * `recordFigures("data-plane crash", { "streams killed": 4, "leaked slots": 0, "recovery (ms)": 5210 })`.
 * Calls for the same scenario add to (and overwrite by name) what it recorded before in this run, so each test
 * of a file can record its own. Name figures with their unit. After a full run (`npm run test:faults`) they are
 * rendered into docs/reliability.md, one table per scenario.
 */
export function recordFigures(scenario: string, figures: Record<string, FigureValue>, dir = runDir()): void {
  const file = fileOf(scenario, dir);
  const before: ScenarioFigures | undefined = existsSync(file)
    ? (JSON.parse(readFileSync(file, "utf8")) as ScenarioFigures)
    : undefined;
  const record: ScenarioFigures = {
    scenario,
    mode: faultMode(),
    recordedAt: new Date().toISOString(),
    figures: { ...before?.figures, ...figures },
  };
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
}

/** Every scenario's figures recorded in a run folder, by scenario name. */
export function readFigures(dir = runDir()): ScenarioFigures[] {
  const folder = join(dir, "figures");
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((name) => name.endsWith(".json"))
    .map((name) => JSON.parse(readFileSync(join(folder, name), "utf8")) as ScenarioFigures)
    .sort((a, b) => a.scenario.localeCompare(b.scenario));
}
