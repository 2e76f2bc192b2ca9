// Refreshes the vendored CRD schemas (deploy-tests/crds/*.json) from the operators' CRD files:
//   node deploy-tests/crds/extract-schemas.mjs <out.json> <crd.yaml>=<where it came from> ...
// e.g. for Strimzi, the packaging/install/cluster-operator/04*-Crd-*.yaml of the release tag; for Dapr,
// charts/dapr/crds/*.yaml of the release tag. Keeps only each served version's openAPIV3Schema.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

const [out, ...inputs] = process.argv.slice(2);
const result = {};
for (const [file, source] of inputs.map((i) => i.split('='))) {
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const crd = doc.toJS();
    if (crd?.kind !== 'CustomResourceDefinition') continue;
    for (const v of crd.spec.versions) {
      if (!v.served) continue;
      result[`${crd.spec.group}/${v.name} ${crd.spec.names.kind}`] = { source, schema: v.schema.openAPIV3Schema };
    }
  }
}
writeFileSync(out, JSON.stringify(result) + '\n');
console.log(Object.keys(result), readFileSync(out).length);
