import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Container,
  containersOf,
  type K8sObject,
  kustomize,
  labelsOf,
  mainContainer,
  podSpecOf,
  portOf,
  Rendered,
  resolvePort,
} from "../support/kustomize.js";
import { REPO_ROOT } from "../support/repo-copy.js";

const overlay = (name: string) => join(REPO_ROOT, "deploy/k8s/overlays", name);

/** The files a container's settings name must lie in a volume it mounts from the named Secret. */
function expectMountedFromSecret(
  workload: K8sObject,
  c: Container,
  files: string[],
  secretName: string,
): void {
  const volumes = podSpecOf(workload).volumes ?? [];
  for (const file of files) {
    const mount = c.volumeMounts?.find((v) => file.startsWith(`${v.mountPath}/`));
    expect(mount, `${c.name}: ${file} is on a mounted volume`).toBeDefined();
    expect(volumes.find((v) => v.name === mount?.name)?.secret?.secretName, file).toBe(secretName);
  }
}

describe("the prod overlay's TLS, resources and monitoring", () => {
  let m: Rendered;
  let controlPlane: K8sObject;
  let dataPlane: K8sObject;
  beforeAll(async () => {
    m = new Rendered(await kustomize(overlay("prod")));
    controlPlane = m.get("Deployment", "switchyard-control-plane");
    dataPlane = m.get("Deployment", "switchyard-data-plane");
  }, 30_000);

  it("serves the control plane over TLS with client certificates, from a Secret it only references", () => {
    const c = mainContainer(controlPlane);
    const env = m.envOf(c);
    const files = [
      "SWITCHYARD_TLS_CERT_FILE",
      "SWITCHYARD_TLS_KEY_FILE",
      "SWITCHYARD_TLS_CLIENT_CA_FILE",
    ].map((k) => env[k] ?? "");
    expect(files.every((f) => f.startsWith("/"))).toBe(true);
    expectMountedFromSecret(controlPlane, c, files, "switchyard-control-plane-tls");
  });

  it("probes a plaintext health port, since kubelet gRPC probes cannot present a client certificate", () => {
    const c = mainContainer(controlPlane);
    const env = m.envOf(c);
    const health = portOf(env.SWITCHYARD_CONTROL_PLANE_HEALTH_LISTEN);
    expect(health).not.toBe(portOf(env.SWITCHYARD_CONTROL_PLANE_LISTEN));
    expect([c.startupProbe?.grpc?.port, c.readinessProbe?.grpc?.port]).toEqual([health, health]);
  });

  it("has data planes verify the control plane and present a client certificate, over the headless name", () => {
    const c = mainContainer(dataPlane);
    const env = m.envOf(c);
    expect(env.SWITCHYARD_CONTROL_PLANE_TLS).toBe("true");
    expect(env.SWITCHYARD_CONTROL_PLANE_URL).toMatch(/^dns:\/\/\//);
    const files = [
      "SWITCHYARD_CONTROL_PLANE_CA_FILE",
      "SWITCHYARD_CONTROL_PLANE_CLIENT_CERT_FILE",
      "SWITCHYARD_CONTROL_PLANE_CLIENT_KEY_FILE",
    ].map((k) => env[k] ?? "");
    expectMountedFromSecret(dataPlane, c, files, "switchyard-data-plane-tls");
  });

  it("gives every Switchyard container requests equal to its limits (Guaranteed QoS)", () => {
    for (const workload of [controlPlane, dataPlane]) {
      const { init, main } = containersOf(workload);
      for (const c of [...init, ...main]) expect(c.resources?.requests, c.name).toEqual(c.resources?.limits);
    }
  });

  it("scrapes both planes with ServiceMonitors on ports their Services have (the control plane's health port)", () => {
    const monitors = m.of("ServiceMonitor");
    expect(monitors.map((s) => s.metadata.name).sort()).toEqual([
      "switchyard-control-plane",
      "switchyard-data-plane",
    ]);
    for (const monitor of monitors) {
      const wanted = labelsOf(monitor.spec?.selector);
      const services = m
        .of("Service")
        .filter((s) => Object.entries(wanted).every(([k, v]) => s.metadata.labels?.[k] === v));
      // One Service per monitor: the headless Service is not labelled for scraping, so no pod is scraped twice.
      expect(services, monitor.metadata.name).toHaveLength(1);
      const service = services[0] as K8sObject;
      for (const endpoint of monitor.spec?.endpoints ?? []) {
        const port = service.spec?.ports?.find((p) => p.name === endpoint.port);
        expect(port, `${monitor.metadata.name} port ${endpoint.port}`).toBeDefined();
        expect(endpoint.path).toBe("/metrics");
        const pod = m.selectedBy(labelsOf(service.spec?.selector))[0] as K8sObject;
        const target = resolvePort(mainContainer(pod), port?.targetPort ?? 0);
        const env = m.envOf(mainContainer(pod));
        const plaintext = env.SWITCHYARD_CONTROL_PLANE_HEALTH_LISTEN ?? env.SWITCHYARD_DATA_PLANE_LISTEN;
        expect(target).toBe(portOf(plaintext));
      }
    }
  });
});

describe("the dev overlay", () => {
  it("runs without TLS or monitoring CRDs, with PostgreSQL and Redis in its namespace", async () => {
    const m = new Rendered(await kustomize(overlay("dev")));
    const cp = m.envOf(mainContainer(m.get("Deployment", "switchyard-control-plane")));
    expect(Object.keys(cp).filter((k) => k.includes("TLS"))).toEqual([]);
    expect(m.of("ServiceMonitor")).toEqual([]);
    expect(m.get("Service", "switchyard-postgres").metadata.namespace).toBe("switchyard-dev");
    expect(m.get("Service", "switchyard-redis").metadata.namespace).toBe("switchyard-dev");
    expect(m.of("Namespace").map((n) => n.metadata.name)).toEqual(["switchyard-dev"]);
  });
});

describe("the autoscale-in-flight component", () => {
  let dir: string;
  beforeAll(() => {
    // kustomize takes relative paths only: a throwaway overlay that adds the component to prod.
    dir = mkdtempSync(join(tmpdir(), "switchyard-kustomize-"));
    const rel = (p: string) => relative(dir, join(REPO_ROOT, p));
    writeFileSync(
      join(dir, "kustomization.yaml"),
      `resources: [${rel("deploy/k8s/overlays/prod")}]\ncomponents: [${rel("deploy/k8s/components/autoscale-in-flight")}]\n`,
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("adds requests in flight per pod to the HPA's CPU target", async () => {
    const m = new Rendered(await kustomize(dir));
    const hpa = m.get("HorizontalPodAutoscaler", "switchyard-data-plane");
    expect(hpa.spec?.metrics?.map((x) => x.resource?.name ?? x.pods?.metric.name)).toEqual([
      "cpu",
      "switchyard_requests_in_flight",
    ]);
    // A metric the data plane exports, not a name made up here.
    expect(readFileSync(join(REPO_ROOT, "src/data-plane/metrics.ts"), "utf8")).toContain(
      '"switchyard_requests_in_flight"',
    );
  });
});
