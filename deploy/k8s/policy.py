"""The rules quire's Kubernetes manifests must keep (run by validate.sh, with PyYAML).

- every workload runs as non-root (uid 10001) with a read-only root filesystem, no privilege
  escalation, all capabilities dropped, and has CPU and memory requests and limits;
- volumes are emptyDir scratch space only (no PVC, hostPath, NFS: nothing shared), mounted at
  /tmp and /data;
- every Deployment: liveness probe on /health, readiness probe on /ready; the API's on its
  8080 port, workers' and schedulers' on the port of QUIRE_HEALTH_BIND (8081), set in the pod;
  every Deployment sets QUIRE_HEALTH_BIND 8081 and names that port `health` (Prometheus
  scrapes /metrics there; the API's public port serves them only with a token);
- terminationGracePeriodSeconds is above QUIRE_SHUTDOWN_GRACE_SECS (ConfigMap);
- settings come from the ConfigMap quire-config and the Secret quire-secrets; the secret
  variables are never in the ConfigMap;
- the worker Deployment has 2 replicas; the migrations are a Job running `migrate`.
"""

import sys

import yaml

SECRET_KEYS = {"DATABASE_URL", "REDIS_URL", "QUIRE_S3__ACCESS_KEY_ID", "QUIRE_S3__SECRET_ACCESS_KEY",
               "QUIRE_SECRETS__KEK"}
errors = []


def check(cond, msg):
    if not cond:
        errors.append(msg)


docs = [d for f in sys.argv[1:] for d in yaml.safe_load_all(open(f)) if d]
by_kind = {}
for d in docs:
    by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d

config = by_kind["ConfigMap"]["quire-config"]["data"]
secret = by_kind["Secret"]["quire-secrets"]
secret_keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
check(secret_keys == SECRET_KEYS, f"Secret keys {sorted(secret_keys)} != {sorted(SECRET_KEYS)}")
check(not SECRET_KEYS & set(config), f"secrets in the ConfigMap: {SECRET_KEYS & set(config)}")
grace = int(config.get("QUIRE_SHUTDOWN_GRACE_SECS", "30"))

workloads = list(by_kind.get("Deployment", {}).values()) + list(by_kind.get("Job", {}).values())
check(len(by_kind.get("Deployment", {})) == 3, "three Deployments: api, worker, scheduler")
check(len(by_kind.get("Job", {})) == 1, "one Job: migrate")

for w in workloads:
    name = w["metadata"]["name"]
    pod = w["spec"]["template"]["spec"]
    psc = pod.get("securityContext", {})
    check(psc.get("runAsNonRoot") is True, f"{name}: runAsNonRoot")
    check(psc.get("runAsUser") == 10001, f"{name}: runAsUser 10001 (the image's quire user)")
    for v in pod.get("volumes", []):
        kinds = set(v) - {"name"}
        check(kinds == {"emptyDir"}, f"{name}: volume {v['name']} is {kinds}, only emptyDir allowed")
    (c,) = pod["containers"]
    sc = c.get("securityContext", {})
    check(sc.get("readOnlyRootFilesystem") is True, f"{name}: readOnlyRootFilesystem")
    check(sc.get("allowPrivilegeEscalation") is False, f"{name}: allowPrivilegeEscalation false")
    check(sc.get("capabilities", {}).get("drop") == ["ALL"], f"{name}: drop ALL capabilities")
    res = c.get("resources", {})
    for part in ("requests", "limits"):
        for r in ("cpu", "memory"):
            check(r in res.get(part, {}), f"{name}: resources.{part}.{r}")
    mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
    check(mounts == {"/tmp", "/data"}, f"{name}: mounts {mounts}, want /tmp and /data (emptyDir)")
    refs = [e.get("configMapRef", e.get("secretRef", {})).get("name") for e in c.get("envFrom", [])]
    check(refs == ["quire-config", "quire-secrets"], f"{name}: envFrom {refs}")
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    check(not SECRET_KEYS & set(env), f"{name}: secret values inline in env")
    role = c["args"][0]

    if w["kind"] == "Job":
        check(role == "migrate", f"{name}: the Job runs `migrate`, not {role}")
        check(pod.get("restartPolicy") in ("Never", "OnFailure"), f"{name}: restartPolicy")
        continue

    tgp = pod.get("terminationGracePeriodSeconds", 30)
    check(tgp > grace, f"{name}: terminationGracePeriodSeconds {tgp} <= QUIRE_SHUTDOWN_GRACE_SECS {grace}")
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    health_port = int(env.get("QUIRE_HEALTH_BIND", ":0").rsplit(":", 1)[1])
    check(health_port == 8081, f"{name}: QUIRE_HEALTH_BIND port {health_port}, want 8081")
    check(ports.get("health") == 8081, f"{name}: a container port `health` 8081 (metrics)")
    if role == "api":
        want_port = int(config["QUIRE_BIND"].rsplit(":", 1)[1])
    else:
        check("QUIRE_HEALTH_BIND" in env, f"{name}: QUIRE_HEALTH_BIND set for `{role}`")
        want_port = int(env.get("QUIRE_HEALTH_BIND", ":0").rsplit(":", 1)[1])
        check(want_port == 8081, f"{name}: health port {want_port}, want 8081")
    for probe, path in (("livenessProbe", "/health"), ("readinessProbe", "/ready"),
                        ("startupProbe", "/health")):
        get = c.get(probe, {}).get("httpGet")
        check(get is not None, f"{name}: {probe} httpGet")
        if get:
            port = ports.get(get["port"], get["port"])
            check(get["path"] == path, f"{name}: {probe} path {get['path']}, want {path}")
            check(port == want_port, f"{name}: {probe} port {port}, want {want_port}")
    if role == "worker":
        check(w["spec"]["replicas"] == 2, f"{name}: 2 replicas")

api_service = by_kind.get("Service", {}).get("quire-api")
check(api_service is not None, "a Service for the API")
if api_service:
    check(api_service["spec"]["selector"]
          == by_kind["Deployment"]["quire-api"]["spec"]["selector"]["matchLabels"],
          "the API Service selects the API pods")

for e in errors:
    print(f"policy: FAILED: {e}", file=sys.stderr)
if errors:
    sys.exit(1)
print(f"policy: {len(workloads)} workloads, {len(docs)} documents: every rule holds")
