// SPEC "Running" on the built demo, `node dist/demo/demo.js`: its banner and page, AUDIT_LOG_FILE, its exit codes.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, type TestContext } from 'vitest';
import { PROCESS_TEST_TIMEOUT_MS, waitUntil } from './helpers/server-process.js';
import { acquireStartSlot } from './helpers/start-slots.js';

const DEMO_JS = fileURLToPath(new URL('../dist/demo/demo.js', import.meta.url));

/** Starts `node dist/demo/demo.js` in a fresh directory; resolves once the banner names the page. */
async function startBuiltDemo(env: Record<string, string>, onTestFinished: TestContext['onTestFinished']) {
  const freeSlot = await acquireStartSlot();
  const cwd = mkdtempSync(join(tmpdir(), 'ntropy-bff-demo-'));
  const child = spawn(process.execPath, [DEMO_JS], {
    cwd,
    env: { PATH: process.env.PATH ?? '', PORT: '0', DEMO_WEB_PORT: '0', DEMO_LATENCY_MS: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  onTestFinished(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(cwd, { recursive: true, force: true });
  });
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const pageUrl = await new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = /^ {2}(http:\/\/127\.0\.0\.1:\d+\/#api=\S+)$/m.exec(stdout);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`demo exited ${code}: ${stdout}${stderr}`)));
  }).finally(freeSlot);
  const fragment = new URLSearchParams(new URL(pageUrl).hash.slice(1));
  return {
    child,
    cwd,
    pageUrl,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    /** GET /v3/batches through the proxy with the printed dev token. */
    list: (requestId: string) =>
      fetch(`${fragment.get('api')}/v3/batches`, {
        headers: { Authorization: `Bearer ${fragment.get('token')}`, 'X-Request-ID': requestId },
      }),
  };
}

describe.concurrent(
  'demo — the built entry, node dist/demo/demo.js',
  { timeout: PROCESS_TEST_TIMEOUT_MS },
  () => {
    it('prints the banner, serves the page from the built code, audits to AUDIT_LOG_FILE (reopened on SIGHUP), and exits 0 on SIGTERM', async ({
      expect,
      onTestFinished,
    }) => {
      const demo = await startBuiltDemo({ AUDIT_LOG_FILE: 'audit.log' }, onTestFinished);
      expect(demo.stdout()).toContain('Fault injection: off');
      const page = await fetch(new URL('app.js', demo.pageUrl));
      expect(page.status).toBe(200);

      const file = join(demo.cwd, 'audit.log');
      const statuses = [(await demo.list('before-rotation')).status];
      renameSync(file, `${file}.1`);
      demo.child.kill('SIGHUP');
      await waitUntil(() => existsSync(file), 'the reopened AUDIT_LOG_FILE');
      statuses.push((await demo.list('after-sighup')).status);
      demo.child.kill('SIGTERM');
      expect(await demo.exited).toBe(0);

      expect(statuses).toEqual([200, 200]);
      const auditIds = (path: string) =>
        readFileSync(path, 'utf8')
          .trim()
          .split('\n')
          .map((line) => (JSON.parse(line) as Record<string, unknown>).request_id);
      expect(auditIds(`${file}.1`)).toEqual(['before-rotation']);
      expect(auditIds(file)).toEqual(['after-sighup']);
      expect(demo.stdout()).not.toContain('"audit":true');
    });

    it.skipIf(!existsSync('/dev/full'))(
      'AUDIT_LOG_FILE on a full disk (/dev/full): says so on stderr and exits 1',
      async ({ expect, onTestFinished }) => {
        const demo = await startBuiltDemo({ AUDIT_LOG_FILE: '/dev/full' }, onTestFinished);
        expect((await demo.list('fails-to-audit')).status).toBe(200);
        expect(await demo.exited).toBe(1);
        expect(demo.stderr()).toMatch(/cannot write log lines to AUDIT_LOG_FILE \(ENOSPC\)/);
      },
    );
  },
);
