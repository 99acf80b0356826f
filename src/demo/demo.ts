// `npm run demo`: the proxy in front of a simulated Ntropy, a web page on a second origin, and a ready dev token.
import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { ConfigError } from '../config.js';
import { startDemo } from './start-demo.js';

/** The proxy's variables as `npm start` reads them: a .env in the working directory, the real environment winning. */
function readEnvironment(): Record<string, string | undefined> {
  const fromFile = existsSync('.env') ? parseEnv(readFileSync('.env', 'utf8')) : {};
  return { ...fromFile, ...process.env };
}

async function main(): Promise<void> {
  const demo = await startDemo({ env: readEnvironment() });
  process.stdout.write(demo.banner);
  let isStopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (isStopping) return;
      isStopping = true;
      void demo.close().then(() => process.exit(0));
    });
  }
}

main().catch((error: unknown) => {
  const message = error instanceof ConfigError || error instanceof Error ? error.message : String(error);
  process.stderr.write(`ntropy-bff demo: ${message}\n`);
  process.exit(1);
});
