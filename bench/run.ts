// `npm run bench`: builds the proxy, runs the five scenarios, prints tables and a summary, writes results/latest.json.
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { benchFaults, FAULTS, FAULT_TTL_MS } from './faults.js';
import { judgeGoals, renderGoalsMarkdown, writeGoalsInto } from './goals.js';
import { hasWrk } from './load.js';
import { ROOT, RESULTS_DIR, buildProxy, describeSource, hasTaskset, pinSelfToLoadCore } from './processes.js';
import { countErrors, judgeTargets, printFaults, printReport, summarize, summarizeFaults } from './report.js';
import { benchReplicas, hasRedisServer } from './replicas.js';
import { countReplicaErrors, printReplicas, summarizeReplicas } from './replicas-report.js';
import { benchBurst, benchCacheHit, benchMemory, benchMissPath } from './scenarios.js';
import { createAuths } from './servers.js';

async function main(): Promise<void> {
  if (!hasWrk) {
    console.error(
      'bench: wrk is not installed; install it with `apt-get install wrk` (Debian/Ubuntu) and retry.',
    );
    process.exit(1);
  }
  if (!hasTaskset)
    console.warn('bench: taskset not found; servers and load generator are NOT pinned to cores.');
  // Read before pinning: once pinned, this process sees a single core.
  const machine = { nproc: availableParallelism(), cpu: cpus()[0]?.model, node: process.version, hasTaskset };
  const source = describeSource();
  const changes = source.uncommitted.length === 0 ? 'clean' : `uncommitted: ${source.uncommitted.join(', ')}`;
  console.log(`bench: measuring ${source.commit} (${changes})`);
  buildProxy();
  pinSelfToLoadCore();
  const startedAt = Date.now();
  const auths = createAuths();
  const hs256 = auths.find((auth) => auth.algorithm === 'HS256');
  if (hs256 === undefined) throw new Error('no HS256 token');
  const args = parseArgs({ options: { only: { type: 'string' }, 'write-benchmarks': { type: 'boolean' } } });
  const only = args.values.only;
  // One scenario alone (`--only`): its summary line, and its figures in a results file of its own.
  const finishAlone = (name: 'faults' | 'replicas', figures: unknown, summary: string) => {
    const elapsedS = (Date.now() - startedAt) / 1000;
    console.log(`\nbench: ${name}: ${summary} (${elapsedS.toFixed(0)} s) [${source.commit}, ${changes}]`);
    const results = { date: new Date().toISOString(), machine, source, [name]: figures, elapsedS };
    writeFileSync(`${RESULTS_DIR}${name}.json`, `${JSON.stringify(results, null, 2)}\n`);
  };
  if (only === 'replicas') {
    // `npm run bench -- --only replicas`: scenario 6 alone.
    if (!hasRedisServer)
      throw new Error('redis-server is not installed; install it with `apt-get install redis-server`');
    console.log('bench: 6 replicas (three proxies and one redis-server) ...');
    const replicas = await benchReplicas(hs256);
    printReplicas(replicas);
    finishAlone('replicas', replicas, summarizeReplicas(replicas));
    if (countReplicaErrors(replicas) > 0) process.exitCode = 1;
    return;
  }
  const describeFaults =
    `${FAULTS.rate503 * 100} % 503, ${FAULTS.rate429 * 100} % 429 Retry-After: ${FAULTS.retryAfterS}, ` +
    `CACHE_TTL_MS=${FAULT_TTL_MS}, CACHE_STALE_IF_ERROR_MS default vs 0`;
  if (only === 'faults') {
    // `npm run bench -- --only faults`: scenario 5 alone.
    console.log(`bench: faults (${describeFaults}) ...`);
    const faults = await benchFaults(hs256);
    printFaults(faults);
    finishAlone('faults', faults, summarizeFaults(faults));
    return;
  }

  console.log(
    'bench: 1/6 cache hit: bare node:http, plain Express, the peer, the proxy (HS256, HS256 + per-user limit) ...',
  );
  const hit = await benchCacheHit(auths);
  console.log(
    'bench: 2/6 miss path: stand-in direct, via the proxy, via the peer, at 32 and at 1 connection ...',
  );
  const miss = await benchMissPath(hs256);
  console.log('bench: 3/6 burst ...');
  const burst = await benchBurst(hs256);
  console.log('bench: 4/6 memory ...');
  const memory = await benchMemory(hs256);
  console.log(`bench: 5/6 faults (${describeFaults}) ...`);
  const faults = await benchFaults(hs256);
  // Scenario 6 needs a redis-server; without one it is left out, and says so.
  console.log(
    hasRedisServer ? 'bench: 6/6 replicas ...' : 'bench: 6/6 replicas SKIPPED (redis-server not installed)',
  );
  const replicas = hasRedisServer ? await benchReplicas(hs256) : undefined;

  const figures = { hit, miss, burst, memory, faults };
  const targets = judgeTargets(figures);
  const errors = countErrors(figures);
  const elapsedS = (Date.now() - startedAt) / 1000;
  printReport(figures, targets);
  if (replicas !== undefined) printReplicas(replicas);
  console.log(`\n${summarize(figures, targets, errors, elapsedS)} [${source.commit}, ${changes}]`);
  if (replicas !== undefined) console.log(`bench: replicas: ${summarizeReplicas(replicas)}`);
  const results = {
    date: new Date().toISOString(),
    machine,
    source,
    ...figures,
    replicas,
    targets,
    errors,
    elapsedS,
  };
  writeFileSync(`${RESULTS_DIR}latest.json`, `${JSON.stringify(results, null, 2)}\n`);
  console.log('bench: raw figures in bench/results/latest.json');
  // The goals table of BENCHMARKS.md, ready to paste (or written in place with --write-benchmarks).
  const goals = renderGoalsMarkdown(
    judgeGoals(figures),
    `\`npm run bench\` on commit \`${source.commit}\` (${changes}), ${results.date.slice(0, 10)}, ` +
      `Node.js ${machine.node}, ${machine.nproc} cores (${machine.cpu ?? 'unknown CPU'}), ${elapsedS.toFixed(0)} s:`,
  );
  writeFileSync(`${RESULTS_DIR}latest.md`, `${goals}\n`);
  if (args.values['write-benchmarks'] === true) {
    const isWritten = writeGoalsInto(`${ROOT}BENCHMARKS.md`, goals);
    console.log(
      isWritten ? 'bench: BENCHMARKS.md goals table updated' : 'bench: BENCHMARKS.md has no goals markers',
    );
  } else
    console.log(
      'bench: goals table in bench/results/latest.md (--write-benchmarks puts it in BENCHMARKS.md)',
    );
  if (errors > 0 || (replicas !== undefined && countReplicaErrors(replicas) > 0)) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
