// Profiles the built proxy under load with `node --cpu-prof`, on the hit path and the miss path, and summarises each.
import { rmSync, writeFileSync } from 'node:fs';
import { hasWrk, runLoad, warmUp, type LoadOptions } from './load.js';
import { RESULTS_DIR, buildProxy, describeSource, pinSelfToLoadCore } from './processes.js';
import { summarizeProfileFile } from './profile-summary.js';
import { HIT_PATH, createAuths, startProxy, startStandIn } from './servers.js';

const PROFILE_DIR = `${RESULTS_DIR}profiles/`;
const LOAD = { connections: 32, warmupS: 2, durationS: 6 };
const PATHS = [
  { name: 'hit', cacheTtlMs: '3600000', script: 'wrk-report.lua' },
  { name: 'miss', cacheTtlMs: '0', script: 'distinct-cursor.lua' },
] as const;

async function main(): Promise<void> {
  if (!hasWrk) throw new Error('wrk is not installed; install it with `apt-get install wrk`');
  const source = describeSource();
  console.log(
    `profiling ${source.commit}${source.uncommitted.length > 0 ? ` + uncommitted ${source.uncommitted.join(', ')}` : ''}`,
  );
  buildProxy();
  pinSelfToLoadCore();
  rmSync(PROFILE_DIR, { recursive: true, force: true });
  const [auth] = createAuths();
  if (auth === undefined) throw new Error('no token');
  for (const path of PATHS) {
    const standIn = await startStandIn();
    const file = `${path.name}.cpuprofile`;
    // --cpu-prof writes the profile when the process exits; the proxy exits 0 on SIGTERM (SPEC "Shutdown").
    const nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${file}`];
    const proxy = await startProxy(standIn, auth, { CACHE_TTL_MS: path.cacheTtlMs }, nodeArgs);
    const load: LoadOptions = { ...LOAD, token: auth.token, script: path.script };
    await warmUp(proxy.url + HIT_PATH, load);
    const result = await runLoad(proxy.url + HIT_PATH, load);
    await proxy.stop();
    await standIn.stop();
    console.log(
      `\n=== ${path.name} path: ${Math.round(result.rps)} req/s under the profiler, ${result.errors} errors`,
    );
    const summary = summarizeProfileFile(PROFILE_DIR + file, LOAD.durationS * 1000);
    writeFileSync(`${PROFILE_DIR}${path.name}.txt`, `${summary}\n`);
    console.log(summary);
  }
  console.log(`\nprofiles in bench/results/profiles/ (open them in Chrome DevTools > Performance)`);
}

main().catch((error: unknown) => {
  console.error(`bench:profile: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
