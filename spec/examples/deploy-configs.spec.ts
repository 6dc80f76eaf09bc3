import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

// The deployment examples are checked for syntax with the tools that exist here: Debian's
// python3 with its yaml module (package python3-yaml) parses every file, `kubectl kustomize`
// builds the Kubernetes manifests offline when kubectl is on the PATH, and `envoy --mode
// validate` checks the Envoy config when envoy is. The structure that matters is asserted on
// the parsed documents.

const PYTHON = '/usr/bin/python3';
const PARSE = 'import json, sys, yaml\nprint(json.dumps([list(yaml.safe_load_all(open(p))) for p in sys.argv[1:]]))';

/** Every YAML document in each file, parsed by PyYAML. */
function parseYaml(...paths: string[]): unknown[][] {
  return JSON.parse(execFileSync(PYTHON, ['-c', PARSE, ...paths], { encoding: 'utf8', timeout: 10_000 })) as unknown[][];
}

/** The YAML documents of a string, parsed by PyYAML from stdin. */
function parseYamlText(text: string): unknown[] {
  const script = 'import json, sys, yaml\nprint(json.dumps(list(yaml.safe_load_all(sys.stdin))))';
  return JSON.parse(execFileSync(PYTHON, ['-c', script], { input: text, encoding: 'utf8', timeout: 10_000 })) as unknown[];
}

/** The value at `keys` inside parsed YAML, or undefined where the path does not exist. */
function dig(value: unknown, ...keys: Array<string | number>): unknown {
  let at = value;
  for (const key of keys) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string | number, unknown>)[key];
  }
  return at;
}

/** The element of the list at `keys` whose `name` is `name`. */
function named(value: unknown, name: string, ...keys: Array<string | number>): unknown {
  const list = dig(value, ...keys);
  assert.ok(Array.isArray(list), `expected a list at ${keys.join('.')}`);
  const found = (list as unknown[]).find((item) => dig(item, 'name') === name);
  assert.ok(found !== undefined, `no entry named "${name}" at ${keys.join('.')}`);
  return found;
}

