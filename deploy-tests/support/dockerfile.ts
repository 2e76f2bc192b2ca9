import { parseImage } from './kustomize.js';

/** One Dockerfile instruction after joining continuation lines. */
export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

/** A build stage: its FROM and the instructions up to the next FROM. */
export interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

/**
 * Parses a Dockerfile the way BuildKit splits it: parser directives, `#` comments, lines continued with
 * the escape character (comment lines inside a continuation are dropped). Heredocs are refused: the
 * checks below would misread them.
 */
export function parseDockerfile(text: string): { globalArgs: Map<string, string | undefined>; stages: Stage[] } {
  const lines = text.split('\n');
  let escapeChar = '\\';
  let i = 0;
  for (; i < lines.length; i += 1) {
    const directive = /^#\s*(\w+)\s*=\s*(\S+)\s*$/.exec(lines[i]!);
    if (!directive) break;
    if (directive[1]!.toLowerCase() === 'escape') escapeChar = directive[2]!;
  }
  const instructions: Instruction[] = [];
  let current: { text: string; line: number } | undefined;
  for (; i < lines.length; i += 1) {
    const raw = lines[i]!;
    const trimmed = raw.trim();
    if (trimmed.startsWith('#') || (trimmed === '' && !current)) continue;
    const continued = trimmed.endsWith(escapeChar);
    const body = continued ? trimmed.slice(0, -escapeChar.length) : trimmed;
    current = current ? { ...current, text: `${current.text} ${body}` } : { text: body, line: i + 1 };
    if (!continued) {
      const match = /^(\S+)\s*(.*)$/.exec(current.text.trim());
      if (match) {
        if (/<<-?\w/.test(match[2]!))
          throw new Error(`line ${current.line}: heredocs are not supported by deploy-tests/support/dockerfile.ts`);
        instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.replace(/\s+/g, ' ').trim(), line: current.line });
      }
      current = undefined;
    }
  }
  const globalArgs = new Map<string, string | undefined>();
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const parts = ins.args.split(' ').filter((p) => !p.startsWith('--'));
      stages.push({ image: parts[0] ?? '', name: parts[1]?.toUpperCase() === 'AS' ? parts[2] : undefined, instructions: [] });
    } else if (stages.length === 0) {
      if (ins.keyword !== 'ARG') throw new Error(`line ${ins.line}: only ARG may precede the first FROM`);
      const [name, value] = ins.args.split('=', 2) as [string, string | undefined];
      globalArgs.set(name.trim(), value?.trim());
    } else {
      stages[stages.length - 1]!.instructions.push(ins);
    }
  }
  return { globalArgs, stages };
}

const expand = (value: string, args: Map<string, string | undefined>): string =>
  value.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, a, b) => args.get(a ?? b) ?? whole);

/**
 * What the image must get right: pinned base images, a multi-stage build whose runtime stage installs
 * production dependencies only, runs as a numeric non-root user, exposes a port and has a HEALTHCHECK on
 * /healthz that does not need curl.
 */
export function dockerfileProblems(text: string): string[] {
  let parsed: ReturnType<typeof parseDockerfile>;
  try {
    parsed = parseDockerfile(text);
  } catch (error) {
    return [`Dockerfile: ${(error as Error).message}`];
  }
  const { globalArgs, stages } = parsed;
  const problems: string[] = [];
  if (stages.length < 2) problems.push('Dockerfile: needs a multi-stage build (build stage + runtime stage)');
  const stageNames = new Set<string>();
  for (const stage of stages) {
    const image = expand(stage.image, globalArgs);
    if (!stageNames.has(image)) {
      const { tag, digest } = parseImage(image);
      if (image.includes('$')) problems.push(`Dockerfile: FROM ${stage.image} uses an ARG without a default`);
      else if (!digest && (!tag || tag === 'latest'))
        problems.push(`Dockerfile: FROM ${image} must pin a tag other than latest (or a digest)`);
    }
    if (stage.name) stageNames.add(stage.name);
  }
  const runtime = stages[stages.length - 1];
  if (!runtime) return problems;
  const all = (keyword: string) => runtime.instructions.filter((i) => i.keyword === keyword);
  const users = all('USER');
  const user = users[users.length - 1]?.args.split(':')[0];
  if (!user) problems.push('Dockerfile: the runtime stage must set USER (non-root)');
  else if (!/^\d+$/.test(user) || Number(user) === 0)
    problems.push(`Dockerfile: USER ${user} must be a numeric non-root uid (Kubernetes runAsNonRoot can only verify numbers)`);
  const healthchecks = all('HEALTHCHECK');
  const healthcheck = healthchecks[healthchecks.length - 1]?.args ?? '';
  if (!healthcheck || /^NONE\b/i.test(healthcheck)) problems.push('Dockerfile: the runtime stage needs a HEALTHCHECK');
  else {
    if (!healthcheck.includes('/healthz')) problems.push('Dockerfile: HEALTHCHECK must probe /healthz');
    // Production serves /healthz on the admin listener only (packages/runtime resolveAdminPort).
    if (!healthcheck.includes('ADMIN_PORT')) problems.push('Dockerfile: HEALTHCHECK must probe the admin port (ADMIN_PORT)');
    if (/\b(curl|wget)\b/.test(healthcheck)) problems.push('Dockerfile: HEALTHCHECK must not need curl/wget (not in the slim image)');
  }
  if (all('EXPOSE').length === 0) problems.push('Dockerfile: the runtime stage must EXPOSE the service port');
  const cmd = all('CMD').pop()?.args ?? '';
  if (!cmd.startsWith('[')) problems.push('Dockerfile: CMD must use the exec form (signals reach node)');
  if (
    !stages.every(
      (s, index) => index === 0 || s.instructions.some((i) => i.keyword === 'ARG' && /^SERVICE\b/.test(i.args)) || !usesService(s),
    )
  ) {
    problems.push('Dockerfile: a stage uses the SERVICE build-arg without declaring ARG SERVICE');
  }
  if (!stages.some((s) => s.instructions.some((i) => i.keyword === 'RUN' && /\btsc -b\b/.test(i.args))))
    problems.push('Dockerfile: no stage compiles with tsc -b');
  const runtimeInstall = runtime.instructions.filter((i) => i.keyword === 'RUN' && /\bnpm (ci|install)\b/.test(i.args));
  if (runtimeInstall.length === 0 || !runtimeInstall.every((i) => i.args.includes('--omit=dev')))
    problems.push('Dockerfile: the runtime stage must install with --omit=dev');
  if (runtime.instructions.some((i) => i.keyword === 'COPY' && !i.args.includes('--from='))) {
    // Only manifests may come from the context; sources and builds come from the build stages.
    const fromContext = runtime.instructions.filter((i) => i.keyword === 'COPY' && !i.args.includes('--from='));
    problems.push(`Dockerfile: runtime stage copies from the build context (line ${fromContext[0]!.line}); copy from a build stage`);
  }
  return problems;
}

const usesService = (s: Stage): boolean => s.instructions.some((i) => /\$\{?SERVICE\b/.test(i.args));
