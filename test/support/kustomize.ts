import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";

const run = promisify(execFile);

/** A rendered Kubernetes object, with the fields the tests read (every kind's `spec` in one optional shape). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Spec;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

/** A label selector: `matchLabels` (workloads, policies) or a plain map (Services). */
export type Selector = { matchLabels?: Record<string, string> } & Record<string, unknown>;

/** The spec fields of Deployments, Jobs, Services, HPAs, PDBs, NetworkPolicies and ServiceMonitors read here. */
export interface Spec {
  replicas?: number;
  selector?: Selector;
  template?: { metadata?: { labels?: Record<string, string> }; spec: PodSpec };
  clusterIP?: string;
  ports?: { name?: string; port: number; targetPort?: number | string }[];
  scaleTargetRef?: { apiVersion: string; kind: string; name: string };
  minReplicas?: number;
  maxReplicas?: number;
  metrics?: { type: string; resource?: { name: string }; pods?: { metric: { name: string } } }[];
  podSelector?: Selector;
  ingress?: { from?: PeerSelector[]; ports?: { port: number | string }[] }[];
  endpoints?: { port: string; path?: string }[];
  maxUnavailable?: number | string;
  minAvailable?: number | string;
}

/** One `from` entry of a NetworkPolicy rule. */
export interface PeerSelector {
  podSelector?: Selector;
  namespaceSelector?: Selector;
}

/** A pod template's spec. */
export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  terminationGracePeriodSeconds?: number;
  enableServiceLinks?: boolean;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  volumes?: { name: string; secret?: { secretName: string } }[];
  topologySpreadConstraints?: { topologyKey: string }[];
  affinity?: {
    podAntiAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { topologyKey: string }[] };
  };
}

/** A container as the manifests declare it. */
export interface Container {
  name: string;
  image: string;
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  volumeMounts?: { name: string; mountPath: string }[];
}

/** The parts of a probe the tests compare with the settings. */
export interface Probe {
  grpc?: { port: number; service?: string };
  httpGet?: { path: string; port: number | string };
  tcpSocket?: { port: number | string };
  exec?: { command: string[] };
}

/** `kubectl kustomize DIR`, parsed: every object it renders. */
export async function kustomize(dir: string): Promise<K8sObject[]> {
  const { stdout } = await run("kubectl", ["kustomize", dir], { maxBuffer: 16 * 1024 * 1024 });
  return parseAllDocuments(stdout)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`unparseable output of ${dir}: ${doc.errors[0]?.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

/** A rendered overlay with lookups over it. */
export class Rendered {
  constructor(readonly objects: K8sObject[]) {}

  of(kind: string): K8sObject[] {
    return this.objects.filter((o) => o.kind === kind);
  }

  /** The one object of a kind and name; throws when it is missing. */
  get(kind: string, name: string): K8sObject {
    const found = this.objects.find((o) => o.kind === kind && o.metadata.name === name);
    if (found === undefined) throw new Error(`no ${kind} ${name} in the rendered manifests`);
    return found;
  }

  /** A ConfigMap by the name the base gives it (kustomize appends a content hash). */
  configMap(name: string): K8sObject {
    const found = this.of("ConfigMap").filter((o) => o.metadata.name.replace(/-[a-z0-9]{10}$/, "") === name);
    if (found.length !== 1) throw new Error(`expected one ConfigMap ${name}, found ${found.length}`);
    return found[0] as K8sObject;
  }

  /** Every workload with a pod template (Deployments, StatefulSets, DaemonSets, Jobs). */
  workloads(): K8sObject[] {
    return this.objects.filter((o) => o.spec?.template?.spec !== undefined);
  }

  /** Workloads whose pods a selector picks. */
  selectedBy(selector: Record<string, string>): K8sObject[] {
    return this.workloads().filter((w) => selects(selector, w.spec?.template?.metadata?.labels));
  }

  /**
   * A container's environment as the kubelet builds it: ConfigMaps named in envFrom first, then `env` literals
   * over them. Variables from a secretKeyRef are listed with `secret:NAME/KEY` as their value.
   */
  envOf(container: Container): Record<string, string> {
    const env: Record<string, string> = {};
    for (const source of container.envFrom ?? []) {
      if (source.configMapRef === undefined) continue;
      const map = this.get("ConfigMap", source.configMapRef.name);
      Object.assign(env, map.data ?? {});
    }
    for (const entry of container.env ?? []) {
      const ref = entry.valueFrom?.secretKeyRef;
      env[entry.name] = ref === undefined ? (entry.value ?? "") : `secret:${ref.name}/${ref.key}`;
    }
    return env;
  }
}

/** A workload's pod spec; throws for an object without a pod template. */
export function podSpecOf(workload: K8sObject): PodSpec {
  const pod = workload.spec?.template?.spec;
  if (pod === undefined) throw new Error(`${workload.kind} ${workload.metadata.name} has no pod template`);
  return pod;
}

/** A workload's containers, init containers included. */
export function containersOf(workload: K8sObject): { init: Container[]; main: Container[] } {
  const pod = podSpecOf(workload);
  return { init: pod.initContainers ?? [], main: pod.containers };
}

/** The one main container of a workload. */
export function mainContainer(workload: K8sObject): Container {
  const { main } = containersOf(workload);
  if (main.length !== 1) throw new Error(`${workload.metadata.name} has ${main.length} containers`);
  return main[0] as Container;
}

/** The port of a host:port setting. */
export function portOf(hostPort: string | undefined): number {
  const port = Number(hostPort?.slice(hostPort.lastIndexOf(":") + 1));
  if (!Number.isInteger(port) || port <= 0) throw new Error(`not a host:port: ${hostPort}`);
  return port;
}

/** A port given by number or by the name of a container port, as a number. */
export function resolvePort(container: Container, port: number | string): number {
  if (typeof port === "number") return port;
  const named = container.ports?.find((p) => p.name === port);
  if (named === undefined) throw new Error(`container ${container.name} has no port named ${port}`);
  return named.containerPort;
}

/** The port a probe checks. */
export function probePort(container: Container, probe: Probe): number {
  const port = probe.grpc?.port ?? probe.httpGet?.port ?? probe.tcpSocket?.port;
  if (port === undefined) throw new Error(`probe of ${container.name} checks no port`);
  return resolvePort(container, port);
}

/** A selector's labels: its matchLabels, or a Service selector's plain map. */
export function labelsOf(selector: Selector | undefined): Record<string, string> {
  if (selector === undefined) return {};
  if (selector.matchLabels !== undefined) return selector.matchLabels;
  return Object.fromEntries(
    Object.entries(selector).filter((e): e is [string, string] => typeof e[1] === "string"),
  );
}

/** Whether a selector's labels pick an object with these labels (an empty selector picks nothing here). */
export function selects(
  selector: Record<string, string>,
  labels: Record<string, string> | undefined,
): boolean {
  const wanted = Object.entries(selector);
  return wanted.length > 0 && wanted.every(([k, v]) => labels?.[k] === v);
}
