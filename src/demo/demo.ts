// `npm run demo`: the proxy in front of a simulated Ntropy, a web page on a second origin, and a ready dev token.
import { ConfigError } from '../config.js';
import { readEnvironment } from '../environment.js';
import { startDemo } from './start-demo.js';

async function main(): Promise<void> {
  const demo = await startDemo({ env: readEnvironment(process.env) });
  process.stdout.write(demo.banner);
  let exitCode: number | undefined;
  const stop = (code: number) => {
    // A failure while stopping still makes the exit code 1.
    if (exitCode !== undefined) {
      exitCode = Math.max(exitCode, code);
      return;
    }
    exitCode = code;
    void demo.close().then(() => {
      demo.logs.flush();
      process.exit(exitCode);
    });
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => stop(0));
  // As `npm start` does (SPEC "Request IDs and audit log"): a log destination that fails is said on
  // stderr and ends the demo; logrotate's SIGHUP reopens AUDIT_LOG_FILE at its path.
  demo.logs.onFailure((target, error) => {
    process.stderr.write(
      `ntropy-bff demo: cannot write log lines to ${target} (${error.code ?? error.message}): stopping\n`,
    );
    stop(1);
  });
  if (demo.config.auditLogFile !== undefined) {
    process.on('SIGHUP', () => {
      if (demo.logs.reopenAuditFile()) demo.logger.info('SIGHUP: reopened AUDIT_LOG_FILE');
    });
  }
}

main().catch((error: unknown) => {
  const message = error instanceof ConfigError || error instanceof Error ? error.message : String(error);
  process.stderr.write(`ntropy-bff demo: ${message}\n`);
  process.exit(1);
});
