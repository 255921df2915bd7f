import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CONFIG_VARIABLES, loadConfig } from "../../src/shared/config.js";
import {
  type Container,
  containersOf,
  type K8sObject,
  kustomize,
  labelsOf,
  mainContainer,
  podSpecOf,
  portOf,
  probePort,
  Rendered,
  resolvePort,
  selects,
} from "../support/kustomize.js";
import { REPO_ROOT } from "../support/repo-copy.js";

/** Settings whose values are secrets: they may only come from a Secret, by reference. */
const SECRET_SETTINGS = [
  "SWITCHYARD_DATABASE_URL",
  "SWITCHYARD_REDIS_URL",
  "SWITCHYARD_SECRET_KEY",
  "SWITCHYARD_ADMIN_TOKEN",
  "SWITCHYARD_DATA_PLANE_TOKEN",
];
const isSecretName = (name: string) => SECRET_SETTINGS.includes(name) || /PASSWORD/.test(name);
const CP = { "app.kubernetes.io/name": "switchyard", "app.kubernetes.io/component": "control-plane" };
const DP = { "app.kubernetes.io/name": "switchyard", "app.kubernetes.io/component": "data-plane" };
const operations = readFileSync(join(REPO_ROOT, "docs/operations.md"), "utf8");

/**
 * `kubectl kustomize deploy/k8s/overlays/<name>`, parsed and checked for what the deployment relies on: the
 * settings, ports and probes agree; secrets are only referenced; migrations are ordered by mechanism.
 */
