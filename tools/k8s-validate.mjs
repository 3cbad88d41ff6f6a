#!/usr/bin/env node
// tools/k8s-validate.mjs PATH... — validates Kubernetes manifests offline
// against the API's schemas, as the API server would refuse them:
//
//   - each YAML document (js-yaml) must be a kind this script knows the
//     schema of (kubernetes-models: the API's OpenAPI schemas compiled to
//     validators, no cluster and no network), and pass it: types, required
//     fields, formats, enumerations;
//   - no field the schema does not define. The compiled validators do not
//     reject unknown fields (the schemas leave them open, and kubectl's
//     client-side check is what refuses them), so every object is handed to
//     the validator behind a Proxy that records which of its properties the
//     validator looked at: a validator reads every property its schema
//     defines (and enumerates the keys of maps such as labels), so a
//     property present in the manifest but never read is one the schema
//     does not have — `replicaz`, or `periodSecond` in a probe;
//   - between documents: a Deployment's or StatefulSet's selector matches
//     its pod template; a Service's and a PodDisruptionBudget's selector
//     matches some pod template of the set; an autoscaler's target exists;
//     every Secret, ConfigMap and key a pod refers to is one of the set
//     (`20-secrets.example.yaml` gives the Secrets' layout).
//
// PATH is a .yaml file or a directory (its *.yaml files). Prints one line
// per problem, `FILE: KIND/NAME: /json/path: what`, then a summary; exits
// 0 when there is none, 1 when there are, 2 on a usage or read error.
// tests/t7003-deploy-kubernetes.sh runs it on deploy/kubernetes and on a
// broken copy.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';

const paths = process.argv.slice(2);
if (paths.length === 0) {
    console.error('usage: k8s-validate.mjs PATH...');
    process.exit(2);
}

// apiVersion → the name prefix of kubernetes-models' compiled schemas:
// "v1" is the core group, "apps/v1" → IoK8sApiAppsV1, "policy/v1" →
// IoK8sApiPolicyV1, "autoscaling/v2" → IoK8sApiAutoscalingV2.
function schemaName (apiVersion, kind) {
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['core', apiVersion];
    const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);
    if (!/^[a-z0-9]+$/.test(group) || !/^v[0-9]+((alpha|beta)[0-9]+)?$/.test(version)
        || !/^[A-Z][A-Za-z]+$/.test(kind))
        return null;
    return `IoK8sApi${cap(group)}${cap(version)}${kind}`;
}

// Wraps value (recursively) in Proxies that note every property read into
// reads: path → {value, seen}.
function watched (value, path, reads) {
    if (value === null || typeof value !== 'object')
        return value;
    const seen = new Set();
    reads.set(path, { value, seen });
    const copy = Array.isArray(value)
        ? value.map((v, i) => watched(v, `${path}/${i}`, reads))
        : Object.fromEntries(Object.entries(value).map(([k, v]) => [k, watched(v, `${path}/${k}`, reads)]));
    const note = (k) => { if (typeof k === 'string') seen.add(k); };
    return new Proxy(copy, {
        get (t, k, r) { note(k); return Reflect.get(t, k, r); },
        has (t, k) { note(k); return Reflect.has(t, k); },
        getOwnPropertyDescriptor (t, k) { note(k); return Reflect.getOwnPropertyDescriptor(t, k); },
        ownKeys (t) { Reflect.ownKeys(t).forEach(note); return Reflect.ownKeys(t); },
    });
}

const problems = [];
const docs = [];
function problem (doc, path, what) {
    const id = doc ? `${doc.kind ?? '?'}/${doc.metadata?.name ?? '?'}` : '-';
    problems.push(`${doc?.__file ?? '?'}: ${id}: ${path || '/'}: ${what}`);
}

function files (path) {
    let st;
    try { st = statSync(path); } catch (e) { console.error(`k8s-validate: ${path}: ${e.message}`); process.exit(2); }
    if (!st.isDirectory())
        return [path];
    return readdirSync(path).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml')).sort().map((f) => join(path, f));
}

for (const file of paths.flatMap(files)) {
    let loaded;
    try {
        loaded = yaml.loadAll(readFileSync(file, 'utf8'));
    } catch (e) {
        problems.push(`${file}: -: /: not YAML: ${e.message.split('\n')[0]}`);
        continue;
    }
    for (const doc of loaded) {
        if (doc === null || doc === undefined)
            continue;
        if (typeof doc !== 'object' || Array.isArray(doc)) {
            problems.push(`${file}: -: /: a document that is not an object`);
            continue;
        }
        Object.defineProperty(doc, '__file', { value: file, enumerable: false });
        docs.push(doc);
    }
}

for (const doc of docs) {
    const name = typeof doc.apiVersion === 'string' && typeof doc.kind === 'string'
        ? schemaName(doc.apiVersion, doc.kind) : null;
    let validate;
    try {
        if (name)
            ({ validate } = await import(`kubernetes-models/_schemas/${name}`));
    } catch {
        validate = null;
    }
    if (!validate) {
        problem(doc, '/', `no schema for apiVersion ${JSON.stringify(doc.apiVersion)} kind ${JSON.stringify(doc.kind)}`);
        continue;
    }
    if (typeof doc.metadata?.name !== 'string' || doc.metadata.name === '')
        problem(doc, '/metadata/name', 'required');
    const reads = new Map();
    if (!validate(watched(doc, '', reads))) {
        for (const e of validate.errors ?? [])
            problem(doc, e.instancePath, `${e.keyword} ${JSON.stringify(e.params)}`);
    }
    for (const [path, { value, seen }] of reads) {
        if (Array.isArray(value))
            continue;
        for (const key of Object.keys(value)) {
            if (!seen.has(key))
                problem(doc, `${path}/${key}`, 'unknown field');
        }
    }
}

