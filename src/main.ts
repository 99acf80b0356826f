// Composition root: the one place that reads process.env, listens, and handles signals.
import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { listen } from './server.js';
import { createService } from './service.js';

/** SPEC "Running": a .env in the working directory is read if present; the real environment wins. */
function readEnvironment(): Record<string, string | undefined> {
  const fromFile = existsSync('.env') ? parseEnv(readFileSync('.env', 'utf8')) : {};
  return { ...fromFile, ...process.env };
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(readEnvironment());
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`ntropy-bff: ${error.message}\n`);
    process.exit(1);
  }
  const logger = createLogger(config.logLevel);
  const service = createService(config, { logger, collectProcessMetrics: true });
  // Signals are handled before the listener opens: a supervisor may stop us the moment we log 'listening'.
  const started = listen(service, config.host, config.port, logger);
  let isStopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (isStopping) return;
      isStopping = true;
      logger.info({ signal }, 'shutting down');
      void started.then((running) => running.shutdown(config.shutdownGraceMs)).then(() => process.exit(0));
    });
  }
  await started;
}

main().catch((error: unknown) => {
  process.stderr.write(
    `ntropy-bff: failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
