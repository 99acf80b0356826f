// SPEC "Running" and "CORS": the demo's web page in a real browser (Debian's chromium, driven by playwright-core).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signDevToken } from '../src/demo/dev-token.js';
import { startDemo, type Demo } from '../src/demo/start-demo.js';
import { startWebServer, type WebServer } from '../src/demo/web-server.js';
import { createLogCapture, type LogCapture } from './helpers/log-capture.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const NOW_MS = Date.UTC(2030, 5, 15, 12, 0, 0);
const DAY_MS = 86_400_000;

if (!hasChromium && process.env.CI === 'true') {
  describe('demo web page in Chromium', () => {
    it('needs Chromium, which CI installs', () => {
      throw new Error(`no Chromium at ${CHROMIUM}: CI installs the chromium package (.ci/run)`);
    });
  });
} else if (!hasChromium) {
  process.stderr.write(
    `\nSKIPPED test/browser.test.ts: no Chromium at ${CHROMIUM} (apt-get install chromium)\n\n`,
  );
}

// A real browser on a loaded machine: generous bounds, which only a hang would reach.
describe.skipIf(!hasChromium)(
  'demo web page in Chromium (SPEC "Running", "CORS")',
  { timeout: 60_000 },
  () => {
    let demo: Demo;
    let logs: LogCapture;
    let context: BrowserContext;
    let page: Page;
    let userDataDir: string;
    const consoleLines: string[] = [];

    beforeAll(async () => {
      logs = createLogCapture();
      demo = await startDemo({
        env: { PORT: '0', DEMO_WEB_PORT: '0', DEMO_LATENCY_MS: '0', CACHE_TTL_MS: '600000' },
        nowMs: NOW_MS,
        logDestination: logs.stream,
      });
      userDataDir = mkdtempSync(join(tmpdir(), 'ntropy-bff-chromium-'));
      context = await chromium.launchPersistentContext(userDataDir, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      context.setDefaultTimeout(30_000);
      page = context.pages()[0] ?? (await context.newPage());
      page.on('console', (message) => consoleLines.push(message.text()));
    }, 120_000);

    afterAll(async () => {
      await context?.close();
      await demo?.close();
      if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    });

    /** Runs an action and waits until the page has finished the listing it starts (a new page: its first). */
    async function listing(action: () => Promise<unknown>, isNewPage = false): Promise<void> {
      const before = isNewPage ? 0 : Number((await page.locator('body').getAttribute('data-answered')) ?? 0);
      await action();
      await page.locator(`body[data-answered="${before + 1}"]`).waitFor({ state: 'attached' });
    }

    async function attributeOfAll(selector: string, name: string): Promise<(string | null)[]> {
      return Promise.all((await page.locator(selector).all()).map((element) => element.getAttribute(name)));
    }

    const rows = () => page.locator('#batches tr');
    const column = (n: number) => page.locator(`#batches td:nth-child(${n})`).allTextContents();
    const lastUpstreamQuery = () => demo.upstream.received.at(-1)?.query;

    it('lists the first page with the dev token, after a preflight with Authorization succeeded', async () => {
      const answer = page.waitForResponse((res) => res.url().includes('/v3/batches?'));
      await listing(() => page.goto(demo.pageUrl), true);
      const requestId = (await answer).headers()['x-request-id'];
      expect(await rows().count()).toBe(10);
      // The browser sent the GET only because the preflight allowed Authorization from this origin.
      const requests = await demo.service.metrics.registry.getSingleMetricAsString(
        'ntropy_bff_http_requests_total',
      );
      expect(requests).toMatch(/method="OPTIONS",status="204"\} 1$/m);
      const audit = logs.auditLines().find((line) => line.request_id === requestId);
      expect(audit).toMatchObject({ method: 'GET', status: 200, sub: 'demo-user' });
      // The script read the exposed headers.
      expect(await page.locator('#request-id').textContent()).toBe(requestId);
      expect(await page.locator('#x-cache').textContent()).toBe('MISS');
      await listing(() => page.getByRole('button', { name: 'List' }).click());
      expect(await page.locator('#x-cache').textContent()).toBe('HIT');
    });

    it('shows each batch with its status and progress', async () => {
      const first = rows().first();
      const status = (await first.getAttribute('data-status')) ?? '';
      expect(['processing', 'completed', 'error']).toContain(status);
      expect(await first.locator('.badge').textContent()).toBe(status);
      expect(await first.locator('progress').count()).toBe(1);
      expect(await first.textContent()).toMatch(/\d[\d,]* \/ \d[\d,]* · \d+%/);
    });

    it('builds the status filter from the query schema and filters by it', async () => {
      expect(await attributeOfAll('select[name=status] option', 'value')).toEqual([
        '',
        'processing',
        'completed',
        'error',
      ]);
      await page.locator('select[name=status]').selectOption('error');
      await listing(() => page.getByRole('button', { name: 'List' }).click());
      expect(lastUpstreamQuery()?.get('status')).toBe('error');
      const statuses = await attributeOfAll('#batches tr', 'data-status');
      expect(statuses.length).toBeGreaterThan(0);
      expect(new Set(statuses)).toEqual(new Set(['error']));
    });

    it('filters by date, in a form the Python SDK sends, showing only batches of the last week', async () => {
      const after = new Date(NOW_MS - 7 * DAY_MS);
      await page.locator('select[name=status]').selectOption('');
      await page
        .locator('input[name=created_after]')
        .fill(after.toISOString().slice(0, 19).replace('T', ' '));
      await listing(() => page.getByRole('button', { name: 'List' }).click());
      expect(lastUpstreamQuery()?.get('created_after')).toBe(after.toISOString().replace('.000Z', 'Z'));
      const created = await column(4);
      expect(created.length).toBeGreaterThan(0);
      for (const at of created) expect(Date.parse(`${at}Z`)).toBeGreaterThan(after.getTime());
      await page.locator('input[name=created_after]').fill('');
    });

    it('loads a second page along next_cursor', async () => {
      await page.locator('input[name=limit]').fill('5');
      await listing(() => page.getByRole('button', { name: 'List' }).click());
      expect(await rows().count()).toBe(5);
      await listing(() => page.getByRole('button', { name: 'Load more' }).click());
      expect(lastUpstreamQuery()?.get('cursor')).toEqual(expect.any(String));
      const ids = await column(5);
      expect(ids).toHaveLength(10);
      expect(new Set(ids).size).toBe(10);
    });

    it("shows a bad date's detail and request_id", async () => {
      await page.locator('input[name=created_after]').fill('2024-02-30');
      const answer = page.waitForResponse((res) => res.url().includes('/v3/batches?'));
      await listing(() => page.getByRole('button', { name: 'List' }).click());
      const requestId = (await answer).headers()['x-request-id'];
      expect(await page.locator('#problem').isVisible()).toBe(true);
      expect(await page.locator('#problem-detail').textContent()).toBe(
        'created_after names a day that does not exist',
      );
      expect(await page.locator('#problem-request-id').textContent()).toBe(requestId);
      expect(await page.locator('#problem-errors li').allTextContents()).toEqual([
        'created_after: names a day that does not exist',
      ]);
      await page.locator('input[name=created_after]').fill('');
    });

    it("shows an expired token's problem and request_id", async () => {
      await page.locator('#token').fill(signDevToken(demo.secret, { sub: 'demo-user', ttlS: -120 }));
      const answer = page.waitForResponse((res) => res.url().includes('/v3/batches?'));
      await listing(() => page.getByRole('button', { name: 'List' }).click());
      const res = await answer;
      expect(res.status()).toBe(401);
      expect(await page.locator('#problem-title').textContent()).toBe('Unauthorized');
      expect(await page.locator('#problem-detail').textContent()).not.toBe('');
      expect(await page.locator('#problem-request-id').textContent()).toBe(res.headers()['x-request-id']);
    });

    it('is refused by the browser when the same page comes from an unlisted origin', async () => {
      const unlisted: WebServer = await startWebServer('127.0.0.1', 0);
      try {
        const audited = logs.auditLines().length;
        await listing(() => page.goto(`${unlisted.origin}/${new URL(demo.pageUrl).hash}`), true);
        expect(await page.locator('#problem-detail').textContent()).toMatch(
          /refused this page's origin \(CORS\)/,
        );
        expect(await rows().count()).toBe(0);
        expect(await page.locator('#filters-note').isVisible()).toBe(true);
        expect(consoleLines.some((line) => /blocked by CORS policy/.test(line))).toBe(true);
        // The browser stopped at the preflight: no GET reached the proxy.
        expect(logs.auditLines()).toHaveLength(audited);
      } finally {
        await unlisted.close();
      }
    });
  },
);