describe.each(["dev", "prod"])("the %s overlay", (overlay) => {
  let m: Rendered;
  let controlPlane: K8sObject;
  let dataPlane: K8sObject;
  const cpEnv = () => m.envOf(mainContainer(controlPlane));
  const dpEnv = () => m.envOf(mainContainer(dataPlane));

  beforeAll(async () => {
    m = new Rendered(await kustomize(join(REPO_ROOT, "deploy/k8s/overlays", overlay)));
    controlPlane = m.get("Deployment", "switchyard-control-plane");
    dataPlane = m.get("Deployment", "switchyard-data-plane");
  }, 30_000);

  /** Containers running the Switchyard image (not the dev overlay's PostgreSQL and Redis). */
  const switchyardContainers = () =>
    m.workloads().flatMap((w) => {
      const { init, main } = containersOf(w);
      return [...init, ...main].filter((c) => c.image === mainContainer(controlPlane).image);
    });

  it("gives every container, init containers too, requests and limits; long-running ones readiness and liveness", () => {
    for (const workload of m.workloads()) {
      const { init, main } = containersOf(workload);
      for (const c of [...init, ...main]) {
        const where = `${workload.metadata.name}/${c.name}`;
        for (const bound of ["requests", "limits"] as const) {
          expect(Object.keys(c.resources?.[bound] ?? {}).sort(), `${where} ${bound}`).toEqual([
            "cpu",
            "memory",
          ]);
        }
      }
      if (workload.kind === "Job") continue;
      for (const c of main) {
        expect(c.readinessProbe, `${workload.metadata.name}/${c.name} readiness`).toBeDefined();
        expect(c.livenessProbe, `${workload.metadata.name}/${c.name} liveness`).toBeDefined();
      }
    }
  });

  it("holds no Secret values: no Secret objects, secrets in env only through secretKeyRef, none in ConfigMaps", () => {
    expect(m.of("Secret")).toEqual([]);
    for (const workload of m.workloads()) {
      const { init, main } = containersOf(workload);
      for (const c of [...init, ...main]) {
        expect(c.envFrom?.filter((e) => e.secretRef !== undefined) ?? [], c.name).toEqual([]);
        for (const entry of (c.env ?? []).filter((e) => isSecretName(e.name))) {
          expect(entry, `${c.name} ${entry.name}`).toEqual({
            name: entry.name,
            valueFrom: expect.anything(),
          });
          expect(entry.valueFrom?.secretKeyRef?.name).toBe("switchyard");
          // The documented `kubectl create secret` creates every key the manifests reference.
          expect(operations).toContain(`--from-literal=${entry.valueFrom?.secretKeyRef?.key}=`);
        }
      }
    }
    for (const map of m.of("ConfigMap")) expect(Object.keys(map.data ?? {}).filter(isSecretName)).toEqual([]);
  });

  it("sets only variables Switchyard reads, to values its configuration accepts", () => {
    for (const c of switchyardContainers()) {
      const env = m.envOf(c);
      expect(
        Object.keys(env).filter((k) => !CONFIG_VARIABLES.includes(k)),
        c.name,
      ).toEqual([]);
      const withoutSecrets = Object.fromEntries(Object.entries(env).filter(([k]) => !isSecretName(k)));
      expect(() => loadConfig(withoutSecrets), c.name).not.toThrow();
    }
  });

  it("probes the control plane over grpc.health.v1, and probes and ports match the listen settings", () => {
    const cp = mainContainer(controlPlane);
    const listen = portOf(cpEnv().SWITCHYARD_CONTROL_PLANE_LISTEN);
    const health = cpEnv().SWITCHYARD_CONTROL_PLANE_HEALTH_LISTEN;
    const probed = health === undefined ? listen : portOf(health);
    expect(cp.ports?.map((p) => p.containerPort).sort()).toEqual([...new Set([listen, probed])].sort());
    expect(cp.startupProbe?.grpc).toBeDefined();
    expect(cp.readinessProbe?.grpc).toBeDefined();
    // Liveness must not follow PostgreSQL (grpc.health does): a plain HTTP GET on the same port.
    expect(cp.livenessProbe?.httpGet?.path).toBe("/metrics");
    for (const probe of [cp.startupProbe, cp.readinessProbe, cp.livenessProbe]) {
      expect(probePort(cp, probe ?? {})).toBe(probed);
    }
    const dp = mainContainer(dataPlane);
    const dpListen = portOf(dpEnv().SWITCHYARD_DATA_PLANE_LISTEN);
    expect(dp.ports?.map((p) => p.containerPort)).toEqual([dpListen]);
    expect(dp.readinessProbe?.httpGet?.path).toBe("/readyz");
    expect(dp.livenessProbe?.httpGet?.path).toBe("/healthz");
    expect(probePort(dp, dp.readinessProbe ?? {})).toBe(dpListen);
    expect(probePort(dp, dp.livenessProbe ?? {})).toBe(dpListen);
  });

  it("sends every Service port to a port its pods listen on", () => {
    const listening = (c: Container) =>
      c === mainContainer(controlPlane)
        ? [cpEnv().SWITCHYARD_CONTROL_PLANE_LISTEN, cpEnv().SWITCHYARD_CONTROL_PLANE_HEALTH_LISTEN]
        : c === mainContainer(dataPlane)
          ? [dpEnv().SWITCHYARD_DATA_PLANE_LISTEN]
          : null;
    for (const service of m.of("Service")) {
      const pods = m.selectedBy(labelsOf(service.spec?.selector));
      expect(pods.length, service.metadata.name).toBeGreaterThan(0);
      for (const pod of pods) {
        const c = mainContainer(pod);
        for (const port of service.spec?.ports ?? []) {
          const target = resolvePort(c, port.targetPort ?? port.port);
          const settings = listening(c);
          if (settings !== null)
            expect(settings.filter((s) => s !== undefined).map(portOf)).toContain(target);
        }
      }
    }
  });

  it("points data planes at a headless Service that selects the control-plane pods", () => {
    const headless = m.of("Service").filter((s) => s.spec?.clusterIP === "None");
    expect(headless.map((s) => s.metadata.name)).toEqual(["switchyard-control-plane-headless"]);
    const service = headless[0] as K8sObject;
    expect(m.selectedBy(labelsOf(service.spec?.selector))).toEqual([controlPlane]);
    const port = service.spec?.ports?.find((p) => p.name === "grpc");
    expect(resolvePort(mainContainer(controlPlane), port?.targetPort ?? 0)).toBe(
      portOf(cpEnv().SWITCHYARD_CONTROL_PLANE_LISTEN),
    );
    const { name, namespace } = service.metadata;
    expect(dpEnv().SWITCHYARD_CONTROL_PLANE_URL).toBe(
      `dns:///${name}.${namespace}.svc.cluster.local:${port?.port}`,
    );
  });

  it("orders migrations by mechanism: a Job runs migrate, control-plane pods wait for it in an init container", () => {
    const image = mainContainer(controlPlane).image;
    const [job, ...otherJobs] = m.of("Job");
    expect(otherJobs).toEqual([]);
    const migrate = mainContainer(job as K8sObject);
    expect(migrate.args).toEqual(["migrate"]);
    const { init } = containersOf(controlPlane);
    expect(init).toHaveLength(1);
    expect(init[0]?.args?.slice(0, 2)).toEqual(["migrate", "--wait"]);
    // Same image, same database: the init container waits for exactly the migrations the Job applies.
    expect([migrate.image, init[0]?.image]).toEqual([image, image]);
    const db = (c: Container) => m.envOf(c).SWITCHYARD_DATABASE_URL;
    expect([db(migrate), db(init[0] as Container)]).toEqual([
      db(mainContainer(controlPlane)),
      cpEnv().SWITCHYARD_DATABASE_URL,
    ]);
    // Only the database: settings naming files (TLS) would point at volumes these containers do not mount.
    expect([Object.keys(m.envOf(migrate)), Object.keys(m.envOf(init[0] as Container))]).toEqual([
      ["SWITCHYARD_DATABASE_URL"],
      ["SWITCHYARD_DATABASE_URL"],
    ]);
    expect(cpEnv().SWITCHYARD_MIGRATE_ON_START).toBe("false");
    expect(switchyardContainers().every((c) => c.image === image)).toBe(true);
    expect(image).toMatch(overlay === "prod" ? /^[\w.-]+\/[\w./-]+[:@]/ : /^switchyard:dev$/);
  });

  it("scales the data-plane Deployment with an HPA (on CPU), which alone owns its replica count", () => {
    const [hpa, ...others] = m.of("HorizontalPodAutoscaler");
    expect(others).toEqual([]);
    expect(hpa?.spec?.scaleTargetRef).toEqual({
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: "switchyard-data-plane",
    });
    expect(hpa?.spec?.metrics?.map((x) => x.resource?.name)).toEqual(["cpu"]);
    expect(dataPlane.spec?.replicas).toBeUndefined();
  });

  it("lets a data plane drain: termination grace covers the shutdown delay, the stream grace and the usage flush", () => {
    const env = dpEnv();
    const neededMs =
      Number(env.SWITCHYARD_SHUTDOWN_DELAY_MS) + Number(env.SWITCHYARD_SHUTDOWN_GRACE_MS) + 10_000;
    expect(Number(env.SWITCHYARD_SHUTDOWN_DELAY_MS)).toBeGreaterThan(0);
    expect((podSpecOf(dataPlane).terminationGracePeriodSeconds ?? 30) * 1000).toBeGreaterThan(neededMs);
  });

  it("keeps the control plane available: replicas, disruption budgets and topology spread", () => {
    expect(controlPlane.spec?.replicas).toBe(overlay === "prod" ? 3 : 1);
    for (const [labels, workload] of [
      [CP, controlPlane],
      [DP, dataPlane],
    ] as const) {
      const pdbs = m.of("PodDisruptionBudget").filter((p) => selects(labelsOf(p.spec?.selector), labels));
      expect(pdbs, workload.metadata.name).toHaveLength(1);
      expect(podSpecOf(workload).topologySpreadConstraints?.map((t) => t.topologyKey)).toContain(
        "topology.kubernetes.io/zone",
      );
    }
    const required =
      podSpecOf(controlPlane).affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
    expect(required?.map((t) => t.topologyKey)).toEqual(
      overlay === "prod" ? ["kubernetes.io/hostname"] : undefined,
    );
  });

  it("lets only data planes, the tools namespace and the monitoring namespace reach the control plane", () => {
    const [policy, ...others] = m.of("NetworkPolicy");
    expect(others).toEqual([]);
    expect(labelsOf(policy?.spec?.podSelector)).toEqual(CP);
    const peers = (policy?.spec?.ingress ?? []).flatMap((rule) =>
      (rule.from ?? []).map((peer) => ({
        pods: labelsOf(peer.podSelector),
        namespace: labelsOf(peer.namespaceSelector)["kubernetes.io/metadata.name"],
        ports: (rule.ports ?? []).map((p) => resolvePort(mainContainer(controlPlane), p.port)),
      })),
    );
    const listen = portOf(cpEnv().SWITCHYARD_CONTROL_PLANE_LISTEN);
    const scrape = portOf(
      cpEnv().SWITCHYARD_CONTROL_PLANE_HEALTH_LISTEN ?? cpEnv().SWITCHYARD_CONTROL_PLANE_LISTEN,
    );
    expect(peers).toEqual([
      { pods: DP, namespace: undefined, ports: [listen] },
      { pods: {}, namespace: "switchyard-tools", ports: [listen] },
      { pods: {}, namespace: "monitoring", ports: [scrape] },
    ]);
  });

  it("runs every pod as non-root, without the service-link variables", () => {
    for (const workload of m.workloads()) {
      expect(podSpecOf(workload).securityContext?.runAsNonRoot, workload.metadata.name).toBe(true);
      expect(podSpecOf(workload).enableServiceLinks, workload.metadata.name).toBe(false);
    }
  });
});
