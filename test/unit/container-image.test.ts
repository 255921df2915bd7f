import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/shared/config.js";
import { execForm, lastOf, readDockerfile, stageEnv } from "../support/dockerfile.js";
import { REPO_ROOT } from "../support/repo-copy.js";

/**
 * What deploy/Dockerfile promises, read without a Docker daemon (none on the project's machines). That the runtime
 * stage's install actually runs is test/e2e/runtime-stage.test.ts, which executes the same script.
 */
describe("the container image", () => {
  const { args, stages } = readDockerfile();
  const runtime = stages.at(-1);
  if (runtime === undefined) throw new Error("deploy/Dockerfile has no stage");
  const baseImage = (from: string) => {
    const name = from.split(/\s+/)[0] ?? "";
    const arg = /^\$\{(\w+)\}$/.exec(name)?.[1];
    const declared = args.find((a) => a.keyword === "ARG" && a.args.startsWith(`${arg}=`));
    return arg === undefined ? name : (declared?.args.slice(arg.length + 1) ?? "");
  };

  it("builds in one stage and runs on Node 22 slim in a final stage of its own", () => {
    expect(stages.map((s) => s.from.split(/\s+/).at(-1))).toEqual(["build", "runtime"]);
    expect(baseImage(runtime.from)).toMatch(/^node:22(\.[\d.]+)?-[a-z]+-slim$/);
  });

  it("fills the final stage only through deploy/runtime-stage.sh (no COPY of a build tree or node_modules)", () => {
    expect(runtime.instructions.filter((i) => i.keyword === "COPY")).toEqual([]);
    const runs = runtime.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toContain("source=deploy/runtime-stage.sh");
    expect(runs[0]).toMatch(/runtime-stage\.sh \/src \/app\b/);
  });

  it("installs production dependencies only, without install scripts, and none needs one", () => {
    const script = readFileSync(join(REPO_ROOT, "deploy/runtime-stage.sh"), "utf8");
    expect(script).toMatch(/^npm ci --omit=dev --ignore-scripts /m);
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, "package-lock.json"), "utf8")) as {
      packages: Record<string, { dev?: boolean; hasInstallScript?: boolean }>;
    };
    const needScripts = Object.entries(lock.packages)
      .filter(([path, meta]) => path !== "" && meta.dev !== true && meta.hasInstallScript === true)
      .map(([path]) => path);
    expect(needScripts).toEqual([]);
  });

  it("runs as a non-root user given by number (so Kubernetes can verify runAsNonRoot)", () => {
    expect(lastOf(runtime, "USER")).toMatch(/^[1-9]\d*:[1-9]\d*$/);
  });

  it("starts node itself as PID 1 (exec form, no shell), so SIGTERM reaches the process that drains", () => {
    expect(execForm(runtime, "ENTRYPOINT")).toEqual(["node", "/app/bin/switchyard.js"]);
    expect(execForm(runtime, "CMD")).toEqual(["help"]);
  });

  it("listens on every interface through valid settings", () => {
    const env = stageEnv(runtime);
    expect(env.SWITCHYARD_CONTROL_PLANE_LISTEN).toMatch(/^0\.0\.0\.0:\d+$/);
    expect(env.SWITCHYARD_DATA_PLANE_LISTEN).toMatch(/^0\.0\.0\.0:\d+$/);
    const config = loadConfig(env);
    expect(config.controlPlane.listen.host).toBe("0.0.0.0");
    expect(config.dataPlane.listen.host).toBe("0.0.0.0");
    const exposed = (lastOf(runtime, "EXPOSE") ?? "").split(/\s+/).map(Number).sort();
    expect(exposed).toEqual([config.dataPlane.listen.port, config.controlPlane.listen.port].sort());
  });

  it("sends the build context only what the Dockerfile reads (.dockerignore allows exactly those paths)", () => {
    const ignore = readFileSync(join(REPO_ROOT, ".dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
    expect(ignore[0]).toBe("*");
    const allowed = ignore.slice(1).map((l) => l.replace(/^!/, "").replace(/\/$/, ""));
    const fromContext = stages.flatMap((stage) =>
      stage.instructions.flatMap(({ keyword, args: a }) => {
        if (keyword === "COPY" && !a.includes("--from=")) return a.split(/\s+/).slice(0, -1);
        if (keyword === "RUN")
          return [...a.matchAll(/--mount=type=bind,(?![^ ]*from=)[^ ]*source=([^, ]+)/g)].map(
            (m) => m[1] ?? "",
          );
        return [];
      }),
    );
    const normalised = fromContext.map((p) => p.replace(/^\.\//, "").replace(/\/$/, ""));
    expect([...new Set(normalised)].sort()).toEqual([...allowed].sort());
  });
});
