// `npm run token` (the built dist/demo/token.js): usage, errors without stacks, expired tokens, the token alone in pipes.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const TOKEN_JS = fileURLToPath(new URL('../dist/demo/token.js', import.meta.url));
const SECRET = 'token-cli-test-secret-of-32-bytes-or-more';
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]+\n$/;

let cwd: string;
beforeAll(() => {
  // A fresh working directory, so no stray .env is read (the test of .env has a directory of its own).
  cwd = mkdtempSync(join(tmpdir(), 'ntropy-bff-token-'));
});
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

async function runToken(args: string[], env: Record<string, string> = { JWT_SECRET: SECRET }, dir = cwd) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [TOKEN_JS, ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

function claimsOf(stdout: string): jwt.JwtPayload {
  return jwt.verify(stdout.trim(), SECRET, {
    algorithms: ['HS256'],
    ignoreExpiration: true,
  }) as jwt.JwtPayload;
}

// The tests run concurrently: each is one or two short-lived processes.
describe.concurrent('npm run token', () => {
  it.each([['--help'], ['-h']])('prints the usage for %s and exits 0', async (flag) => {
    const { code, stdout, stderr } = await runToken([flag], {});
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: npm run -s token -- /);
    for (const option of ['--sub', '--scope', '--client-id', '--ttl']) expect(stdout).toContain(option);
    expect(stderr).toBe('');
  });

  it.each([
    ['an unknown option', ['--bogus'], /Unknown option '--bogus'/],
    ['a stray argument', ['alice'], /Unexpected argument 'alice'/],
    ['a missing value', ['--sub'], /argument missing/],
    ['a fractional --ttl', ['--ttl', '1.5'], /--ttl must be a whole number of seconds/],
    ['a word for --ttl', ['--ttl', 'soon'], /--ttl must be a whole number of seconds/],
  ])('refuses %s with a clear message and exit 2, never a stack', async (_label, args, message) => {
    const { code, stdout, stderr } = await runToken(args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('asks for JWT_SECRET when it is missing or short, exit 1', async () => {
    const envs: Record<string, string>[] = [{}, { JWT_SECRET: 'short' }];
    for (const env of envs) {
      const { code, stderr } = await runToken([], env);
      expect(code).toBe(1);
      expect(stderr).toBe('npm run token: set JWT_SECRET (at least 32 bytes) in the environment or .env\n');
    }
  });

  it('prints the token alone when stdout is not a terminal', async () => {
    const { code, stdout, stderr } = await runToken(['--sub', 'alice']);
    expect(code).toBe(0);
    expect(stdout).toMatch(JWT_SHAPE);
    expect(stderr).toBe('');
    expect(claimsOf(stdout)).toMatchObject({ sub: 'alice' });
  });

  it('puts --sub, --scope, --client-id and --ttl in the claims, and JWT_ISSUER/JWT_AUDIENCE as iss/aud', async () => {
    const env = { JWT_SECRET: SECRET, JWT_ISSUER: 'https://issuer.test', JWT_AUDIENCE: 'ntropy-bff' };
    const args = [
      '--sub',
      'bob',
      '--scope',
      'batches:read admin',
      '--client-id',
      'reporting-app',
      '--ttl',
      '600',
    ];
    const claims = claimsOf((await runToken(args, env)).stdout);
    expect(claims).toMatchObject({
      sub: 'bob',
      scope: 'batches:read admin',
      client_id: 'reporting-app',
      iss: 'https://issuer.test',
      aud: 'ntropy-bff',
    });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(600);
  });

  it.each([
    ['--ttl -120', ['--ttl', '-120']],
    ['--ttl=-120', ['--ttl=-120']],
  ])('mints an already expired token with %s', async (_label, args) => {
    const { code, stdout } = await runToken(args);
    expect(code).toBe(0);
    const claims = claimsOf(stdout);
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(-120);
    expect(() => jwt.verify(stdout.trim(), SECRET, { clockTolerance: 30 })).toThrow(jwt.TokenExpiredError);
  });

  it('reads JWT_SECRET from .env in the working directory, the environment winning', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ntropy-bff-token-env-'));
    try {
      writeFileSync(join(dir, '.env'), 'JWT_SECRET=dotenv-secret-of-thirty-two-bytes-long!\n');
      const fromFile = await runToken([], {}, dir);
      expect(jwt.verify(fromFile.stdout.trim(), 'dotenv-secret-of-thirty-two-bytes-long!')).toMatchObject({
        sub: 'dev-user',
      });
      expect(claimsOf((await runToken([], { JWT_SECRET: SECRET }, dir)).stdout)).toMatchObject({
        sub: 'dev-user',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