// ---- between documents ----------------------------------------------------
const ns = (d) => d.metadata?.namespace ?? 'default';
const find = (kind, namespace, name) =>
    docs.find((d) => d.kind === kind && ns(d) === namespace && d.metadata?.name === name);
const matches = (selector, labels) =>
    Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
const workloads = docs.filter((d) => ['Deployment', 'StatefulSet', 'DaemonSet', 'Job'].includes(d.kind));

for (const d of workloads) {
    const labels = d.spec?.template?.metadata?.labels;
    const selector = d.spec?.selector?.matchLabels;
    if (d.kind !== 'Job' && (!selector || !matches(selector, labels)))
        problem(d, '/spec/selector', 'does not match the pod template\'s labels');
    if (d.kind === 'StatefulSet') {
        const svc = find('Service', ns(d), d.spec?.serviceName);
        if (!svc || svc.spec?.clusterIP !== 'None')
            problem(d, '/spec/serviceName', `no headless Service ${JSON.stringify(d.spec?.serviceName)} in the set`);
    }
    const pod = d.spec?.template?.spec ?? {};
    const secretKeys = (n) => { const s = find('Secret', ns(d), n); return s && { ...s.data, ...s.stringData }; };
    const mapKeys = (n) => { const c = find('ConfigMap', ns(d), n); return c && { ...c.data, ...c.binaryData }; };
    (pod.volumes ?? []).forEach((v, i) => {
        if (v.secret && !v.secret.optional && !secretKeys(v.secret.secretName))
            problem(d, `/spec/template/spec/volumes/${i}`, `no Secret ${v.secret.secretName} in the set`);
        if (v.configMap && !v.configMap.optional && !mapKeys(v.configMap.name))
            problem(d, `/spec/template/spec/volumes/${i}`, `no ConfigMap ${v.configMap.name} in the set`);
    });
    (pod.containers ?? []).forEach((c, ci) => {
        const at = `/spec/template/spec/containers/${ci}`;
        const vols = new Set((pod.volumes ?? []).map((v) => v.name));
        (c.volumeMounts ?? []).forEach((m, i) => {
            if (!vols.has(m.name))
                problem(d, `${at}/volumeMounts/${i}`, `no volume ${m.name}`);
        });
        (c.envFrom ?? []).forEach((e, i) => {
            if (e.secretRef && !e.secretRef.optional && !secretKeys(e.secretRef.name))
                problem(d, `${at}/envFrom/${i}`, `no Secret ${e.secretRef.name} in the set`);
            if (e.configMapRef && !e.configMapRef.optional && !mapKeys(e.configMapRef.name))
                problem(d, `${at}/envFrom/${i}`, `no ConfigMap ${e.configMapRef.name} in the set`);
        });
        (c.env ?? []).forEach((e, i) => {
            const ref = e.valueFrom?.secretKeyRef;
            if (ref && !ref.optional && !(secretKeys(ref.name) ?? {})[ref.key])
                problem(d, `${at}/env/${i}`, `no key ${ref.key} in a Secret ${ref.name} of the set`);
            const cref = e.valueFrom?.configMapKeyRef;
            if (cref && !cref.optional && !(mapKeys(cref.name) ?? {})[cref.key])
                problem(d, `${at}/env/${i}`, `no key ${cref.key} in a ConfigMap ${cref.name} of the set`);
        });
        const ports = new Set((c.ports ?? []).map((p) => p.name));
        for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
            const port = c[probe]?.httpGet?.port;
            if (typeof port === 'string' && !ports.has(port))
                problem(d, `${at}/${probe}/httpGet/port`, `no container port named ${port}`);
        }
    });
}
const podLabels = workloads.map((w) => [ns(w), w.spec?.template?.metadata?.labels ?? {}]);
for (const d of docs) {
    if (d.kind === 'Service' && d.spec?.selector
        && !podLabels.some(([n, l]) => n === ns(d) && matches(d.spec.selector, l)))
        problem(d, '/spec/selector', 'selects no pod template of the set');
    if (d.kind === 'PodDisruptionBudget'
        && !podLabels.some(([n, l]) => n === ns(d) && matches(d.spec?.selector?.matchLabels, l)))
        problem(d, '/spec/selector', 'selects no pod template of the set');
    if (d.kind === 'HorizontalPodAutoscaler') {
        const t = d.spec?.scaleTargetRef ?? {};
        if (!find(t.kind, ns(d), t.name))
            problem(d, '/spec/scaleTargetRef', `no ${t.kind} ${t.name} in the set`);
    }
}

for (const p of problems)
    console.log(p);
console.log(`k8s-validate: ${docs.length} documents, ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
process.exit(problems.length ? 1 : 0);
