// Composition root: the one place that reads process.env, opens the log destinations, listens, and handles signals.
import { ConfigError, loadConfig, type Config } from './config.js';
import { openLogDestinations, type LogDestinations } from './log-destinations.js';
import { createLogger } from './logger.js';
import { listen } from './server.js';
import { readEnvironment } from './environment.js';
import { createService } from './service.js';

/** Past the grace period, how long closing the remaining connections may take before the process goes anyway. */
const EXIT_BACKSTOP_MS = 5000;

function exitWithStartupError(message: string): never {
  process.stderr.write(`ntropy-bff: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let config: Readonly<Config>;
  try {
    config = loadConfig(readEnvironment(process.env));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    exitWithStartupError(error.message);
  }
  let logs: LogDestinations;
  try {
    logs = openLogDestinations(config.auditLogFile);
  } catch (error) {
    // The path is not printed, like every other configuration value.
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    exitWithStartupError(
      `Invalid configuration:\n  - AUDIT_LOG_FILE: cannot be opened for appending (${code})`,
    );
  }
  const logger = createLogger(config.logLevel, logs.stdout);
  const auditLogger = logs.auditFile === undefined ? undefined : createLogger('info', logs.auditFile);
  const service = createService(config, { logger, auditLogger, collectProcessMetrics: true });
  // Signals are handled before the listener opens: a supervisor may stop us the moment we log 'listening'.
  const started = listen(service, config.host, config.port, logger);

  let exitCode: number | undefined;
  const exit = () => {
    logs.flush();
    process.exit(exitCode);
  };
  /** SPEC "Shutdown": stop taking requests, let those in flight finish within the grace period, exit. */
  function stop(code: number): void {
    exitCode = code;
    // Never hang: whatever the drain waits for, the process is gone shortly after the grace period.
    setTimeout(exit, config.shutdownGraceMs + EXIT_BACKSTOP_MS).unref();
    void started.then((running) => running.shutdown(config.shutdownGraceMs)).then(exit);
  }
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (exitCode === undefined) {
        logger.info({ signal }, 'shutting down');
        return stop(0);
      }
      // A second signal is not ignored: it ends the grace period now.
      logger.warn({ signal }, 'second signal: closing the remaining connections now');
      void started.then((running) => running.closeRemaining());
    });
  }
  // SPEC "Request IDs and audit log": a destination that cannot be written is never silent, and the
  // process never goes on answering without audit lines; its supervisor restarts it.
  logs.onFailure((target, error) => {
    process.stderr.write(
      `ntropy-bff: cannot write log lines to ${target} (${error.code ?? error.message}): ` +
        'taking no more requests, answering those in flight, then exiting with code 1; ' +
        'log lines go to stderr until then\n',
    );
    if (exitCode === undefined) stop(1);
    else exitCode = 1;
  });
  if (config.auditLogFile !== undefined) {
    // logrotate moves the file, then sends SIGHUP: later lines go to a new file at the configured path.
    process.on('SIGHUP', () => {
      if (logs.reopenAuditFile()) logger.info('SIGHUP: reopened AUDIT_LOG_FILE');
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
