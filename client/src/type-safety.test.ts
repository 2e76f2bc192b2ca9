/**
 * The generated types are a contract the compiler enforces (client/test-fixtures):
 * - an operation selecting a field the API schema lacks fails codegen, naming the field;
 * - code reading a field its operation did not select fails tsc (TS2339), naming the field;
 * - the valid counterparts generate and typecheck, byte-identically on a re-run.
 * Both run the real tools with the same configuration as `npm run codegen`.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = join(ROOT, 'client', 'test-fixtures');
const CODEGEN_BIN = join(ROOT, 'node_modules', '@graphql-codegen', 'cli', 'esm', 'bin.js');
const run = promisify(execFile);

/** Runs the codegen CLI on `test-fixtures/<fixture>/*.graphql`; never throws. */
async function codegen(fixture: string): Promise<{ ok: boolean; output: string }> {
  // As a developer runs it: without Jest's VM flag, and without NODE_ENV=test (which makes the CLI
  // print only a summary instead of the validation errors).
  const { NODE_OPTIONS: _vmFlag, NODE_ENV: _test, ...env } = process.env;
  try {
    const { stdout, stderr } = await run(process.execPath, [CODEGEN_BIN, '--config', 'client/test-fixtures/codegen.ts'], {
      cwd: ROOT,
      env: { ...env, FIXTURE: fixture },
    });
    return { ok: true, output: stdout + stderr };
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    return { ok: false, output: stdout + stderr };
  }
}

/** tsc (strict, NodeNext, as the repo compiles) on the fixture files; returns the diagnostics per file. */
function typecheck(files: string[]): Map<string, { code: number; message: string }[]> {
  const base = ts.readConfigFile(join(ROOT, 'tsconfig.base.json'), ts.sys.readFile).config as { compilerOptions: object };
  const overrides = { composite: false, declaration: false, declarationMap: false };
  const { options } = ts.convertCompilerOptionsFromJson({ ...base.compilerOptions, ...overrides }, ROOT);
  const program = ts.createProgram(files, { ...options, noEmit: true });
  expect(program.getOptionsDiagnostics()).toEqual([]);
  const describe = (d: ts.Diagnostic) => ({ code: d.code, message: ts.flattenDiagnosticMessageText(d.messageText, '\n') });
  return new Map(files.map((file) => [file, ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map(describe)]));
}

const generated = (fixture: string) =>
  Object.fromEntries(readdirSync(join(FIXTURES, '.out', fixture)).map((f) => [f, readFileSync(join(FIXTURES, '.out', fixture, f))]));

beforeAll(() => rmSync(join(FIXTURES, '.out'), { recursive: true, force: true }));

describe('an operation selecting a field the schema lacks', () => {
  it('fails codegen, naming the field and where it is', async () => {
    const result = await codegen('missing-field');
    expect(result.ok).toBe(false);
    expect(result.output).toContain('Cannot query field "assignee" on type "Task"');
    expect(result.output).toMatch(/missing-field\/operation\.graphql:6:5/);
  });
});

describe('a valid operation', () => {
  const USAGE = join(FIXTURES, 'valid', 'usage.ts');
  const MISUSE = join(FIXTURES, 'valid', 'misuse.ts');
  let first: Record<string, Buffer>;
  let diagnostics: Map<string, { code: number; message: string }[]>;

  beforeAll(async () => {
    const result = await codegen('valid');
    expect(result.ok).toBe(true);
    first = generated('valid');
    diagnostics = typecheck([USAGE, MISUSE]);
  }, 30_000);

  it('generates byte-identical output on a re-run', async () => {
    expect(Object.keys(first).sort()).toEqual(['gql.ts', 'graphql.ts', 'index.ts', 'persisted-documents.json']);
    expect((await codegen('valid')).ok).toBe(true);
    expect(generated('valid')).toEqual(first);
  });

  it('typechecks code that reads only what it selected', () => {
    expect(diagnostics.get(USAGE)).toEqual([]);
  });

  it('fails tsc for code reading a field the operation did not select', () => {
    const errors = diagnostics.get(MISUSE)!;
    expect(errors).toHaveLength(1);
    expect(errors[0]!.code).toBe(2339);
    expect(errors[0]!.message).toBe("Property 'dueAt' does not exist on type '{ id: string; title: string; priority: Priority; }'.");
  });
});
