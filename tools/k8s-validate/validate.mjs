// validate.mjs FILE...: check every document of rendered Kubernetes YAML (kubectl kustomize's
// output) against the Kubernetes API's JSON schemas that kubernetes-models bundles: no network.
// Prints "ok KIND NAME" or "not ok KIND NAME: errors" per document; exits 1 if any is not ok
// or has an apiVersion/kind it has no schema for.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

// "apps/v1" -> "apps/v1", "v1" -> "v1", "policy/v1" -> "policy/v1"; kubernetes-models lays its
// models out as GROUP/VERSION/KIND.js, the core group as v1/KIND.js
async function modelFor(apiVersion, kind) {
    if (!/^[a-z0-9.]+(\/[a-z0-9]+)?$/.test(apiVersion) || !/^[A-Za-z]+$/.test(kind))
        return null;
    try {
        const mod = await import(`kubernetes-models/${apiVersion}/${kind}`);
        return mod[kind] ?? null;
    } catch {
        return null;
    }
}

let bad = 0;
for (const file of process.argv.slice(2)) {
    for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
        if (doc.errors.length) {
            console.log(`not ok ${file}: YAML: ${doc.errors[0].message}`);
            bad++;
            continue;
        }
        const obj = doc.toJSON();
        if (obj === null)
            continue;
        const what = `${obj.apiVersion}/${obj.kind} ${obj.metadata?.name}`;
        // kustomize wraps a Secret's long base64 values over lines; the API server's decoder
        // (Go's encoding/base64) skips line breaks, the schema's "byte" format does not
        if (obj.kind === "Secret" && obj.data && typeof obj.data === "object")
            for (const k of Object.keys(obj.data))
                if (typeof obj.data[k] === "string")
                    obj.data[k] = obj.data[k].replace(/[\r\n]/g, "");
        const Model = await modelFor(String(obj.apiVersion), String(obj.kind));
        if (!Model) {
            console.log(`not ok ${what}: no schema for this apiVersion and kind`);
            bad++;
            continue;
        }
        try {
            new Model(obj).validate();
            console.log(`ok ${what}`);
        } catch (e) {
            console.log(`not ok ${what}: ${e.message}`);
            bad++;
        }
    }
}
process.exit(bad ? 1 : 0);
