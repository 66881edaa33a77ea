#!/usr/bin/env bash
# deploy/kubernetes: the example overlay (and the base) render offline with kubectl kustomize,
# every object validates against the Kubernetes API's JSON schemas (kubernetes-models, bundled:
# no network; tools/k8s-validate), and the parts that must agree do: probes and scrape
# annotations on admin_listen's port, the Services on listen's, both containers on one code
# volume at the path of the site's root, the stop timings (preStop, shutdown_timeout,
# process_control_timeout, terminationGracePeriodSeconds), the security context, the revision
# file and the Secret's files where wharf.ini reads them. The ConfigMap's wharf.ini passes
# wharf --test (its paths moved under $T), its php-fpm.conf passes php-fpm -t.
. "$(dirname "$0")/lib.sh"

SRC=$(cd "$(dirname "$0")/../.." && pwd)
K8S=$SRC/deploy/kubernetes
VAL=$SRC/tools/k8s-validate
command -v kubectl >/dev/null || skip_all "kubectl is not installed"
command -v node >/dev/null || skip_all "node is not installed"
[ -d "$VAL/node_modules/kubernetes-models" ] ||
    skip_all "tools/k8s-validate has no node_modules: ./build.sh test installs them (npm ci)"
python3 -c 'import yaml' 2>/dev/null || skip_all "python3-yaml is not installed"

kubectl kustomize "$K8S/overlays/example" >"$T/example.yaml" 2>"$T/kustomize.err"
ok $? "kubectl kustomize renders the example overlay"
kubectl kustomize "$K8S/base" >"$T/base.yaml" 2>>"$T/kustomize.err"
ok $? "... and the base"
is "$(grep -ci warning "$T/kustomize.err")" "0" "... without deprecation warnings"

out=$(cd "$VAL" && node validate.mjs "$T/example.yaml" 2>&1)
ok $? "every object of the example validates against the API schemas"
echo "$out" | sed 's/^/# /'
kinds=$(echo "$out" | awk '{print $2}' | sort | tr '\n' ' ')
is "$kinds" "apps/v1/Deployment autoscaling/v2/HorizontalPodAutoscaler policy/v1/PodDisruptionBudget v1/ConfigMap v1/ConfigMap v1/Namespace v1/Secret v1/Service v1/Service " \
    "the example has a Deployment, two Services, two ConfigMaps, a Secret, a PDB and an HPA"
(cd "$VAL" && node validate.mjs "$T/base.yaml" >/dev/null 2>&1)
ok $? "every object of the base validates"

# the validator does reject what the API would: a port that is not a number, a bad PDB
sed 's/containerPort: 8080/containerPort: http/' "$T/example.yaml" >"$T/bad.yaml"
bad=$(cd "$VAL" && node validate.mjs "$T/bad.yaml" 2>&1)
ok $((!$?)) "the validator refuses a containerPort that is not an integer"
like "$bad" "not ok apps/v1/Deployment wharf: .*containerPort must be integer" "... naming the field"
printf 'apiVersion: v1\nkind: Nonsense\nmetadata:\n  name: x\n' >"$T/bad2.yaml"
(cd "$VAL" && node validate.mjs "$T/bad2.yaml" >/dev/null 2>&1)
ok $((!$?)) "... and a kind it has no schema for"

# the facts, one "ok"/"not ok" line each, from the rendered example
python3 - "$T/example.yaml" "$T" >"$T/facts.tap" <<'PY'
import base64, configparser, os, re, sys, yaml

docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
out = sys.argv[2]
by_kind = {}
for d in docs:
    by_kind.setdefault(d["kind"], []).append(d)

def check(cond, name):
    print(("ok " if cond else "not ok ") + name)

def ini(text):
    p = configparser.ConfigParser(inline_comment_prefixes=None, comment_prefixes=(";", "#"),
                                  interpolation=None, strict=False)
    p.read_string(text)
    return p

def seconds(v):
    m = re.fullmatch(r"(\d+)(ms|s|m|h)?", v.strip())
    n, unit = int(m.group(1)), m.group(2) or "s"
    return n / 1000 if unit == "ms" else n * {"s": 1, "m": 60, "h": 3600}[unit]

dep = by_kind["Deployment"][0]
pod = dep["spec"]["template"]
spec = pod["spec"]
cons = {c["name"]: c for c in spec["containers"]}
check(set(cons) == {"wharf", "php-fpm"}, "the pod runs wharf and php-fpm")
vols = {v["name"]: v for v in spec["volumes"]}
cms = {c["metadata"]["name"]: c for c in by_kind["ConfigMap"]}
cfg_vol = next(v for v in spec["volumes"] if "configMap" in v and "wharf.ini" in
               cms[v["configMap"]["name"]]["data"])
cfg = cms[cfg_vol["configMap"]["name"]]["data"]
w = ini(cfg["wharf.ini"])
site = next(s for s in w.sections() if s.startswith("site "))
root = w[site]["root"]
admin_port = int(w["server"]["admin_listen"].rsplit(":", 1)[1])
listen_port = int(w["server"]["listen"].rsplit(":", 1)[1])

