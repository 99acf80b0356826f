// `npm run demo`: the proxy in front of a simulated Ntropy, with no configuration, and a ready dev token.
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { listen, type RunningServer } from '../server.js';
import { createService } from '../service.js';
import { signDevToken } from './dev-token.js';
import { startSimulatedNtropy } from './simulated-ntropy.js';

const DEFAULT_PORT = 8080;

function rate(name: string): number {
  const value = Number(process.env[name] ?? 0);
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0;
}

async function main(): Promise<void> {
  const apiKey = `demo-${randomBytes(16).toString('hex')}`;
  const secret = randomBytes(32).toString('base64url');
  const upstream = await startSimulatedNtropy({
    apiKey,
    fault429Rate: rate('DEMO_FAULT_429_RATE'),
    fault503Rate: rate('DEMO_FAULT_503_RATE'),
    delayMs: Number(process.env.DEMO_LATENCY_MS ?? 20) || 0,
  });
  const config = loadConfig({
    NTROPY_API_KEY: apiKey,
    NTROPY_BASE_URL: upstream.url,
    JWT_SECRET: secret,
    HOST: process.env.HOST ?? '127.0.0.1',
    PORT: process.env.PORT ?? String(DEFAULT_PORT),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
  });
  const logger = createLogger(config.logLevel);
  const service = createService(config, { logger });
  let running: RunningServer;
  try {
    running = await listen(service, config.host, config.port, logger);
  } catch (error) {
    // The default port may be taken on a developer's machine: any free port does for a demo.
    if (process.env.PORT !== undefined || (error as { code?: string }).code !== 'EADDRINUSE') throw error;
    running = await listen(service, config.host, 0, logger);
  }
  const token = signDevToken(secret, { sub: 'demo-user', ttlS: 3600 });
  const base = running.url.replace('://0.0.0.0:', '://127.0.0.1:');
  process.stdout.write(
    [
      '',
      `ntropy-bff demo: proxy ${base} -> simulated Ntropy ${upstream.url} (seeded batches)`,
      '',
      'Dev token (sub=demo-user, valid 1 hour):',
      `  ${token}`,
      '',
      'Try:',
      `  curl -i -H "Authorization: Bearer ${token}" "${base}/v3/batches?limit=5&status=completed"`,
      '',
      `More tokens: JWT_SECRET=${secret} npm run token -- --sub alice`,
      'Faults: DEMO_FAULT_429_RATE=0.3 npm run demo (also DEMO_FAULT_503_RATE, DEMO_LATENCY_MS)',
      'Audit lines follow below. Ctrl-C stops.',
      '',
      '',
    ].join('\n'),
  );
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      void running
        .shutdown(config.shutdownGraceMs)
        .then(() => upstream.close())
        .then(() => process.exit(0));
    });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`ntropy-bff demo: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
