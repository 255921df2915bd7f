import { Health, HealthCheckResponse_ServingStatus } from "../../../src/gen/grpc/health/v1/health_pb.js";
import { connectClient } from "../../support/grpc-clients.js";
import { REPO_ROOT } from "../../support/repo-copy.js";
import { switchyardEntry } from "../../support/stack.js";
import { waitFor } from "./conditions.js";
import { HeapInspector, INSPECTOR_URL } from "./heap-inspector.js";
import { ManagedProcess, type ProcessExit } from "./managed-process.js";

/** Which plane a process serves. */
export type Plane = "control-plane" | "data-plane";

/** How to launch one plane. */
export interface SwitchyardProcessOptions {
  plane: Plane;
  /** Name in logs and messages, e.g. "cp-a" or "dp-1". */
  name: string;
  /** The port it listens on; kept across restarts. */
  port: number;
  /** The loopback address it listens on (default 127.0.0.1; replicas may share a port on 127.0.0.2, .3, …). */
  host?: string;
  /** Its whole SWITCHYARD_* environment (PATH is added); the listen address is set from `port`. */
  env: Readonly<Record<string, string>>;
  /** Start with `--inspect=127.0.0.1:0`, so {@link SwitchyardProcess.heapUsedAfterGc} can read its heap. */
  inspect?: boolean;
  /** How long `start()` waits for readiness (default 60 s: a control plane migrates first). */
  readyTimeoutMs?: number;
}

/**
 * One plane as a real process (`switchyard serve <plane>`, built or from source: see switchyardEntry), as production
 * runs it: crash
 * it (`kill()`), stop it (`terminate()`), freeze and thaw it (`freeze()`, `thaw()`), start it again on the same port
 * (`start()`), read its heap after GC.
 * Ready means `/readyz` answers 200 (data plane) or grpc.health.v1 says SERVING (control plane).
 */
export class SwitchyardProcess {
  readonly plane: Plane;
  readonly port: number;
  readonly url: string;
  readonly process: ManagedProcess;
  readonly #readyTimeoutMs: number;
  readonly #inspect: boolean;
  #inspector: HeapInspector | undefined;
  /** The inspector's URL, read from the banner as the process starts (the kept output soon scrolls past it). */
  #inspectorUrl: string | undefined;

  constructor(options: SwitchyardProcessOptions) {
    this.plane = options.plane;
    this.port = options.port;
    const host = options.host ?? "127.0.0.1";
    this.url = `http://${host}:${options.port}`;
    this.#readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
    this.#inspect = options.inspect ?? false;
    const listen =
      options.plane === "control-plane" ? "SWITCHYARD_CONTROL_PLANE_LISTEN" : "SWITCHYARD_DATA_PLANE_LISTEN";
    const args = [...switchyardEntry(), "serve", options.plane];
    this.process = new ManagedProcess({
      name: options.name,
      command: process.execPath,
      args: options.inspect ? ["--inspect=127.0.0.1:0", ...args] : args,
      env: {
        PATH: process.env.PATH ?? "",
        SWITCHYARD_LOG_LEVEL: "info",
        ...options.env,
        [listen]: `${host}:${options.port}`,
      },
      cwd: REPO_ROOT,
    });
  }

  /** Whether the process is running. */
  get running(): boolean {
    return this.process.running;
  }

  /** Starts the process (again, on the same port) and waits until it is ready. */
  async start(): Promise<void> {
    this.#inspector?.close();
    this.#inspector = undefined;
    this.#inspectorUrl = undefined;
    this.process.start();
    await this.waitReady();
    if (this.#inspect) [, this.#inspectorUrl] = await this.process.waitForOutput(INSPECTOR_URL, 10_000);
  }

  /** Waits until the process is ready (see the class doc); fails at once if it exits. */
  async waitReady(timeoutMs = this.#readyTimeoutMs): Promise<void> {
    const probe =
      this.plane === "data-plane" ? () => this.#dataPlaneReady() : () => this.#controlPlaneServing();
    await waitFor(
      async () => {
        if (!this.running) throw new Error(`${this.process.spec.name} exited`);
        return await probe();
      },
      {
        timeoutMs,
        what: `${this.process.spec.name} to be ready`,
        detail: () => this.process.output(),
      },
    ).catch((err: unknown) => {
      if (!this.running) throw new Error(`${this.process.spec.name} exited:\n${this.process.output()}`);
      throw err;
    });
  }

  /** kill -9: the process vanishes as a crashed host would, without any shutdown. */
  kill(): Promise<ProcessExit> {
    this.#closeInspector();
    return this.process.kill("SIGKILL");
  }

  /**
   * SIGSTOP: the process stays, its sockets open, and answers nothing — a stalled or partitioned host, which only
   * unanswered HTTP/2 pings reveal. `thaw()` resumes it.
   */
  freeze(): void {
    this.process.child?.kill("SIGSTOP");
  }

  /** SIGCONT: resumes a frozen process where it stopped. */
  thaw(): void {
    this.process.child?.kill("SIGCONT");
  }

  /** SIGTERM (graceful shutdown), then the exit; SIGKILL after `graceMs`. */
  terminate(graceMs = 30_000): Promise<ProcessExit> {
    this.#closeInspector();
    return this.process.stop("SIGTERM", graceMs);
  }

  /** `process.memoryUsage().heapUsed` after full GCs, read over the inspector (needs `inspect: true`). */
  async heapUsedAfterGc(): Promise<number> {
    if (this.#inspector === undefined) {
      if (this.#inspectorUrl === undefined)
        throw new Error(`${this.process.spec.name} runs without the inspector`);
      this.#inspector = await HeapInspector.connect(this.#inspectorUrl);
    }
    return await this.#inspector.heapUsedAfterGc();
  }

  #closeInspector(): void {
    this.#inspector?.close();
    this.#inspector = undefined;
  }

  async #dataPlaneReady(): Promise<boolean> {
    const res = await fetch(`${this.url}/readyz`);
    await res.arrayBuffer();
    return res.ok;
  }

  async #controlPlaneServing(): Promise<boolean> {
    const health = connectClient(Health, this.url, { protocol: "grpc" });
    try {
      const res = await health.client.check({ service: "" }, { timeoutMs: 2_000 });
      return res.status === HealthCheckResponse_ServingStatus.SERVING;
    } finally {
      health.close();
    }
  }
}