def port_of(c, p):
    if isinstance(p, int):
        return p
    return next(x["containerPort"] for x in c.get("ports", []) if x["name"] == p)

wh = cons["wharf"]
check(wh["image"].endswith("/wharf:latest") and cons["php-fpm"]["image"].endswith("/wharf-php-fpm:latest"),
      "images: wharf and wharf-php-fpm (renamed by the overlay)")
for kind, path in (("livenessProbe", "/livez"), ("readinessProbe", "/readyz"), ("startupProbe", "/livez")):
    g = wh[kind]["httpGet"]
    check(g["path"] == path and port_of(wh, g["port"]) == admin_port,
          f"wharf's {kind} is GET {path} on admin_listen's port {admin_port}")
ann = pod["metadata"]["annotations"]
check(ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port") == str(admin_port)
      and ann.get("prometheus.io/path") == "/metrics",
      "Prometheus scrape annotations: /metrics on admin_listen's port")
check(any(p["containerPort"] == listen_port for p in wh["ports"]), f"wharf's http port is listen's ({listen_port})")

# one code volume, at the same path in both containers, holding the site's root
mounts = {n: {m["name"]: m for m in c["volumeMounts"]} for n, c in cons.items()}
code = [m for m in mounts["wharf"].values() if "emptyDir" in vols[m["name"]]
        and root.startswith(m["mountPath"].rstrip("/") + "/")]
check(len(code) == 1, f"the site's root {root} is on an emptyDir volume in wharf's container")
if code:
    pm = mounts["php-fpm"].get(code[0]["name"])
    check(pm is not None and pm["mountPath"] == code[0]["mountPath"],
          f"php-fpm mounts the same volume at the same path ({code[0]['mountPath']})")
tmp = w["server"].get("temp_dir", "/tmp")
check(any(m["mountPath"] == tmp and "emptyDir" in vols[m["name"]] for m in mounts["wharf"].values()),
      f"temp_dir {tmp} is an emptyDir (the root filesystem is read-only)")

# stopping: preStop, then SIGTERM and wharf's drain; php-fpm outlives it
def pre_stop(c):
    cmd = c["lifecycle"]["preStop"]["exec"]["command"]
    return int(cmd[1]) if cmd[0] == "sleep" else 0
grace = spec["terminationGracePeriodSeconds"]
drain = seconds(w["server"]["shutdown_timeout"])
fpm_conf = cfg["php-fpm.conf"]
pct = seconds(re.search(r"^process_control_timeout\s*=\s*(\S+)", fpm_conf, re.M).group(1))
check(grace > pre_stop(wh) + drain,
      f"grace {grace}s > wharf's preStop {pre_stop(wh)}s + shutdown_timeout {drain:g}s")
fp = pre_stop(cons["php-fpm"])
check(fp >= pre_stop(wh) + drain, f"php-fpm's preStop {fp}s covers wharf's preStop and drain")
check(grace > fp + pct, f"grace {grace}s > php-fpm's preStop {fp}s + process_control_timeout {pct:g}s")
m = re.search(r"^listen\s*=\s*(\S+)", fpm_conf, re.M)
check(m and w[site]["fastcgi"] == m.group(1) and
      any(p["containerPort"] == int(m.group(1).rsplit(":", 1)[1]) for p in cons["php-fpm"]["ports"]),
      "wharf's fastcgi is php-fpm's listen address")

psc = spec.get("securityContext", {})
for n, c in cons.items():
    sc = c.get("securityContext", {})
    check((sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True) and sc.get("readOnlyRootFilesystem") is True
          and sc.get("capabilities", {}).get("drop") == ["ALL"] and sc.get("allowPrivilegeEscalation") is False,
          f"{n}: runAsNonRoot, readOnlyRootFilesystem, no privilege escalation, drop ALL")
    r = c.get("resources", {})
    check("cpu" in r.get("requests", {}) and "memory" in r.get("requests", {}) and "memory" in r.get("limits", {}),
          f"{n}: cpu and memory requests, a memory limit")

# files wharf.ini names are mounted where it reads them
def mounted_file(path):
    d, f = os.path.split(path)
    for m in mounts["wharf"].values():
        if m["mountPath"] == d and "subPath" not in m:
            return vols[m["name"]], f
    return None, None
rv, rk = mounted_file(w[site]["git_revision_file"])
check(rv is not None and "configMap" in rv and rk in cms[rv["configMap"]["name"]]["data"],
      "git_revision_file is a key of a ConfigMap mounted as a directory (the kubelet updates it)")
rcm = cms[rv["configMap"]["name"]] if rv else {"metadata": {"name": ""}}
check(not re.search(r"-[a-z0-9]{10}$", rcm["metadata"]["name"]),
      "the revision ConfigMap keeps its name (no hash suffix: a new revision switches pods in place)")