function onPath(binary: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${binary}`], { timeout: 5_000 }).status === 0;
}

/** The value following `flag` in a command-line argument list. */
function flagValue(args: unknown, flag: string): string {
  assert.ok(Array.isArray(args), 'expected container args');
  const i = (args as unknown[]).indexOf(flag);
  assert.ok(i >= 0 && typeof (args as unknown[])[i + 1] === 'string', `expected ${flag} in ${JSON.stringify(args)}`);
  return (args as string[])[i + 1]!;
}

const K8S_DIR = 'examples/kubernetes';
const k8sFiles = readdirSync(K8S_DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => join(K8S_DIR, f));

function k8sResources(): { service: unknown; deployment: unknown } {
  const docs = parseYaml(...k8sFiles).flat();
  const service = docs.find((d) => dig(d, 'kind') === 'Service');
  const deployment = docs.find((d) => dig(d, 'kind') === 'Deployment');
  assert.ok(service !== undefined && deployment !== undefined, 'expected a Service and a Deployment');
  return { service, deployment };
}

// The health service name the cluster example registers: what probes and health checks must ask for.
const servedHealthName = /health\.set\('([^']+)', ServingStatus\.SERVING\)/.exec(readFileSync('examples/cluster/server.ts', 'utf8'))?.[1];

describe('deployment configurations (examples/envoy, examples/kubernetes)', () => {
  it('every YAML file parses with python3 yaml', () => {
    const files = ['examples/envoy/envoy.yaml', ...k8sFiles];
    const parsed = parseYaml(...files);
    assert.equal(parsed.length, files.length);
    for (const [i, docs] of parsed.entries()) {
      assert.ok(docs.length > 0 && docs.every((d) => d !== null && typeof d === 'object'), `${files[i]} holds no mapping`);
    }
  });

  it('envoy: HTTP/2 upstream, round robin per call over the headless Service, gRPC health checks, no route timeout, grpc-timeout honoured', (t) => {
    assert.equal(servedHealthName, 'greeter.v1.Greeter');
    const [[envoy]] = parseYaml('examples/envoy/envoy.yaml') as [[unknown]];
    const { service } = k8sResources();

    const hcm = dig(named(envoy, 'grpc_ingress', 'static_resources', 'listeners'), 'filter_chains', 0, 'filters', 0);
    assert.equal(dig(hcm, 'name'), 'envoy.filters.network.http_connection_manager');
    const config = dig(hcm, 'typed_config');
    assert.equal(dig(config, '@type'), 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager');
    assert.ok(['AUTO', 'HTTP2'].includes(dig(config, 'codec_type') as string), `codec_type ${String(dig(config, 'codec_type'))} does not speak HTTP/2`);
    const route = dig(config, 'route_config', 'virtual_hosts', 0, 'routes', 0, 'route');
    assert.equal(dig(route, 'timeout'), '0s');
    assert.equal(dig(route, 'max_stream_duration', 'grpc_timeout_header_max'), '0s');
    assert.equal(dig(config, 'http_filters', 0, 'name'), 'envoy.filters.http.router');

    const cluster = named(envoy, dig(route, 'cluster') as string, 'static_resources', 'clusters');
    assert.equal(dig(cluster, 'type'), 'STRICT_DNS');
    assert.equal(dig(cluster, 'lb_policy'), 'ROUND_ROBIN');
    const protocol = dig(cluster, 'typed_extension_protocol_options', 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions');
    assert.equal(dig(protocol, '@type'), 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions');
    assert.equal(typeof dig(protocol, 'explicit_http_config', 'http2_protocol_options'), 'object');
    assert.equal(dig(cluster, 'health_checks', 0, 'grpc_health_check', 'service_name'), servedHealthName);
    assert.equal(typeof dig(cluster, 'outlier_detection'), 'object');
    // The upstream is the Kubernetes Service, by its cluster DNS name and port.
    const address = dig(cluster, 'load_assignment', 'endpoints', 0, 'lb_endpoints', 0, 'endpoint', 'address', 'socket_address');
    assert.equal(dig(address, 'address'), `${dig(service, 'metadata', 'name') as string}.default.svc.cluster.local`);
    assert.equal(dig(address, 'port_value'), dig(service, 'spec', 'ports', 0, 'port'));

    if (onPath('envoy')) {
      const result = spawnSync('envoy', ['--mode', 'validate', '-c', 'examples/envoy/envoy.yaml'], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(result.status, 0, result.stdout + result.stderr);
      t.diagnostic('envoy --mode validate accepted examples/envoy/envoy.yaml');
    } else {
      t.diagnostic('no envoy binary: checked YAML syntax (python3 yaml) and the structure above, not Envoy\'s own validation');
    }
  });

  it('kubernetes: a headless Service with a port named grpc, grpc probes on the container port, a termination grace above preStop plus the server grace', (t) => {
    const { service, deployment } = k8sResources();
    assert.equal(dig(service, 'spec', 'clusterIP'), 'None');
    assert.equal(dig(service, 'spec', 'ports', 0, 'name'), 'grpc');
    assert.equal(dig(service, 'spec', 'ports', 0, 'targetPort'), 'grpc');
    assert.deepEqual(dig(service, 'spec', 'selector'), dig(deployment, 'spec', 'template', 'metadata', 'labels'));
    assert.deepEqual(dig(deployment, 'spec', 'selector', 'matchLabels'), dig(deployment, 'spec', 'template', 'metadata', 'labels'));
    const replicas = dig(deployment, 'spec', 'replicas') as number;
    assert.ok(replicas > 1, `${replicas} replicas leave nothing to balance over`);

    const pod = dig(deployment, 'spec', 'template', 'spec');
    const container = dig(pod, 'containers', 0);
    const port = dig(named(container, 'grpc', 'ports'), 'containerPort');
    assert.equal(port, dig(service, 'spec', 'ports', 0, 'port'));
    assert.equal(Number(flagValue(dig(container, 'args'), '--port')), port);
    assert.deepEqual(dig(container, 'readinessProbe', 'grpc'), { port, service: servedHealthName });
    assert.deepEqual(dig(container, 'livenessProbe', 'grpc'), { port, service: '' });

    // The kubelet's clock starts at deletion: the preStop sleep, then stop(grace), then up to
    // half a second of status flushing, all before SIGKILL.
    const sleep = dig(container, 'lifecycle', 'preStop', 'sleep', 'seconds') as number;
    const grace = Number(flagValue(dig(container, 'args'), '--grace'));
    assert.ok(sleep > 0 && grace > 0, `expected a preStop sleep and a grace, got ${sleep} and ${grace}`);
    const budget = dig(pod, 'terminationGracePeriodSeconds') as number;
    assert.ok(budget > sleep + grace + 0.5, `terminationGracePeriodSeconds ${budget} does not cover ${sleep} s of preStop sleep and ${grace} s of grace`);

    if (onPath('kubectl')) {
      // Offline: kustomize reads only the files, it never contacts a cluster.
      const result = spawnSync('kubectl', ['kustomize', K8S_DIR], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(parseYamlText(result.stdout).map((d) => dig(d, 'kind')).sort(), ['Deployment', 'Service']);
      t.diagnostic('kubectl kustomize built examples/kubernetes offline; nothing was validated against an API server');
    } else {
      t.diagnostic('no kubectl binary: checked YAML syntax (python3 yaml) and the structure above only');
    }
  });
});
