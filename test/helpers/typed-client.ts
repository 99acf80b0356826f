// Compiles a typed openapi-fetch client against generated OpenAPI types with tsc, then imports it: a frontend's build, in small.
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';

const ROOT = join(import.meta.dirname, '..', '..');

// What a frontend writes: one typed call, its result read through the generated types.
const CLIENT = `
import createClient from 'openapi-fetch';
import type { components, paths } from './schema.js';

type Status = components['schemas']['Batch']['status'];

export async function listCompleted(baseUrl: string, token: string) {
  const client = createClient<paths>({ baseUrl });
  const { data, error, response } = await client.GET('/v3/batches', {
    params: { query: { limit: 2, status: 'completed', created_after: '2024-01-01 00:00:00+00:00' } },
    headers: { Authorization: \`Bearer \${token}\` },
  });
  if (error !== undefined) return { problemCode: error.code };
  const statuses: Status[] = data.data.map((batch) => batch.status);
  const nextCursor: string | null | undefined = data.next_cursor;
  return { statuses, nextCursor, requestId: response.headers.get('X-Request-ID') };
}
`;

// Each misuse must be a compile error; an unused @ts-expect-error is one too, so loose types fail the build.
const MISUSE = `
import createClient from 'openapi-fetch';
import type { paths } from './schema.js';

const client = createClient<paths>({ baseUrl: 'http://127.0.0.1' });
// @ts-expect-error status is processing, completed or error
void client.GET('/v3/batches', { params: { query: { status: 'done' } } });
// @ts-expect-error limit is a number
void client.GET('/v3/batches', { params: { query: { limit: '5' } } });
// @ts-expect-error there is no such parameter
void client.GET('/v3/batches', { params: { query: { offset: 5 } } });
// @ts-expect-error there is no such path
void client.GET('/v3/batch');
`;

export interface TypedClient {
  listCompleted(
    baseUrl: string,
    token: string,
  ): Promise<
    | { statuses: string[]; nextCursor: string | null | undefined; requestId: string | null }
    | { problemCode: string }
  >;
}

/** Writes the generated types beside the client, type-checks and emits with tsc, and imports the result. */
export async function compileAndImport(schemaSource: string): Promise<TypedClient> {
  const dir = await mkdtemp(join(tmpdir(), 'ntropy-bff-client-'));
  try {
    await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    await writeFile(join(dir, 'package.json'), '{"type":"module"}');
    await writeFile(join(dir, 'schema.ts'), schemaSource);
    await writeFile(join(dir, 'client.ts'), CLIENT);
    await writeFile(join(dir, 'misuse.ts'), MISUSE);
    const program = ts.createProgram([join(dir, 'client.ts'), join(dir, 'misuse.ts')], {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
      types: [],
      strict: true,
      noUncheckedIndexedAccess: true,
      skipLibCheck: true,
      noEmitOnError: true,
      outDir: dir,
    });
    const diagnostics = [...ts.getPreEmitDiagnostics(program), ...program.emit().diagnostics];
    if (diagnostics.length > 0) {
      const host = {
        getCanonicalFileName: (f: string) => f,
        getCurrentDirectory: () => dir,
        getNewLine: () => '\n',
      };
      throw new Error(`the typed client did not compile:\n${ts.formatDiagnostics(diagnostics, host)}`);
    }
    return (await import(pathToFileURL(join(dir, 'client.js')).href)) as TypedClient;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