secrets = {s["metadata"]["name"]: s for s in by_kind["Secret"]}
for key in ("git_secret_file", "git_env_file"):
    v, k = mounted_file(w[site][key])
    check(v is not None and "secret" in v and k in secrets[v["secret"]["secretName"]]["data"],
          f"{key} is a key of the mounted Secret")
check("git_secret" not in w[site], "no secret inline in the ConfigMap")

labels = pod["metadata"]["labels"]
matches = lambda sel: all(labels.get(k) == v for k, v in sel.items())
svcs = by_kind["Service"]
normal = [s for s in svcs if s["spec"].get("clusterIP") != "None"]
headless = [s for s in svcs if s["spec"].get("clusterIP") == "None"]
check(len(normal) == 1 and len(headless) == 1, "a Service and a headless Service")
for s in svcs:
    check(matches(s["spec"]["selector"]) and all(port_of(wh, p["targetPort"]) == listen_port for p in s["spec"]["ports"]),
          f"Service {s['metadata']['name']} selects the pods and targets listen's port")
peers = w[site].get("git_peers", "").split()
hl = headless[0] if headless else {"metadata": {"name": ""}, "spec": {"ports": [{"port": 0}]}}
check(peers == [f"{hl['metadata']['name']}:{hl['spec']['ports'][0]['port']}"] and
      hl["spec"].get("publishNotReadyAddresses") is True,
      "git_peers names the headless Service and its port (every pod, ready or not)")
check(w[site].get("git_hook", "").startswith("/"), "git_peers has a git_hook to reach")
pdb = by_kind["PodDisruptionBudget"][0]["spec"]
check(matches(pdb["selector"]["matchLabels"]) and "maxUnavailable" in pdb, "the PDB covers the pods")
hpa = by_kind["HorizontalPodAutoscaler"][0]["spec"]
check(hpa["scaleTargetRef"]["kind"] == "Deployment" and hpa["scaleTargetRef"]["name"] == dep["metadata"]["name"]
      and hpa["metrics"][0]["resource"]["name"] == "cpu" and hpa["minReplicas"] >= 2,
      "the HPA scales the Deployment on CPU, from at least 2 replicas")

# the files, for the wharf --test below
os.makedirs(f"{out}/cm", exist_ok=True)
open(f"{out}/cm/wharf.ini", "w").write(cfg["wharf.ini"])
open(f"{out}/cm/php-fpm.conf", "w").write(fpm_conf)
for s in secrets.values():
    for k, v in s["data"].items():
        os.makedirs(f"{out}/secret", exist_ok=True)
        open(f"{out}/secret/{k}", "wb").write(base64.b64decode(v))
open(f"{out}/cm/revision", "w").write(rcm["data"][rk] if rv else "")
print(f"# paths: root={root} revision={w[site]['git_revision_file']}")
PY
ok $? "the facts script ran"
while read -r line; do
    case $line in
    "ok "*) ok 0 "${line#ok }" ;;
    "not ok "*) ok 1 "${line#not ok }" ;;
    *) echo "$line" ;;
    esac
done <"$T/facts.tap"

# the ConfigMap's wharf.ini, its paths moved under $T, passes wharf --test
mkdir -p "$T/code" "$T/tmp" "$T/etc/revision" "$T/etc/secrets"
cp "$T/cm/revision" "$T/etc/revision/revision"
cp "$T/secret/"* "$T/etc/secrets/"
sed -e "s|/var/lib/wharf|$T/code|g" -e "s|/etc/wharf|$T/etc|g" -e "s|^temp_dir = /tmp$|temp_dir = $T/tmp|" \
    "$T/cm/wharf.ini" >"$T/wharf.ini"
out=$("$WHARF" --test --config "$T/wharf.ini" 2>&1)
ok $? "the ConfigMap's wharf.ini passes wharf --test (paths under \$T)"
echo "$out" | sed 's/^/# /' | head -5
rm "$T/etc/secrets/webhook-secret"
out=$("$WHARF" --test --config "$T/wharf.ini" 2>&1)
ok $((!$?)) "... and fails without the Secret's webhook-secret"
like "$out" "git_secret_file '$T/etc/secrets/webhook-secret'" "... naming the file"

fpm=$(find_fpm) || skip_all "php-fpm is not installed"
# in the pod php-fpm runs as uid 10001; started as root (as here) it wants a pool user
asroot=()
[ "$(id -u)" = 0 ] && asroot=(-e '/^\[www\]/a user = nobody')
sed -e "s|^error_log = .*|error_log = $T/fpm.log|" -e "/^\[global\]/a pid = $T/fpm.pid" \
    "${asroot[@]}" "$T/cm/php-fpm.conf" >"$T/php-fpm.conf"
out=$("$fpm" -t -y "$T/php-fpm.conf" 2>&1)
ok $? "the ConfigMap's php-fpm.conf passes php-fpm -t"
echo "$out" | sed 's/^/# /' | head -3
finish
