import { readFileSync } from 'node:fs';
import { repoPath } from './support/apps.js';
import { dockerfileProblems, parseDockerfile } from './support/dockerfile.js';

const text = readFileSync(repoPath('Dockerfile'), 'utf8');

describe('Dockerfile', () => {
  it('has a manifests, a build and a runtime stage from a pinned Node 20 image', () => {
    const { globalArgs, stages } = parseDockerfile(text);
    expect(stages.map((s) => s.name)).toEqual(['manifests', 'build', 'runtime']);
    expect(globalArgs.get('NODE_IMAGE')).toMatch(/^node:20\.\d+\.\d+-\w+-slim$/);
  });

  it('passes the image checks (pinned bases, non-root numeric USER, HEALTHCHECK on /healthz, prod deps only)', () => {
    expect(dockerfileProblems(text)).toEqual([]);
  });

  it('runs as the uid the Kubernetes securityContext expects', () => {
    const runtime = parseDockerfile(text).stages.at(-1)!;
    expect(runtime.instructions.filter((i) => i.keyword === 'USER').map((i) => i.args)).toEqual(['10001:10001']);
  });

  it('keeps dependencies, builds and secrets out of the build context', () => {
    const ignored = readFileSync(repoPath('.dockerignore'), 'utf8').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['**/node_modules', '**/dist', '.git', '**/.env']));
  });
});
