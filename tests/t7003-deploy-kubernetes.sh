#!/usr/bin/env bash
# deploy/kubernetes/, validated offline (no cluster) by tools/k8s-validate.mjs
# against the Kubernetes API schemas of the kubernetes-models npm package
# (package.json):
# - every manifest passes: schema (types, required fields, unknown fields)
#   and the references between documents;
# - the set has what the issue asks: a Deployment, an autoscaler and a
#   disruption budget per service; the gateways as a StatefulSet behind a
#   headless Service (workers reach every gateway by name) and a Service
#   for HTTP; /readyz and /healthz probes; the Secrets' layout; the
#   workers' endpoint lists naming every gateway replica; only settings
#   the programs know;
# - the validator can fail: a broken copy (a misspelt field, a string for
#   an integer, a missing Secret key, a selector that selects nothing) is
#   refused with each problem named.
. "$(dirname "$0")/lib/suite.sh"
suite_init

[[ -d $SUITE_ROOT/node_modules/kubernetes-models && -d $SUITE_ROOT/node_modules/js-yaml ]] \
    || t_skip "node_modules/kubernetes-models or js-yaml missing (npm ci: package.json)"
command -v node >/dev/null || t_skip "node missing (deploy/local/deps.sh test)"
dir=$SUITE_ROOT/deploy/kubernetes
validate () { node "$SUITE_ROOT/tools/k8s-validate.mjs" "$@" 2>&1; }

out=$(validate "$dir")
t_is "k8s-validate deploy/kubernetes: status 0" "$?" 0 || t_diag "$out"
t_like "  no problem" "$out" "^k8s-validate: [0-9]+ documents, 0 problems$"

# What the set holds, as kind/name lines (and a few fields) from the
# validator's own parser.
report=$(cd "$SUITE_ROOT" && node --input-type=module - "$dir" <<'JS'
import { readFileSync, readdirSync } from 'node:fs';
import yaml from 'js-yaml';
const dir = process.argv[2];
for (const f of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort())
    for (const d of yaml.loadAll(readFileSync(`${dir}/${f}`, 'utf8'))) {
        if (!d) continue;
        console.log(`DOC ${d.kind}/${d.metadata.name}`);
        const c = d.spec?.template?.spec?.containers?.[0];
        if (c) {
            console.log(`CMD ${d.metadata.name} ${c.command.join(' ')}`);
            for (const p of ['readinessProbe', 'livenessProbe'])
                if (c[p]) console.log(`PROBE ${d.metadata.name} ${p} ${c[p].httpGet?.path}`);
            for (const e of c.env ?? []) console.log(`SETTING ${e.name}`);
        }
        if (d.kind === 'StatefulSet') console.log(`STS ${d.metadata.name} ${d.spec.serviceName} ${d.spec.replicas}`);
        if (d.kind === 'Service') console.log(`SVC ${d.metadata.name} ${d.spec.clusterIP ?? '-'} ${d.spec.ports.map((p) => p.port).join(',')}`);
        if (d.kind === 'HorizontalPodAutoscaler') console.log(`HPA ${d.spec.scaleTargetRef.kind}/${d.spec.scaleTargetRef.name}`);
        for (const k of Object.keys(d.data ?? {})) console.log(`SETTING ${k}`);
        for (const k of Object.keys(d.stringData ?? {})) if (k.startsWith('SWITCHBOARD_')) console.log(`SETTING ${k}`);
        if (d.kind === 'ConfigMap') console.log(`BROKER ${d.data.SWITCHBOARD_BROKER}`);
    }
JS
)
for svc in auth tenant billing usage; do
    t_like "$svc: a Deployment running $svc-svc, an autoscaler on it, a disruption budget" "$report" \
        "DOC Deployment/$svc"$'\n'"CMD $svc $svc-svc"$'\n'".*HPA Deployment/$svc"$'\n'"DOC PodDisruptionBudget/$svc"
