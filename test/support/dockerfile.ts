import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./repo-copy.js";

/** One instruction of a Dockerfile: its keyword (upper case) and the rest, continuation lines joined. */
export interface DockerInstruction {
  keyword: string;
  args: string;
}

/** A stage: its `FROM` line's arguments and the instructions after it. */
export interface DockerStage {
  from: string;
  instructions: DockerInstruction[];
}

/**
 * deploy/Dockerfile as stages of instructions: enough to read what the image runs (ENV, USER, ENTRYPOINT) and
 * which files it takes from the build context, without a Docker daemon. Comments and parser directives are dropped.
 */
export function readDockerfile(path = join(REPO_ROOT, "deploy/Dockerfile")): {
  args: DockerInstruction[];
  stages: DockerStage[];
} {
  const logical: string[] = [];
  let pending = "";
  for (const raw of readFileSync(path, "utf8").split("\n")) {
    const line = raw.trim();
    if (pending === "" && (line === "" || line.startsWith("#"))) continue;
    if (line.startsWith("#")) continue;
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    logical.push(`${pending}${line}`.trim());
    pending = "";
  }
  const args: DockerInstruction[] = [];
  const stages: DockerStage[] = [];
  for (const line of logical) {
    const [keyword = "", ...rest] = line.split(/\s+/);
    const instruction = { keyword: keyword.toUpperCase(), args: rest.join(" ") };
    if (instruction.keyword === "FROM") stages.push({ from: instruction.args, instructions: [] });
    else if (stages.length === 0) args.push(instruction);
    else stages.at(-1)?.instructions.push(instruction);
  }
  return { args, stages };
}

/** The `ENV` settings of a stage (`ENV A=1 B=2` form), later ones winning. */
export function stageEnv(stage: DockerStage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { keyword, args } of stage.instructions) {
    if (keyword !== "ENV") continue;
    for (const pair of args.split(/\s+/)) {
      const eq = pair.indexOf("=");
      if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

/** The last value of an instruction in a stage (e.g. USER), or undefined. */
export function lastOf(stage: DockerStage, keyword: string): string | undefined {
  return stage.instructions.filter((i) => i.keyword === keyword).at(-1)?.args;
}

/** An exec-form instruction's argument list (`ENTRYPOINT ["node", "…"]`); throws on the shell form. */
export function execForm(stage: DockerStage, keyword: string): string[] {
  const value = lastOf(stage, keyword);
  if (value === undefined || !value.startsWith("["))
    throw new Error(`${keyword} is not in exec form: ${value}`);
  return JSON.parse(value) as string[];
}
