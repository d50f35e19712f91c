#!/usr/bin/env python3
"""The agreement test of the deploy artifacts (STYLE: one source of truth, or a test).

    deploy_agreement.py RENDER_DIR BIN_DIR
    deploy_agreement.py --self-test RENDER_DIR BIN_DIR

RENDER_DIR holds what scripts/check-deploy.sh rendered: kustomize-<name>.yaml for k8s/ and
each overlay, helm-<name>.yaml for each values file, secrets.yaml (k8s/secret/ filled with
test values). BIN_DIR holds the built binaries (<service>/<service>).

It checks that
  1. Kustomize and Helm agree, pair by pair (base/prod with the chart's defaults, dev with
     ci/values-dev.yaml): images, ports, probes, environment names and sources, resources,
     replicas, termination budget, security contexts, Services, HPAs, PDBs, routes;
  2. the manifests agree with the binaries, by running each one as its pod would (same
     environment, in an empty network namespace): it listens on the containerPort, reads
     every environment name the pod sets (the binary logs each setting it read), starts
     with what it is given, answers the probe paths, and exits 0 on SIGTERM; the init Job's
     `migrate` command exists;
  3. each Dockerfile agrees with the manifests (EXPOSE, HEALTHCHECK port and path, USER,
     entrypoint) and all builder stages are identical; compose.yaml runs the same images on
     the same ports with the same environment names, each started only after what it
     depends on is healthy or done, and runs every `migrate` of the init Job;
  4. invariants deploy.sh and the seeds rely on: labels, no two Ingress rules on the same
     host and path, GET to read and mutations to write on the HTTPRoute, /dashboard/events
     to the update service unbuffered and without a short timeout and the rest of
     /dashboard to the provision service, each service on its database, the termination
     budget, the cache's maxmemory below its limit, the SSE queues below the pod's limit;
     the Redis replica's readiness probe (and compose.yaml's health check of it), run
     against a real redis-server pair, says unready before the replica's first sync (it
     would answer reads from an empty data set), ready once synced, and still ready when
     its primary stops after that (eventually consistent reads go on);
     every namespaced object in the namespace count-system; every pod under a
     ServiceAccount of its own that the same rendering creates (a Helm hook's before its
     Job); and the chart creates nothing that `k8s/deploy.sh --infrastructure` applied
     (Helm cannot import objects it does not own);
  5. monitoring (kustomize-monitoring, i.e. prod with components/monitoring, against
     helm-full): both render the same ServiceMonitor, PrometheusRule and Grafana dashboard;
     the ServiceMonitor selects exactly the six Services by a port they have; each
     service's NetworkPolicy lets Prometheus in; every metric a PromQL expression of the
     alerts or of the dashboard names (parsed with promql-parser) is one the binaries export
     on /metrics (read in step 2); the dashboard is well formed (schemaVersion, unique
     panel ids, every panel and target on the ${datasource} variable, every target a
     refId and an expression); and every alert's runbook_url names a section of
     docs/OPERATIONS.md;
  6. Redis Cluster (kustomize-cluster: k8s/ with components/redis-cluster, helm-cluster,
     helm-cluster-create): every service that used REDIS_URL or REDIS_REPLICA_URL has
     REDIS_CLUSTER_NODES and REDIS_CLUSTER_GROUPS instead, reaches the nodes and is let in
     by them; no single Redis left; the seed list names the six pods; the chart's own nodes
     are the component's objects; and, run on six real redis-servers (Debian's) in an empty
     network namespace with the rendered configuration: the init Job's script makes three
     primaries with a replica each, a second run creates nothing, and the readiness probe
     is ready before and after and unready once the cluster has lost its majority.
Exits 1 naming every disagreement. The metric names the binaries exported are written to
RENDER_DIR/metrics-exported.json, where --self-test reads them.

--self-test proves that the test fails when one side changes: it changes a port, a probe
path, an environment name (of a dashboard service) on one side only — one renderer, both
renderers but not the binary, the Dockerfile, compose.yaml — or an alert's or the
dashboard's metric, and expects that very disagreement each time.
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

try:  # the PromQL parser (PyPI promql-parser), installed by scripts/check-deploy.sh
    import promql_parser
except ImportError:
    promql_parser = None

ROOT = Path(__file__).resolve().parent.parent
# libpq reads these itself (not through the service's settings), for DATABASE_URL.
LIBPQ_ENV = {"PGUSER", "PGPASSWORD", "PGHOST", "PGPORT", "PGDATABASE", "PGSSLMODE"}
PAIRS = [("base", "default"), ("prod", "prod"), ("dev", "dev"), ("cluster", "cluster"),
         # base + k8s/jobs' by-hand recovery Jobs, the chart with recovery.* set
         ("recovery", "recovery")]
# Redis Cluster as the value store: k8s/ with components/redis-cluster, and the chart making
# the same nodes itself (redis.cluster.create).
CLUSTER_RENDERS = ("kustomize-cluster", "helm-cluster", "helm-cluster-create")
CLUSTER_APPS = {"redis-cluster", "redis-cluster-init"}
SINGLE_REDIS_ENV = {"REDIS_URL", "REDIS_REPLICA_URL"}
# The two databases (docs/ARCHITECTURE.md, "Stores and their roles") and who keeps what in which.
DATABASES = {"DATABASE_URL": {"count-write-service": "countinfo", "count-management-service": "countinfo",
                              "count-analysis-service": "countinfo",
                              "dashboard-provision-service": "dashboardconfig",
                              "dashboard-update-service": "dashboardconfig"},
             "COUNTINFO_DATABASE_URL": {"dashboard-provision-service": "countinfo"}}
MIGRATIONS = {"count-management-service": "countinfo", "dashboard-provision-service": "dashboardconfig"}
LIVE_SERVICE, PAGE_SERVICE = "dashboard-update-service", "dashboard-provision-service"
NAMESPACE = "count-system"
CLUSTER_KINDS = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "GatewayClass"}
POD_OWNERS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
# What `k8s/deploy.sh --infrastructure` applies (steps 1-5, by this label), before the chart.
INFRA_COMPONENTS = {"namespace", "config", "storage", "database", "cache", "messaging", "init"}
# The Secrets deploy.sh creates from k8s/secret/ (the chart's are hooks, secrets.create).
DEPLOY_SECRETS = {"postgresql-secret", "count-api-keys", "dashboard-stream-token"}
# The services' settings: app-config in k8s/, services-config in the chart.
CONFIG_NAMES = ("app-config", "services-config")
# The monitoring renderings compared (prod + components/monitoring, the chart's values-full).
MONITORING_PAIR = ("kustomize-monitoring", "helm-full")
PROMETHEUS_NAMESPACE = "monitoring"
# Series Prometheus makes itself for every target.
SCRAPE_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
errors: list[str] = []
# Metric names each binary exports on /metrics (step 2), by service.
exported: dict[str, set[str]] = {}


def fail(message: str) -> None:
    errors.append(message)
    print(f"  FAIL {message}")


def load(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def index(docs: list[dict]) -> dict[tuple[str, str], dict]:
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def api_deployments(docs: list[dict]) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"
            and d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "api"}


def container(dep: dict) -> dict:
    return dep["spec"]["template"]["spec"]["containers"][0]


def env_sources(c: dict) -> dict[str, str]:
    out = {}
    for e in c.get("env", []):
        if "value" in e:
            out[e["name"]] = f"value:{e['value']}"
        else:
            (kind, ref), = e["valueFrom"].items()
            source = ref.get("name", "")
            if kind == "configMapKeyRef" and source in CONFIG_NAMES:
                source = "app-config"  # the same keys under the chart's own name
            out[e["name"]] = f"{kind}:{source}/{ref.get('key', ref.get('fieldPath'))}"
    return out


def probe(c: dict, which: str) -> tuple | None:
    p = c.get(which)
    return None if p is None else (p["httpGet"]["path"], p["httpGet"]["port"])


def facts(dep: dict) -> dict:
    """What must agree between renderers, for one service Deployment."""
    spec = dep["spec"]["template"]["spec"]
    c = container(dep)
    return {
        "image": c["image"], "ports": c["ports"], "env": env_sources(c),
        "resources": c["resources"], "replicas": dep["spec"].get("replicas"),
        "startupProbe": probe(c, "startupProbe"), "livenessProbe": probe(c, "livenessProbe"),
        "readinessProbe": probe(c, "readinessProbe"),
        "terminationGracePeriodSeconds": spec["terminationGracePeriodSeconds"],
        "preStop": c["lifecycle"]["preStop"], "podSecurityContext": spec["securityContext"],
        "securityContext": c["securityContext"], "serviceAccountName": spec["serviceAccountName"],
        "automountServiceAccountToken": spec.get("automountServiceAccountToken"),
        "volumeMounts": c.get("volumeMounts"), "strategy": dep["spec"]["strategy"],
    }


def ingress_rules(docs: list[dict], annotations: bool = False) -> list[tuple]:
    """(host, path, pathType, backend[, Ingress name, its annotations]) of every Ingress rule."""
    rules = []
    for d in docs:
        if d["kind"] == "Ingress":
            extra = ()
            if annotations:
                extra = (d["metadata"]["name"], tuple(sorted(d["metadata"].get("annotations", {}).items())))
            for r in d["spec"]["rules"]:
                for p in r["http"]["paths"]:
                    rules.append((r.get("host"), p["path"], p["pathType"], p["backend"]["service"]["name"], *extra))
    return rules


def route_matches(docs: list[dict]) -> set[tuple]:
    out = set()
    for d in docs:
        if d["kind"] == "HTTPRoute":
            for rule in d["spec"]["rules"]:
                for m in rule["matches"]:
                    for b in rule["backendRefs"]:
                        out.add((m["path"]["type"], m["path"]["value"], m.get("method"), b["name"], b["port"]))
    return out


def differences(a, b, where: str = "spec"):
    """(path, a's, b's) of every place where two parsed documents differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            yield from differences(a.get(k), b.get(k), f"{where}.{k}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            yield from differences(x, y, f"{where}[{i}]")
    elif a != b:
        yield where, a, b


def backup_objects(docs: list[dict]) -> dict[tuple[str, str], dict]:
    """The backup and recovery objects (component backup) as both renderers must make them:
    specs without pod labels, each container's environment resolved (a ConfigMap key to its
    value, a Secret key to its reference), since k8s/ reads app-config where the chart writes
    the value."""
    conf = app_config(docs)["data"]
    out = {}
    for d in docs:
        if d["metadata"].get("labels", {}).get("app.kubernetes.io/component") != "backup":
            continue
        spec = copy.deepcopy(d.get("spec", {"automountServiceAccountToken": d.get("automountServiceAccountToken")}))
        spec.get("jobTemplate", {}).pop("metadata", None)
        job = spec.get("jobTemplate", {}).get("spec", spec)
        pod = job.get("template", {})
        pod.pop("metadata", None)
        for c in pod.get("spec", {}).get("initContainers", []) + pod.get("spec", {}).get("containers", []):
            env = []
            for e in c.get("env", []):
                ref = e.get("valueFrom", {})
                if "configMapKeyRef" in ref:
                    env.append((e["name"], conf.get(ref["configMapKeyRef"]["key"])))
                elif "secretKeyRef" in ref:
                    env.append((e["name"], f"secret {ref['secretKeyRef']['name']}/{ref['secretKeyRef']['key']}"))
                else:
                    env.append((e["name"], e.get("value")))
            c["env"] = env
            # A script's final newline depends on how its block scalar ends (a patch's, a template's).
            c["command"] = [a.rstrip("\n") for a in c.get("command", [])]
        out[(d["kind"], d["metadata"]["name"])] = spec
    return out


def compare(kname: str, hname: str, k: list[dict], h: list[dict]) -> None:
    print(f"== Kustomize {kname} vs Helm {hname}")
    kd, hd = api_deployments(k), api_deployments(h)
    if set(kd) != set(hd):
        fail(f"{kname}/{hname}: services differ: {sorted(set(kd) ^ set(hd))}")
    ki, hi = index(k), index(h)
    for name in sorted(set(kd) & set(hd)):
        kf, hf = facts(kd[name]), facts(hd[name])
        for field in kf:
            if kf[field] != hf[field]:
                fail(f"{kname}/{hname} {name}: {field} differs:\n    kustomize {kf[field]}\n    helm      {hf[field]}")
        for kind in ("Service", "ServiceAccount", "PodDisruptionBudget", "NetworkPolicy", "HorizontalPodAutoscaler"):
            a, b = ki.get((kind, name)), hi.get((kind, name))
            if a is None and b is None:
                continue
            if (a is None) != (b is None):
                fail(f"{kname}/{hname} {name}: {kind} only in {'helm' if a is None else 'kustomize'}")
            elif kind in ("Service", "HorizontalPodAutoscaler", "PodDisruptionBudget") and a["spec"] != b["spec"]:
                fail(f"{kname}/{hname} {name}: {kind} spec differs:\n    {a['spec']}\n    {b['spec']}")
    kb, hb = backup_objects(k), backup_objects(h)
    for key in sorted(set(kb) | set(hb)):
        if key not in kb or key not in hb:
            fail(f"{kname}/{hname}: backup {key[0]}/{key[1]} only in {'helm' if key not in kb else 'kustomize'}")
        else:
            for where, a, b in differences(kb[key], hb[key]):
                fail(f"{kname}/{hname}: backup {key[0]}/{key[1]} {where} differs: kustomize {a!r}, helm {b!r}")
    kc, hc = app_config(k)["data"], app_config(h)["data"]
    if kc != hc:
        fail(f"{kname}/{hname}: app-config differs: {sorted(set(kc.items()) ^ set(hc.items()))}")
    infra = {(d["kind"], d["metadata"]["name"]) for d in k
             if d["metadata"].get("labels", {}).get("app.kubernetes.io/component") in INFRA_COMPONENTS}
    infra |= {("Secret", n) for n in DEPLOY_SECRETS}
    for d in h:
        key = (d["kind"], d["metadata"]["name"])
        if key in infra and "helm.sh/hook" not in d["metadata"].get("annotations", {}):
            fail(f"{kname}/{hname}: the chart creates {key[0]}/{key[1]}, which deploy.sh --infrastructure "
                 f"already applied: Helm cannot import it")
    if sorted(ingress_rules(k, True)) != sorted(ingress_rules(h, True)):
        fail(f"{kname}/{hname}: Ingress rules differ:\n    {sorted(ingress_rules(k, True))}\n"
             f"    {sorted(ingress_rules(h, True))}")


def check_invariants(name: str, docs: list[dict], kustomize: bool) -> None:
    print(f"== invariants of {name}")
    seen = set()
    for host, path, _, backend in ingress_rules(docs):
        if (host, path) in seen:
            fail(f"{name}: two Ingress rules claim {host}{path}")
        seen.add((host, path))
    for t, path, method, backend, _ in route_matches(docs):
        if path.startswith("/api/v1/counts"):
            want = "count-read-service" if method == "GET" else "count-write-service"
            if backend != want:
                fail(f"{name}: HTTPRoute sends {method or 'any method'} {path} to {backend}, not {want}")
    check_dashboard_routes(name, docs)
    cms = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
    live = api_deployments(docs).get(LIVE_SERVICE)
    conf = app_config(docs)["data"]
    if live and "sse.max.subscribers" in conf:
        queues = int(conf["sse.max.subscribers"]) * int(conf["sse.client.queue.kb"]) / 1024
        limit = container(live)["resources"]["limits"]["memory"]
        if not queues < mebibytes(limit):
            fail(f"{name}: SSE queues at worst ({queues:.0f} MiB) do not fit {LIVE_SERVICE}'s limit {limit}")
    if live:
        token = {e["name"]: e for e in container(live)["env"]}.get("STREAM_TOKEN_SECRET")
        if not token or "secretKeyRef" not in token.get("valueFrom", {}):
            fail(f"{name}: {LIVE_SERVICE} must take STREAM_TOKEN_SECRET from a Secret (one value for all replicas)")
    for dep in api_deployments(docs).values():
        spec = dep["spec"]["template"]["spec"]
        c = container(dep)
        sleep = int(c["lifecycle"]["preStop"]["exec"]["command"][-1])
        env = {e["name"]: e for e in c["env"]}
        if "SHUTDOWN_TIMEOUT_SECONDS" not in env:
            fail(f"{name} {dep['metadata']['name']}: SHUTDOWN_TIMEOUT_SECONDS (the drain budget) is not set")
            continue
        ref = env["SHUTDOWN_TIMEOUT_SECONDS"]["valueFrom"]["configMapKeyRef"]
        drain = int(cms[ref["name"]]["data"][ref["key"]])
        if spec["terminationGracePeriodSeconds"] < sleep + drain + 10:
            fail(f"{name} {dep['metadata']['name']}: grace {spec['terminationGracePeriodSeconds']} s < "
                 f"preStop {sleep} + drain {drain} + flush and buffer 10")
        version = conf["app.version"]
        if not c["image"].endswith(":" + version):
            fail(f"{name} {dep['metadata']['name']}: image {c['image']} is not release {version}")
        if sum(1 for e in c["env"] if e["name"] == "APP_VERSION") != 1:
            fail(f"{name} {dep['metadata']['name']}: APP_VERSION not set once")
    check_namespaces_and_accounts(name, docs)
    if kustomize:
        for d in docs:
            labels = d["metadata"].get("labels", {})
            for label in ("app.kubernetes.io/component", "app.kubernetes.io/part-of"):
                if label not in labels:
                    fail(f"{name}: {d['kind']}/{d['metadata']['name']} lacks label {label} (deploy.sh selects by it)")
        conf = cms.get("redis-config")
        sts = {d["metadata"]["name"]: d for d in docs if d["kind"] == "StatefulSet"}
        if conf and "redis-cache" in sts:
            maxmem = re.search(r"maxmemory (\d+)mb", conf["data"]["cache.conf"]).group(1)
            limit = sts["redis-cache"]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
            if not int(maxmem) < int(limit.rstrip("Mi")):
                fail(f"{name}: redis-cache maxmemory {maxmem}mb is not below its limit {limit}")


def until(what, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while not what() and time.monotonic() < deadline:
        time.sleep(0.1)
    return bool(what())


def empty_netns() -> tuple[subprocess.Popen, list[str]]:
    """A network namespace of its own with loopback up, held by a sleeping process (kill it
    to end it), and the nsenter prefix that runs a command in it."""
    holder = subprocess.Popen(["unshare", "--net", "sh", "-c", "ip link set lo up && exec sleep 300"],
                              start_new_session=True)
    ns = ["nsenter", "-t", str(holder.pid), "-n"]
    own = os.readlink("/proc/self/ns/net")
    until(lambda: os.readlink(f"/proc/{holder.pid}/ns/net") != own and ",UP" in subprocess.run(
        ns + ["ip", "-o", "link", "show", "lo"], capture_output=True, text=True).stdout, 5)
    if os.readlink(f"/proc/{holder.pid}/ns/net") == own:
        holder.kill()
        raise RuntimeError("unshare --net did not start")
    return holder, ns


def replica_verdicts(argv: list[str], tmp: Path) -> list[str]:
    """Runs a Redis replica's health check (argv, as the pod or the container runs it, with
    redis-cli's default address) in an empty network namespace against Debian's
    redis-server: a replica on 6379 of a primary on 6380 that is not there yet, then
    started, then stopped. Returns the three verdicts ("ready"/"unready")."""
    holder, ns = empty_netns()
    servers: dict[str, subprocess.Popen] = {}

    def redis(port: int, *args: str) -> subprocess.Popen:
        d = tmp / f"redis-{port}"
        d.mkdir(parents=True, exist_ok=True)
        return subprocess.Popen(ns + ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
                                      "--dir", str(d), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def info(port: int) -> str:
        r = subprocess.run(ns + ["redis-cli", "-p", str(port), "info", "replication"],
                           capture_output=True, text=True, timeout=10)
        return r.stdout if r.returncode == 0 else ""

    def verdict() -> str:
        r = subprocess.run(ns + argv, capture_output=True, timeout=10)
        return "ready" if r.returncode == 0 else "unready"

    try:
        servers["replica"] = redis(6379, "--replicaof", "127.0.0.1", "6380")
        until(lambda: "role:slave" in info(6379))
        verdicts = [verdict()]
        servers["primary"] = redis(6380, "--repl-diskless-sync-delay", "0")
        until(lambda: "master_link_status:up" in info(6379))
        verdicts.append(verdict())
        servers.pop("primary").terminate()
        until(lambda: "master_link_status:down" in info(6379))
        verdicts.append(verdict())
        return verdicts
    finally:
        for p in [*servers.values(), holder]:
            p.kill()
            p.wait()


def check_replica_readiness(docs: list[dict], tmp: Path, compose: dict | None = None) -> None:
    """The health checks of the Redis replica the read path uses, by behaviour (see
    replica_verdicts): ready only with the primary's data."""
    print("== the Redis replica's readiness, against redis-server")
    want = ["unready", "ready", "ready"]
    sts = {d["metadata"]["name"]: d for d in docs if d["kind"] == "StatefulSet"}
    checks = {"k8s/statefulsets/redis-replica.yaml readinessProbe":
              sts["redis-replica"]["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["exec"]["command"]}
    compose = compose if compose is not None else yaml.safe_load((ROOT / "compose.yaml").read_text())
    test = compose["services"]["redis-replica"]["healthcheck"]["test"]
    checks["compose.yaml redis-replica healthcheck"] = (["sh", "-c", test[1]] if test[0] == "CMD-SHELL"
                                                        else test[1:])
    for what, argv in checks.items():
        got = replica_verdicts(argv, tmp / "replica-probe")
        if got != want:
            fail(f"{what}: {dict(zip(('before the first sync', 'synced', 'primary stopped'), got))}, "
                 f"want unready, ready, ready (a replica before its first sync serves an empty data set)")
        else:
            print(f"  {what}: unready before the first sync, ready once synced and after the primary stops")


def app_config(docs: list[dict]) -> dict:
    """The services' ConfigMap: app-config (k8s/), services-config (the chart)."""
    return next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] in CONFIG_NAMES)


def hook_weight(d: dict) -> int | None:
    notes = d["metadata"].get("annotations", {})
    return int(notes.get("helm.sh/hook-weight", "0")) if "helm.sh/hook" in notes else None


def check_namespaces_and_accounts(name: str, docs: list[dict]) -> None:
    """Every namespaced object in count-system (a Service elsewhere cannot be reached by its
    short name); every pod under a ServiceAccount of its own that this rendering creates,
    created before the pod (a hook Job's account is a hook of lower weight)."""
    accounts = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ServiceAccount"}
    for d in docs:
        kind, obj = d["kind"], d["metadata"]["name"]
        if kind not in CLUSTER_KINDS and d["metadata"].get("namespace") != NAMESPACE:
            fail(f"{name}: {kind}/{obj} is in namespace {d['metadata'].get('namespace') or '(none: default)'}, "
                 f"not {NAMESPACE}")
        if kind not in POD_OWNERS:
            continue
        pod = d["spec"]["jobTemplate"]["spec"] if kind == "CronJob" else d["spec"]
        account = pod["template"]["spec"].get("serviceAccountName")
        if account in (None, "", "default"):
            fail(f"{name}: {kind}/{obj} runs under the default ServiceAccount")
        elif account not in accounts:
            fail(f"{name}: {kind}/{obj} runs under ServiceAccount {account}, which the rendering does not create")
        elif hook_weight(d) is not None and not (hook_weight(accounts[account]) is not None
                                                 and hook_weight(accounts[account]) < hook_weight(d)):
            fail(f"{name}: hook {kind}/{obj} runs under ServiceAccount {account}, which is not a hook created before it")


def mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    return float(quantity[:-2]) * units[quantity[-2:]] if quantity[-2:] in units else int(quantity) / 2**20


def check_dashboard_routes(name: str, docs: list[dict]) -> None:
    """/dashboard/events → the update service, unbuffered, no short timeout; the rest of
    /dashboard (page, /dashboard/api) → the provision service; on the Ingress and the HTTPRoute."""
    deps = api_deployments(docs)
    for host, path, _, backend, ingress, annotations in ingress_rules(docs, True):
        if not path.startswith("/dashboard"):
            if backend in (LIVE_SERVICE, PAGE_SERVICE):
                fail(f"{name}: Ingress sends {host}{path} to {backend}")
            continue
        want = LIVE_SERVICE if path.startswith("/dashboard/events") else PAGE_SERVICE
        if backend != want:
            fail(f"{name}: Ingress sends {host}{path} to {backend}, not {want}")
        if backend == LIVE_SERVICE:
            a = dict(annotations)
            timeout = a.get("nginx.ingress.kubernetes.io/proxy-read-timeout", "60")
            if a.get("nginx.ingress.kubernetes.io/proxy-buffering") != "off" or int(timeout) < 300:
                fail(f"{name}: Ingress {ingress} buffers or times out the event streams of {path} "
                     f"(proxy-buffering off and proxy-read-timeout >= 300 s needed): {a}")
    for d in docs:
        if d["kind"] != "HTTPRoute":
            continue
        for rule in d["spec"]["rules"]:
            for m in rule["matches"]:
                path = m["path"]["value"]
                for b in rule["backendRefs"]:
                    if not path.startswith("/dashboard"):
                        continue
                    want = LIVE_SERVICE if path.startswith("/dashboard/events") else PAGE_SERVICE
                    if b["name"] != want:
                        fail(f"{name}: HTTPRoute sends {path} to {b['name']}, not {want}")
                    if want == LIVE_SERVICE and rule.get("timeouts", {}).get("request") != "0s":
                        fail(f"{name}: HTTPRoute times out the event streams of {path} (timeouts.request: 0s needed)")
    if deps.get(LIVE_SERVICE) and not any(b == LIVE_SERVICE for *_, b in ingress_rules(docs)) \
            and any(d["kind"] == "Ingress" for d in docs):
        fail(f"{name}: no Ingress rule reaches {LIVE_SERVICE}")


def database_of(url: str) -> str:
    return url.split("?")[0].rstrip("/").rsplit("/", 1)[-1]


def resolve_env(c: dict, docs: list[dict], pod: str) -> dict[str, str]:
    objs = index(docs)
    env = {}
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
            continue
        (kind, ref), = e["valueFrom"].items()
        if kind == "fieldRef":
            env[e["name"]] = pod
        elif kind == "configMapKeyRef":
            env[e["name"]] = objs[("ConfigMap", ref["name"])]["data"][ref["key"]]
        else:
            env[e["name"]] = objs[("Secret", ref["name"])]["stringData"][ref["key"]]
    return env


def http_status(port: int, path: str) -> tuple[int, str]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: check\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.decode(errors="replace").partition("\r\n\r\n")
    return int(head.split()[1]), body


# Runs in a fresh network namespace: loopback only, no dependency reachable, no clash.
PROBE_SCRIPT = r"""
ip link set lo up
"$@" > "$LOG" 2>&1 &
pid=$!
echo "$pid" > "$LOG.pid"
wait "$pid"
"""


def run_binary(service: str, binary: Path, env: dict[str, str], dep: dict, log: Path) -> None:
    c = container(dep)
    port = next(p["containerPort"] for p in c["ports"] if p["name"] == "http")
    full_env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LOG": str(log), **env}
    proc = subprocess.Popen(["unshare", "--net", "bash", "-c", PROBE_SCRIPT, "probe", str(binary)],
                            env=full_env, start_new_session=True)
    try:
        listening = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and listening is None:
            time.sleep(0.2)
            for line in log.read_text().splitlines() if log.exists() else []:
                if '"message":"listening"' in line:
                    listening = json.loads(line)
            if proc.poll() is not None:
                break
        if listening is None:
            fail(f"{service}: did not start with its pod's environment:\n{log.read_text() if log.exists() else ''}")
            return
        if listening["port"] != port:
            fail(f"{service}: listens on {listening['port']}, manifests say containerPort {port}")
        read = {k for k in listening if k.isupper()}
        allowed = read | (LIBPQ_ENV if "DATABASE_URL" in read else set())
        unread = sorted(set(env) - allowed - {"LOG", "PATH"})
        if unread:
            fail(f"{service}: the pod sets {unread}, which the binary never reads")
        pid = int(Path(f"{log}.pid").read_text())
        # Probes, from inside the namespace (nsenter into the service's network).
        for which, ok in (("startupProbe", {200}), ("livenessProbe", {200}), ("readinessProbe", {200, 503})):
            path = c[which]["httpGet"]["path"]
            r = subprocess.run(["nsenter", "-t", str(pid), "-n", sys.executable, __file__, "--get",
                                str(port), path], capture_output=True, text=True, timeout=30)
            status = int(r.stdout.split()[0]) if r.returncode == 0 and r.stdout else -1
            if status not in ok:
                fail(f"{service}: {which} GET {path} answered {status}, want {sorted(ok)}")
        r = subprocess.run(["nsenter", "-t", str(pid), "-n", sys.executable, __file__, "--get",
                            str(port), "/metrics"], capture_output=True, text=True, timeout=30)
        exported[service] = metric_names(r.stdout.partition("\n")[2])
        if not r.stdout.startswith("200") or "service_ready" not in exported[service]:
            fail(f"{service}: GET /metrics answered {r.stdout[:200]!r} {r.stderr[-500:]}")
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            fail(f"{service}: exited before SIGTERM:\n{log.read_text()[-2000:]}")
            return
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        text = log.read_text()
        if '"message":"stopped"' not in text:
            fail(f"{service}: did not stop cleanly on SIGTERM:\n{text[-2000:]}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    code = proc.wait()
    if code != 0:
        fail(f"{service}: exit code {code} after SIGTERM")
    print(f"  {service}: port {port}, {len(env)} settings set, each one read, probes answered, exit 0 on SIGTERM")


def check_binaries(render: str, docs: list[dict], bin_dir: Path, tmp: Path,
                   only: set[str] | None = None) -> None:
    print(f"== manifests vs binaries (Kustomize {render})")
    for name, dep in sorted(api_deployments(docs).items()):
        if only is not None and name not in only:
            continue
        env = resolve_env(container(dep), docs, f"{name}-check")
        for setting, owners in DATABASES.items():
            want = owners.get(name)
            if want and setting in env and database_of(env[setting]) != want:
                fail(f"{name}: {setting} names database {database_of(env[setting])}, not {want}")
            elif want and setting not in env:
                fail(f"{name}: {setting} (database {want}) is not set")
        run_binary(name, bin_dir / name / name, env, dep, tmp / f"{render}-{name}.log")
    if only is not None:
        return
    # The init Job: each schema's `migrate` (PostgreSQL has no database here: it must fail
    # to connect (1), not refuse the command or its settings (2)).
    job = index(docs)[("Job", "postgresql-init")]
    migrated = {}
    for migrate in job["spec"]["template"]["spec"]["containers"]:
        if migrate.get("args") != ["migrate"]:
            continue
        service = migrate["image"].split(":")[0].split("/")[-1]
        env = {"PATH": "/usr/bin:/bin", **resolve_env(migrate, docs, "init")}
        migrated[service] = database_of(env.get("DATABASE_URL", ""))
        r = subprocess.run(["unshare", "--net", str(bin_dir / service / service), *migrate["args"]],
                           env=env, capture_output=True, text=True, timeout=60)
        if r.returncode != 1 or "configuration error" in r.stderr:
            fail(f"init Job: `{service} {' '.join(migrate['args'])}` exited {r.returncode}: {r.stderr.strip()[-500:]}")
        else:
            print(f"  init Job: `{service} migrate` ({migrated[service]}) is a command the binary knows")
    if migrated != MIGRATIONS:
        fail(f"init Job migrates {migrated}, want {MIGRATIONS}")


# ---- Redis Cluster

def cluster_objects(docs: list[dict]) -> dict[tuple[str, str], dict]:
    return {(d["kind"], d["metadata"]["name"]): d for d in docs
            if d["metadata"].get("labels", {}).get("app") in CLUSTER_APPS}


def egress_apps(policy: dict, port: int) -> set[str]:
    return {peer.get("podSelector", {}).get("matchLabels", {}).get("app")
            for rule in policy["spec"].get("egress", []) if port in [p.get("port") for p in rule.get("ports", [])]
            for peer in rule["to"]}


def check_cluster_init(docs: list[dict], tmp: Path) -> None:
    """The rendered nodes and init Job, run: six Debian redis-servers in an empty network
    namespace (127.0.0.1-6, port 6379), each with the ConfigMap's cluster.conf and the
    StatefulSet's arguments; the readiness probe (on 127.0.0.1) ready before the cluster
    exists; the init Job's script makes three primaries with a replica each and
    cluster_state:ok, a second run creates nothing; the probe ready, then unready once two
    of the three primaries are gone (no majority: slots unserved)."""
    print("== Redis Cluster: the init Job's script and the readiness probe, against six redis-servers")
    objs = index(docs)
    conf = objs[("ConfigMap", "redis-cluster-config")]["data"]["cluster.conf"]
    script = objs[("ConfigMap", "redis-cluster-init")]["data"]["create-cluster.sh"]
    node = objs[("StatefulSet", "redis-cluster")]["spec"]["template"]["spec"]["containers"][0]
    probe_argv = node["readinessProbe"]["exec"]["command"]
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    if compose["redis-cluster-0"]["healthcheck"]["test"][1:] != probe_argv[2:]:
        fail("compose.yaml redis-cluster-0: its health check is not the StatefulSet's readiness probe")
    if not any(v.startswith("./helm/count-system/redis-cluster/create-cluster.sh:")
               for v in compose["redis-cluster-init"]["volumes"]):
        fail("compose.yaml redis-cluster-init: does not run the init Job's create-cluster.sh")
    holder, ns = empty_netns()
    servers = []
    hosts = [f"127.0.0.{i}" for i in range(1, 7)]

    def cli(host: str, *args: str) -> str:
        r = subprocess.run(ns + ["redis-cli", "-h", host, *args], capture_output=True, text=True, timeout=10)
        return r.stdout.replace("\r", "") if r.returncode == 0 else ""

    def ready() -> bool:
        return subprocess.run(ns + probe_argv, capture_output=True, timeout=10).returncode == 0

    def create() -> subprocess.CompletedProcess:
        return subprocess.run(ns + ["sh", "-c", script], env={"PATH": os.environ["PATH"], "NODES": " ".join(hosts)},
                              capture_output=True, text=True, timeout=120)

    try:
        for i, host in enumerate(hosts):
            d = tmp / "redis-cluster" / str(i)
            d.mkdir(parents=True, exist_ok=True)
            (d / "cluster.conf").write_text(conf.replace("/data", str(d)) + f"bind {host}\n")
            args = [a.replace("$(POD_IP)", host).replace("$(POD_NAME)", f"redis-cluster-{i}").replace("$(POD_NAMESPACE)", NAMESPACE) for a in node["command"][2:]]
            servers.append(subprocess.Popen(ns + ["redis-server", str(d / "cluster.conf"), *args],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        if not all(until(lambda h=h: cli(h, "ping").strip() == "PONG", 20) for h in hosts):
            fail("Redis Cluster: the nodes did not start with the rendered cluster.conf and arguments")
            return
        if not ready():
            fail("Redis Cluster: the readiness probe says unready before the init Job ran (the rollout would wait forever)")
        first = create()

        def shape() -> tuple[list, set, list]:  # the first node's view, once the roles have spread
            nodes = [line.split() for line in cli(hosts[0], "cluster", "nodes").splitlines() if line]
            return (nodes, {n[0] for n in nodes if "master" in n[2] and len(n) > 8},
                    sorted(n[3] for n in nodes if "slave" in n[2]))
        until(lambda: len(shape()[2]) == 3, 20)
        nodes, masters, replicas = shape()
        second = create()
        if first.returncode != 0 or "cluster_state:ok" not in first.stdout:
            fail(f"Redis Cluster: the init Job's script failed: {(first.stdout + first.stderr).strip()[-500:]}")
        elif len(masters) != 3 or sorted(masters) != replicas:
            fail(f"Redis Cluster: want 3 primaries with one replica each, cluster nodes says: {nodes}")
        elif second.returncode != 0 or "nothing to create" not in second.stdout:
            fail(f"Redis Cluster: the init Job's second run is not a no-op: {(second.stdout + second.stderr).strip()[-500:]}")
        elif not ready():
            fail("Redis Cluster: the readiness probe says unready in a working cluster")
        else:
            # Two of the three primaries gone: their slots are unserved, the cluster fails.
            others = [h for h in hosts[1:] if cli(h, "role").startswith("master")]
            for h in others[:2]:
                servers[hosts.index(h)].kill()
            if not until(lambda: not ready(), 30):
                fail("Redis Cluster: the readiness probe still says ready with two primaries gone")
            else:
                print("  nodes ready before the cluster exists; the script made 3 primaries + 3 replicas, "
                      "cluster_state:ok; its second run created nothing; unready once two primaries are gone")
    finally:
        for p in [*servers, holder]:
            p.kill()
            p.wait()


def check_redis_cluster(renders: dict[str, list[dict]]) -> None:
    """The cluster renderings: every service that kept or read values (REDIS_URL,
    REDIS_REPLICA_URL in the base) now has the seed list and the groups instead, may reach
    the nodes and is let in by them; the single Redis is gone; the seed list names the
    StatefulSet's pods; the chart's own nodes are the component's objects."""
    base = api_deployments(renders["kustomize-base"])
    users = {n for n, d in base.items() if SINGLE_REDIS_ENV & set(env_sources(container(d)))}
    for name in CLUSTER_RENDERS:
        if name not in renders:
            continue
        print(f"== Redis Cluster in {name}")
        docs = renders[name]
        objs = index(docs)
        conf = app_config(docs)["data"]
        for n, d in api_deployments(docs).items():
            env = env_sources(container(d))
            if SINGLE_REDIS_ENV & set(env):
                fail(f"{name} {n}: still sets {sorted(SINGLE_REDIS_ENV & set(env))}")
            want = n in users
            if want != ("REDIS_CLUSTER_NODES" in env and "REDIS_CLUSTER_GROUPS" in env):
                fail(f"{name} {n}: REDIS_CLUSTER_NODES/GROUPS {'missing' if want else 'set, but it never used Redis values'}")
            policy = objs.get(("NetworkPolicy", n))
            if want and policy and "redis-cluster" not in egress_apps(policy, 6379):
                fail(f"{name} {n}: its NetworkPolicy does not let it reach redis-cluster:6379")
            if policy and egress_apps(policy, 6379) & {"redis-value", "redis-replica"}:
                fail(f"{name} {n}: its NetworkPolicy still leads to the single Redis")
        for kind in ("StatefulSet", "Service"):
            for gone in ("redis-value", "redis-replica"):
                if (kind, gone) in objs:
                    fail(f"{name}: {kind}/{gone} is still rendered beside the cluster")
        if not {"redis.cluster.nodes", "redis.cluster.groups"} <= set(conf):
            fail(f"{name}: the services' ConfigMap lacks redis.cluster.nodes / redis.cluster.groups")
            continue
        if name == "helm-cluster":
            continue  # the nodes come from the component (deploy.sh --infrastructure)
        sts = objs.get(("StatefulSet", "redis-cluster"))
        if sts is None:
            fail(f"{name}: no StatefulSet redis-cluster")
            continue
        pods = {f"redis-cluster-{i}.{sts['spec']['serviceName']}:6379" for i in range(sts["spec"]["replicas"])}
        if set(conf["redis.cluster.nodes"].split(",")) != pods or len(pods) != 6:
            fail(f"{name}: seed list {conf['redis.cluster.nodes']} is not the six pods {sorted(pods)}")
        policy = objs[("NetworkPolicy", "redis-cluster")]
        allowed = {p["podSelector"]["matchLabels"]["app"] for rule in policy["spec"]["ingress"]
                   for p in rule["from"] if 6379 in [q["port"] for q in rule["ports"]]}
        if allowed != users | CLUSTER_APPS:
            fail(f"{name}: redis-cluster lets in {sorted(allowed)}, want {sorted(users | CLUSTER_APPS)}")
        script = objs[("ConfigMap", "redis-cluster-init")]["data"]["create-cluster.sh"]
        if "--cluster-replicas 1" not in script:
            fail(f"{name}: the init Job does not create one replica per primary")
    if {"kustomize-cluster", "helm-cluster-create"} <= set(renders):
        k, h = cluster_objects(renders["kustomize-cluster"]), cluster_objects(renders["helm-cluster-create"])
        if set(k) != set(h):
            fail(f"Redis Cluster: kustomize-cluster and helm-cluster-create differ in objects: {sorted(set(k) ^ set(h))}")
        for key in sorted(set(k) & set(h)):
            a, b = ({f: v for f, v in o.items() if f != "metadata"} for o in (k[key], h[key]))
            if a != b:
                fail(f"Redis Cluster: {key[0]}/{key[1]} differs between kustomize-cluster and helm-cluster-create")


# ---- 5. monitoring

def metric_names(text: str) -> set[str]:
    """The series names a /metrics page offers: each family of `# TYPE`, a histogram's three."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()[:4]
            names |= {name + s for s in ("_bucket", "_sum", "_count")} if kind == "histogram" else {name}
    return names


def promql_metrics(expr: str) -> set[str]:
    """Metric names in a PromQL expression; Grafana's variables are put in as values first."""
    expr = re.sub(r"\$__(rate_)?interval", "5m", expr)
    names, stack = set(), [promql_parser.parse(expr)]
    while stack:
        node = stack.pop()
        if type(node).__name__ == "VectorSelector":
            names.add(node.name)
        for attr in ("lhs", "rhs", "expr", "args", "param", "vector_selector"):
            child = getattr(node, attr, None)
            stack += [c for c in (child if isinstance(child, list) else [child])
                     if c is not None and not isinstance(c, (str, int, float))]
    return names


def dashboard_exprs(name: str, dash: dict) -> list[str]:
    """The dashboard's PromQL, after checking its shape."""
    exprs = []
    if not isinstance(dash.get("schemaVersion"), int) or not dash.get("uid") or not dash.get("title"):
        fail(f"{name}: the dashboard lacks schemaVersion, uid or title")
    ds = {"type": "prometheus", "uid": "${datasource}"}
    if not any(v.get("type") == "datasource" and v.get("name") == "datasource"
               for v in dash.get("templating", {}).get("list", [])):
        fail(f"{name}: the dashboard has no datasource variable")
    ids = [p.get("id") for p in dash.get("panels", [])]
    if not ids or len(set(ids)) != len(ids):
        fail(f"{name}: the dashboard's panel ids are missing or repeated: {ids}")
    for p in dash.get("panels", []):
        title = p.get("title")
        if p.get("datasource") != ds or not p.get("targets") or not p.get("gridPos"):
            fail(f"{name}: panel {title!r} is not on the ${{datasource}} variable, or has no targets or place")
        for t in p.get("targets", []):
            if t.get("datasource") != ds or not t.get("refId") or not t.get("expr"):
                fail(f"{name}: panel {title!r}: a target without the datasource variable, refId or expr")
            exprs.append(t.get("expr", ""))
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            m = re.fullmatch(r"label_values\((.*), *\w+\)", v["query"]["query"])
            if not m:
                fail(f"{name}: variable {v['name']}: not label_values(selector, label)")
            else:
                exprs.append(m.group(1))
    return exprs


def check_monitoring(renders: dict[str, list[dict]]) -> None:
    kname, hname = MONITORING_PAIR
    print(f"== monitoring: Kustomize {kname.split('-', 1)[1]} vs Helm {hname.split('-', 1)[1]}, "
          f"metrics vs binaries")
    if promql_parser is None:
        fail("monitoring: the Python module promql_parser (PyPI promql-parser) is missing; "
             "scripts/check-deploy.sh installs it")
        return
    known = set().union(*exported.values()) | SCRAPE_SERIES if exported else set()
    services = set(api_deployments(renders[kname]))
    if set(exported) != services:
        fail(f"monitoring: no /metrics read from {sorted(services - set(exported))}")
    objects = {}
    for name in MONITORING_PAIR:
        docs = renders[name]
        by_kind = {d["kind"]: d for d in docs if d["kind"] in ("ServiceMonitor", "PrometheusRule")}
        cms = [d for d in docs if d["kind"] == "ConfigMap"
               and d["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
        if set(by_kind) != {"ServiceMonitor", "PrometheusRule"} or len(cms) != 1:
            fail(f"{name}: want a ServiceMonitor, a PrometheusRule and one ConfigMap labelled "
                 f"grafana_dashboard: \"1\"; has {sorted(by_kind)} and {len(cms)}")
            return
        (dash_file, dash_text), = cms[0]["data"].items()
        objects[name] = (by_kind["ServiceMonitor"], by_kind["PrometheusRule"], dash_text)
        sm = by_kind["ServiceMonitor"]["spec"]
        want = sm["selector"]["matchLabels"].items()
        picked = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"
                  and want <= d["metadata"].get("labels", {}).items()}
        if set(picked) != services:
            fail(f"{name}: the ServiceMonitor selects {sorted(picked)}, not the services {sorted(services)}")
        for svc, d in picked.items():
            ports = {p.get("name") for p in d["spec"]["ports"]}
            for e in sm["endpoints"]:
                if e["port"] not in ports:
                    fail(f"{name}: the ServiceMonitor scrapes port {e['port']!r}, which Service {svc} lacks")
        policies = {d["metadata"]["name"]: d for d in docs if d["kind"] == "NetworkPolicy"}
        for svc in services:
            rules = policies.get(svc, {}).get("spec", {}).get("ingress", [])
            if svc in policies and not any(
                    f.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
                    == PROMETHEUS_NAMESPACE for r in rules for f in r.get("from", [])):
                fail(f"{name}: the NetworkPolicy of {svc} does not let Prometheus ({PROMETHEUS_NAMESPACE}) in")
        anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
                   for h in re.findall(r"^#+ (.+)$", (ROOT / "docs/OPERATIONS.md").read_text(), re.M)}
        exprs = []
        for group in by_kind["PrometheusRule"]["spec"]["groups"]:
            for rule in group["rules"]:
                exprs.append(rule["expr"])
                url = rule.get("annotations", {}).get("runbook_url", "")
                if "docs/OPERATIONS.md#" not in url or url.rsplit("#", 1)[1] not in anchors:
                    fail(f"{name}: alert {rule.get('alert')}: runbook_url {url!r} is no section of docs/OPERATIONS.md")
        try:
            exprs += dashboard_exprs(f"{name} {dash_file}", json.loads(dash_text))
        except json.JSONDecodeError as e:
            fail(f"{name}: {dash_file} is not JSON: {e}")
        for expr in exprs:
            try:
                unknown = sorted(promql_metrics(expr) - known)
            except ValueError as e:
                fail(f"{name}: PromQL does not parse: {expr!r}: {e}")
                continue
            if unknown:
                fail(f"{name}: {expr.strip()[:80]!r} names {unknown}, which no service exports")
    if len(objects) == 2:
        (ksm, krule, kdash), (hsm, hrule, hdash) = objects[kname], objects[hname]
        if ksm["spec"] != hsm["spec"]:
            fail(f"{kname}/{hname}: the ServiceMonitors differ:\n    {ksm['spec']}\n    {hsm['spec']}")
        strip = lambda spec: re.sub(r'"runbook_url": "[^"]*(docs/OPERATIONS.md#)', r'"runbook_url": "\1',
                                    json.dumps(spec, sort_keys=True))
        if strip(krule["spec"]) != strip(hrule["spec"]):
            fail(f"{kname}/{hname}: the PrometheusRules differ (beyond the runbook_url prefix)")
        if kdash != hdash:
            fail(f"{kname}/{hname}: the Grafana dashboards differ")
    print(f"  {len(known)} metric names from the binaries; alerts and dashboard checked")


def dockerfile_stages(text: str) -> list[str]:
    return re.split(r"(?m)^(?=FROM )", text)[1:]


def check_dockerfiles(docs: list[dict], override: dict[str, str] | None = None) -> None:
    print("== Dockerfiles vs manifests")
    builders = {}
    deps = api_deployments(docs)
    for df in sorted(ROOT.glob("*/Dockerfile")):
        service = df.parent.name
        text = (override or {}).get(service) or df.read_text()
        stages = dockerfile_stages(text)
        builders[service] = stages[0]
        runtime = stages[-1]
        expose = re.search(r"(?m)^EXPOSE (\d+)", runtime)
        user = re.search(r"(?m)^USER (\d+)(?::(\d+))?", runtime)
        entry = re.search(r"(?m)^ENTRYPOINT (\[.*\])", runtime)
        health = re.search(r"(?ms)^HEALTHCHECK .*?CMD (\[.*?\])\s*$", runtime)
        if not (expose and user and entry and health):
            fail(f"{df}: needs EXPOSE, a numeric USER, an exec-form ENTRYPOINT and a HEALTHCHECK")
            continue
        port = int(expose.group(1))
        if json.loads(entry.group(1))[0] != f"/usr/local/bin/{service}":
            fail(f"{df}: ENTRYPOINT does not run {service}")
        hc = " ".join(json.loads(health.group(1)))
        if "/health/live" not in hc or f"${{PORT:-{port}}}" not in hc:
            fail(f"{df}: HEALTHCHECK must GET /health/live on ${{PORT:-{port}}}")
        if service in deps:
            dep = deps.pop(service)
            c = container(dep)
            if port != next(p["containerPort"] for p in c["ports"] if p["name"] == "http"):
                fail(f"{df}: EXPOSE {port} is not the containerPort of {service}")
            if int(user.group(1)) != dep["spec"]["template"]["spec"]["securityContext"]["runAsUser"]:
                fail(f"{df}: USER {user.group(1)} is not runAsUser of {service}")
            if c["image"].split(":")[0].split("/")[-1] != service:
                fail(f"{service}: deployed image {c['image']} is not built from {df}")
        print(f"  {service}: EXPOSE {port}, USER {user.group(1)}, HEALTHCHECK /health/live")
    for missing in deps:
        fail(f"{missing}: deployed, but there is no {missing}/Dockerfile")
    if len(set(builders.values())) > 1:
        fail(f"builder stages differ between Dockerfiles: {sorted(builders)} (they must be identical to share the cache)")


# Set by Kubernetes only: the pod name, and the drain budget compose leaves at its default.
K8S_ONLY_ENV = {"POD_NAME", "SHUTDOWN_TIMEOUT_SECONDS"}


def compose_image(service: dict) -> str:
    """A compose service's image without its tag; `${VAR:-default}` counts as its default."""
    image = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", service.get("image", ""))
    return image.rsplit(":", 1)[0] if ":" in image.split("/")[-1] else image


def check_compose(docs: list[dict], compose: dict | None = None) -> None:
    print("== compose.yaml vs manifests")
    compose = compose if compose is not None else yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    for name, dep in sorted(api_deployments(docs).items()):
        s = services.get(name)
        if s is None:
            fail(f"compose.yaml: no service {name}")
            continue
        c = container(dep)
        port = next(p["containerPort"] for p in c["ports"] if p["name"] == "http")
        if s["image"].split(":")[0] != name:
            fail(f"compose.yaml {name}: image {s['image']} is not {name}")
        if f"{port}:{port}" not in s.get("ports", []):
            fail(f"compose.yaml {name}: does not publish containerPort {port} ({s.get('ports')})")
        want = {e["name"] for e in c["env"]} - K8S_ONLY_ENV - {"ENABLE_DEBUG_ENDPOINTS"}
        got = set(s.get("environment", {}))
        if got != want:
            fail(f"compose.yaml {name}: environment names differ from the pod's: "
                 f"only in compose {sorted(got - want)}, only in the pod {sorted(want - got)}")
        for dep_name, cond in (s.get("depends_on") or {}).items():
            if cond.get("condition") not in ("service_healthy", "service_completed_successfully"):
                fail(f"compose.yaml {name}: starts after {dep_name} is merely started, not healthy or done")
        print(f"  {name}: image, port {port}, {len(got)} settings, health-ordered start")
    job = index(docs)[("Job", "postgresql-init")]
    for m in job["spec"]["template"]["spec"]["containers"]:
        image = m["image"].split(":")[0].split("/")[-1]
        runs = [n for n, s in services.items() if compose_image(s).split("/")[-1] == image
                and s.get("command") == m.get("args")]
        if not runs:
            fail(f"compose.yaml: nothing runs `{image} {' '.join(m.get('args', []))}` as the init Job does")


def run_checks(renders: dict[str, list[dict]], bin_dir: Path, tmp: Path, only: set[str] | None = None,
               files: dict | None = None, binary_renders=("base", "prod"), replica: bool = True) -> None:
    """files: replacements for what is read from the tree ({"dockerfiles": {service: text},
    "compose": parsed compose.yaml}), for the self-test."""
    files = files or {}
    renders = dict(renders)
    secrets = renders.pop("secrets")
    for kname, hname in PAIRS:
        compare(kname, hname, renders[f"kustomize-{kname}"], renders[f"helm-{hname}"])
    for name, docs in renders.items():
        check_invariants(name, docs, name.startswith("kustomize-"))
    check_dockerfiles(renders["kustomize-base"], files.get("dockerfiles"))
    check_compose(renders["kustomize-base"], files.get("compose"))
    if replica:
        check_replica_readiness(renders["kustomize-base"], tmp, files.get("compose"))
    # prod: the Sentinel settings. Not yet the cluster rendering: the binaries read
    # REDIS_CLUSTER_NODES once the client of issue 17 (branch issue17-cluster) is merged.
    for name in binary_renders:
        check_binaries(name, renders[f"kustomize-{name}"] + secrets, bin_dir, tmp, only)
    check_redis_cluster(renders)
    if replica and "kustomize-cluster" in renders:
        check_cluster_init(renders["kustomize-cluster"], tmp)
    check_monitoring(renders)


def deployment(docs: list[dict], name: str) -> dict:
    return api_deployments(docs)[name]


def set_port(docs: list[dict], name: str, port: int) -> None:
    c = container(deployment(docs, name))
    next(p for p in c["ports"] if p["name"] == "http")["containerPort"] = port


def set_probe(docs: list[dict], name: str, which: str, path: str) -> None:
    container(deployment(docs, name))[which]["httpGet"]["path"] = path


def rename_env(docs: list[dict], name: str, old: str, new: str) -> None:
    env = next(e for e in container(deployment(docs, name))["env"] if e["name"] == old)
    env["name"] = new


def drop_namespace(docs: list[dict], kind: str, name: str) -> None:
    next(d for d in docs if (d["kind"], d["metadata"]["name"]) == (kind, name))["metadata"].pop("namespace")


def drop_account(docs: list[dict], kind: str, name: str) -> None:
    d = next(d for d in docs if (d["kind"], d["metadata"]["name"]) == (kind, name))
    d["spec"]["template"]["spec"].pop("serviceAccountName")


def rename_config(docs: list[dict], old: str, new: str) -> None:
    """The ConfigMap and every reference to it."""
    docs[:] = json.loads(json.dumps(docs).replace(f'"{old}"', f'"{new}"'))


# Each: (what changes, renders it changes, the change, Dockerfile texts, the disagreement
# that must be reported). Kustomize base is paired with Helm's default values.
BOTH = ["kustomize-base", "helm-default", "kustomize-prod", "helm-prod"]
def ping_probe(docs: list[dict]) -> None:
    """The Redis replica's readiness probe as it was before issue 15: PING."""
    sts = next(d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "redis-replica")
    sts["spec"]["template"]["spec"]["containers"][0]["readinessProbe"] = {"exec": {"command": ["redis-cli", "ping"]}}


MUTATIONS = [
    ("readiness probe of redis-replica is PING", ["kustomize-base"], ping_probe, None,
     "readinessProbe: {'before the first sync': 'ready'"),
    ("containerPort of dashboard-update-service, Kustomize only", ["kustomize-base"],
     lambda d: set_port(d, LIVE_SERVICE, 3015), None, "ports differs"),
    ("readiness probe path of dashboard-update-service, Helm only", ["helm-default"],
     lambda d: set_probe(d, LIVE_SERVICE, "readinessProbe", "/readyz"), None, "readinessProbe differs"),
    ("env SSE_RETRY_MS of dashboard-update-service renamed, Kustomize only", ["kustomize-base"],
     lambda d: rename_env(d, LIVE_SERVICE, "SSE_RETRY_MS", "SSE_RETRY_MILLIS"), None, "env differs"),
    ("env COUNTINFO_DATABASE_URL of dashboard-provision-service renamed, Helm only", ["helm-default"],
     lambda d: rename_env(d, PAGE_SERVICE, "COUNTINFO_DATABASE_URL", "COUNT_INFO_DATABASE_URL"), None,
     "env differs"),
    # Both renderers agree; the binary is the other side.
    ("containerPort of dashboard-update-service in both renderers, not the binary", BOTH,
     lambda d: set_port(d, LIVE_SERVICE, 3015), None, "listens on 3005, manifests say containerPort 3015"),
    ("liveness probe path of dashboard-update-service in both renderers, not the binary", BOTH,
     lambda d: set_probe(d, LIVE_SERVICE, "livenessProbe", "/healthz"), None,
     "livenessProbe GET /healthz answered 404"),
    ("env SSE_HEARTBEAT_SECONDS of dashboard-update-service renamed in both renderers, not the binary", BOTH,
     lambda d: rename_env(d, LIVE_SERVICE, "SSE_HEARTBEAT_SECONDS", "SSE_HEARTBEAT_S"), None,
     "['SSE_HEARTBEAT_S'], which the binary never reads"),
    ("EXPOSE of dashboard-provision-service, Dockerfile only", [], None,
     {"dockerfiles": {PAGE_SERVICE: (ROOT / PAGE_SERVICE / "Dockerfile").read_text()
                      .replace("EXPOSE 3004", "EXPOSE 3014")}},
     "EXPOSE 3014 is not the containerPort of dashboard-provision-service"),
    ("env SSE_RETRY_MS of dashboard-update-service renamed, compose.yaml only", [], None,
     {"compose": yaml.safe_load((ROOT / "compose.yaml").read_text()
                                .replace("SSE_RETRY_MS:", "SSE_RETRY_MILLIS:"))},
     "only in compose ['SSE_RETRY_MILLIS']"),
    # The defects a real API server showed (issue 15), each put back.
    ("prod: the Sentinel StatefulSet without a namespace (lands in default)", ["kustomize-prod"],
     lambda d: drop_namespace(d, "StatefulSet", "redis-sentinel"), None,
     "StatefulSet/redis-sentinel is in namespace (none: default)"),
    ("Helm: the migrate hook Job without its ServiceAccount", ["helm-default"],
     lambda d: drop_account(d, "Job", "count-migrate"), None,
     "Job/count-migrate runs under the default ServiceAccount"),
    ("Helm: the chart's ConfigMap named app-config, as deploy.sh's", ["helm-default"],
     lambda d: rename_config(d, "services-config", "app-config"), None,
     "the chart creates ConfigMap/app-config, which deploy.sh --infrastructure already applied"),
]


def cluster_read_left_on_replica(docs: list[dict]) -> None:
    policy = index(docs)[("NetworkPolicy", "count-read-service")]
    policy["spec"]["egress"][0]["to"][0]["podSelector"]["matchLabels"]["app"] = "redis-replica"


def edit_monitoring(docs: list[dict], kind: str, change) -> None:
    """Applies change to the spec (or, for the dashboard ConfigMap, the data) of one object."""
    d = next(d for d in docs if d["kind"] == kind
             and (kind != "ConfigMap" or d["metadata"].get("labels", {}).get("grafana_dashboard")))
    key = "data" if kind == "ConfigMap" else "spec"
    d[key] = json.loads(change(json.dumps(d[key])))


def shut_out_prometheus(docs: list[dict], name: str) -> None:
    policy = next(d for d in docs if (d["kind"], d["metadata"]["name"]) == ("NetworkPolicy", name))
    policy["spec"]["ingress"] = policy["spec"]["ingress"][:1]


MONITORING = list(MONITORING_PAIR)
MUTATIONS += [
    ("an alert on a metric no binary exports (outbox_size), in both renderers", MONITORING,
     lambda d: edit_monitoring(d, "PrometheusRule", lambda t: t.replace("outbox_backlog{", "outbox_size{")), None,
     "names ['outbox_size'], which no service exports"),
    ("a dashboard query of a metric no binary exports, in both renderers", MONITORING,
     lambda d: edit_monitoring(d, "ConfigMap", lambda t: t.replace("consumer_lag_max_partition", "consumer_lag_max")),
     None, "names ['consumer_lag_max'], which no service exports"),
    ("an alert's threshold changed, Helm only", ["helm-full"],
     lambda d: edit_monitoring(d, "PrometheusRule", lambda t: t.replace("> 100000", "> 200000", 1)), None,
     "the PrometheusRules differ"),
    ("the ServiceMonitor scrapes a port named metrics, Kustomize only", ["kustomize-monitoring"],
     lambda d: edit_monitoring(d, "ServiceMonitor", lambda t: t.replace('"port": "http"', '"port": "metrics"')),
     None, "scrapes port 'metrics', which Service"),
    ("Prometheus shut out of dashboard-update-service, Helm only", ["helm-full"],
     lambda d: shut_out_prometheus(d, LIVE_SERVICE), None,
     f"the NetworkPolicy of {LIVE_SERVICE} does not let Prometheus"),
    ("cluster: the read service's way out left at redis-replica", ["kustomize-cluster"],
     cluster_read_left_on_replica, None,
     "count-read-service: its NetworkPolicy does not let it reach redis-cluster:6379"),
    ("cluster: the chart's nodes with 5 replicas, Helm only", ["helm-cluster-create"],
     lambda d: index(d)[("StatefulSet", "redis-cluster")]["spec"].update(replicas=5), None,
     "StatefulSet/redis-cluster differs between kustomize-cluster and helm-cluster-create"),
]


def self_test(render_dir: Path, bin_dir: Path) -> int:
    """Every one-sided change must be reported as the disagreement it is; an unchanged run
    (the control) must report none. The binaries run in the base rendering only."""
    renders = {p.stem: load(p) for p in sorted(render_dir.glob("*.yaml"))}
    # What every binary exported in the run before (the self-test runs two of them).
    exported.update({k: set(v) for k, v in json.loads((render_dir / "metrics-exported.json").read_text()).items()})
    cases = [("nothing (control)", [], None, None, None)] + MUTATIONS
    caught = 0
    for what, targets, change, files, expect in cases:
        mutated = copy.deepcopy(renders)
        for target in targets:
            change(mutated[target])
        errors.clear()
        only = {s for s in (LIVE_SERVICE, PAGE_SERVICE) if s in what} or {LIVE_SERVICE, PAGE_SERVICE}
        with contextlib.redirect_stdout(io.StringIO()):
            run_checks(mutated, bin_dir, render_dir, only, files, binary_renders=("base",),
                       replica="redis-replica" in what)
        found = list(errors)
        hit = next((e for e in found if expect in e), None) if expect else None
        ok = not found if expect is None else hit is not None
        caught += ok
        shown = (hit or (found[0] if found else "no disagreement")).splitlines()[0]
        print(f"  {'ok  ' if ok else 'FAIL'} {what}: {shown}")
    errors.clear()
    print(f"\nself-test: {caught} of {len(cases)} cases as expected")
    return 0 if caught == len(cases) else 1


def main(render_dir: Path, bin_dir: Path) -> int:
    renders = {p.stem: load(p) for p in sorted(render_dir.glob("*.yaml"))}
    run_checks(renders, bin_dir, render_dir)
    (render_dir / "metrics-exported.json").write_text(json.dumps({k: sorted(v) for k, v in exported.items()}))
    if errors:
        print(f"\n{len(errors)} disagreement(s)")
        return 1
    print("\ndeploy agreement: everything agrees")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--get":  # helper run inside a namespace
        status, body = http_status(int(sys.argv[2]), sys.argv[3])
        print(status)
        print(body, end="")
        sys.exit(0)
    if len(sys.argv) == 4 and sys.argv[1] == "--self-test":
        sys.exit(self_test(Path(sys.argv[2]), Path(sys.argv[3])))
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
