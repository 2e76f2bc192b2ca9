import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT, repoPath } from './support/apps.js';
import { parseYamlFile } from './support/manifest.js';

/** Every YAML file under a directory, recursively. */
function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(entry) ? [path] : [];
  });
}

const files = [...yamlFiles(repoPath('dapr')), ...yamlFiles(repoPath('k8s'))].map((f) => relative(REPO_ROOT, f));

describe('YAML under dapr/ and k8s/', () => {
  it('finds the deployment files', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'dapr/dapr.yaml',
        'dapr/components/pubsub.yaml',
        'dapr/components-local/pubsub.yaml',
        'k8s/base/kustomization.yaml',
        'k8s/overlays/minikube/kustomization.yaml',
        'k8s/overlays/cloud/kustomization.yaml',
      ]),
    );
  });

  it.each(files)('%s parses (no YAML errors, warnings or duplicate keys)', (file) => {
    const docs = parseYamlFile(repoPath(file));
    expect(docs.length).toBeGreaterThan(0);
  });
});