done
t_like "the gateways: a StatefulSet under the headless Service gateway-bus" "$report" "STS gateway gateway-bus 2"
t_like "  gateway-bus: headless, broker and event ports" "$report" "SVC gateway-bus None 5555,5556,5557"
t_like "  gateway: HTTP on port 80" "$report" "SVC gateway - 80"
t_like "  readiness on /readyz" "$report" "PROBE gateway readinessProbe /readyz"
t_like "  liveness on /healthz" "$report" "PROBE gateway livenessProbe /healthz"
t_like "  a disruption budget" "$report" "DOC PodDisruptionBudget/gateway"
t_unlike "the workers have no HTTP probe" "$report" "PROBE (auth|tenant|billing|usage) "
for s in switchboard-curve-gateway switchboard-curve-allow switchboard-curve-auth switchboard-curve-tenant \
         switchboard-curve-billing switchboard-curve-usage switchboard-jwt switchboard-database \
         switchboard-app switchboard-stripe; do
    t_like "Secret layout: $s" "$report" "DOC Secret/$s"$'\n'
done
t_like "the ConfigMap" "$report" "DOC ConfigMap/switchboard-config"
# Every gateway replica is in the workers' broker list, by its stable name.
replicas=$(awk '/^STS gateway / { print $4 }' <<<"$report")
broker=$(awk '/^BROKER / { print $2 }' <<<"$report")
want=$(for ((i = 0; i < replicas; i++)); do printf 'tcp://gateway-%d.gateway-bus:5555,' "$i"; done)
t_is "SWITCHBOARD_BROKER names each of the $replicas gateway pods" "$broker" "${want%,}"
known=$("$SB_BIN/gateway" --help 2>&1)
unknown=()
for name in $(awk '/^SETTING / { print $2 }' <<<"$report" | sort -u); do
    [[ $name =~ ^SWITCHBOARD_(AUTH|TENANT|BILLING|USAGE)_DATABASE_URL$ ]] \
        && name='SWITCHBOARD_<SERVICE>_DATABASE_URL'
    grep -qF "  $name " <<<"$known" || unknown+=("$name")
done
t_is "every SWITCHBOARD_ setting named is one gateway --help lists" "${unknown[*]}" ""

# The validator can fail.
bad=$SUITE_TMP/kubernetes
cp -r "$dir" "$bad"
sed -i '0,/  replicas: 4/s//  replicaz: 4/' "$bad/41-tenant.yaml"
sed -i '0,/            periodSeconds: 5/s//            periodSecond: 5/' "$bad/30-gateway.yaml"
sed -i '0,/  replicas: 2/s//  replicas: "two"/' "$bad/42-billing.yaml"
sed -i 's/                  key: usage$/                  key: usages/' "$bad/43-usage.yaml"
sed -i '/^kind: PodDisruptionBudget/,$ s/app.kubernetes.io\/name: auth/app.kubernetes.io\/name: authn/' "$bad/40-auth.yaml"
out=$(validate "$bad")
t_is "a broken copy: status 1" "$?" 1
t_like "  an unknown field is named" "$out" "41-tenant.yaml: Deployment/tenant: /spec/replicaz: unknown field"
t_like "  one deep in a probe too" "$out" "StatefulSet/gateway: /spec/template/spec/containers/0/readinessProbe/periodSecond: unknown field"
t_like "  a string for an integer" "$out" "Deployment/billing: /spec/replicas: type"
t_like "  a key missing from a Secret" "$out" "Deployment/usage: .*no key usages in a Secret switchboard-database"
t_like "  a budget that selects no pod" "$out" "PodDisruptionBudget/auth: /spec/selector: selects no pod template"
t_like "  five problems in all" "$out" "k8s-validate: [0-9]+ documents, 5 problems"
printf 'apiVersion: v1\nkind: Nonsense\nmetadata: {name: x}\n' >"$SUITE_TMP/odd.yaml"
out=$(validate "$SUITE_TMP/odd.yaml")
t_like "a kind without a schema is refused, not skipped" "$out" "no schema for apiVersion \"v1\" kind \"Nonsense\""
t_done
