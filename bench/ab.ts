// A/B of two proxy builds, side by side in paired rounds with the bench's own rotation:
// `node dist/bench/ab.js hit|miss <before>/dist/main.js <after>/dist/main.js [rounds] [NAME=value ...]` (each a
// built checkout, for example a `git worktree`; NAME=value adds to both proxies' environment). A build may carry
// Node flags after its path, in the same argument: '/abs/dist/main.js --max-semi-space-size=2'. Hit: plain Express and both proxies (HS256, cache hit). Miss: the stand-in
// direct and both proxies (cache off, a fresh cursor per request, c=32). Prints each contender's medians and
// the paired ratios; builds nothing itself.
import { existsSync } from 'node:fs';
import { compare, pairedMedian, rpsRatio, type Compared, type Contender } from './compare.js';
import { hasWrk, type LoadOptions } from './load.js';
import { pinSelfToLoadCore, type Server } from './processes.js';
import { HIT_PATH, createAuths, startCeiling, startProxy, startStandIn } from './servers.js';

const LOAD = { connections: 32, warmupS: 2, durationS: 2 };

async function main(): Promise<void> {
  const [mode, before, after, roundsArg, ...envArgs] = process.argv.slice(2);
  const extraEnv = Object.fromEntries(
    envArgs.map((arg) => [arg.split('=')[0] ?? '', arg.slice(arg.indexOf('=') + 1)]),
  );
  const rounds = Number(roundsArg ?? 7);
  if ((mode !== 'hit' && mode !== 'miss') || before === undefined || after === undefined || !(rounds > 0))
    throw new Error(
      'usage: node dist/bench/ab.js hit|miss <before dist/main.js> <after dist/main.js> [rounds] [NAME=value ...]',
    );
  const builds = [before, after].map((arg) => {
    const [mainJs = '', ...nodeArgs] = arg.split(' ');
    return { mainJs, nodeArgs };
  });
  for (const { mainJs: file } of builds)
    if (!file.startsWith('/') || !existsSync(file))
      throw new Error(`${file}: not an absolute path to a build`);
  if (!hasWrk) throw new Error('wrk is not installed; install it with `apt-get install wrk`');
  pinSelfToLoadCore();
  const [auth] = createAuths();
  if (auth === undefined) throw new Error('no HS256 token');
  const load: LoadOptions = {
    ...LOAD,
    token: auth.token,
    script: mode === 'hit' ? 'wrk-report.lua' : 'distinct-cursor.lua',
  };
  const servers: Server[] = [];
  try {
    const standIn = await startStandIn();
    servers.push(standIn);
    const reference = mode === 'hit' ? await startCeiling('express') : standIn;
    if (reference !== standIn) servers.push(reference);
    const env = { CACHE_TTL_MS: mode === 'hit' ? '3600000' : '0', ...extraEnv };
    const proxies = [];
    for (const { mainJs, nodeArgs } of builds)
      proxies.push(await startProxy(standIn, auth, env, nodeArgs, mainJs));
    servers.push(...proxies);
    // As in the bench: on the miss path the stand-in's CPU counts too, since it serves every miss.
    const contenders: Contender[] = [
      { servers: [reference], url: reference.url + HIT_PATH, load },
      ...proxies.map((proxy) => ({
        servers: mode === 'hit' ? [proxy] : [proxy, standIn],
        url: proxy.url + HIT_PATH,
        load,
      })),
    ];
    const [ref, a, b] = await compare(contenders, rounds);
    if (ref === undefined || a === undefined || b === undefined) throw new Error('missing runs');
    const refName = mode === 'hit' ? 'plain Express' : 'stand-in direct';
    const row = (name: string, run: Compared) =>
      `${name.padEnd(16)} ${Math.round(run.rps).toLocaleString('en-US').padStart(7)} req/s  ` +
      `p50 ${run.p50Ms.toFixed(2)} ms  CPU ${run.cpuUsPerRequest.toFixed(0)} µs/req  errors ${run.errors}`;
    console.log(`ab ${mode}, ${rounds} paired rounds, medians:`);
    console.log(row(refName, ref));
    console.log(row('before', a));
    console.log(row('after', b));
    console.log(`before / ${refName}: ${rpsRatio(a, ref).toFixed(3)}×`);
    console.log(`after / ${refName}: ${rpsRatio(b, ref).toFixed(3)}×`);
    console.log(`after / before, req/s: ${rpsRatio(b, a).toFixed(3)}×`);
    const cpu = pairedMedian(b, a, (x, y) => x.cpuUsPerRequest / y.cpuUsPerRequest);
    console.log(`after / before, CPU µs/req: ${cpu.toFixed(3)}×`);
    // Each round's own figures, for pooling several runs.
    for (const [name, run] of [
      [refName, ref],
      ['before', a],
      ['after', b],
    ] as const) {
      const rounds = run.rounds.map((r) => `${Math.round(r.rps)}/${r.cpuUsPerRequest.toFixed(0)}`);
      console.log(`rounds, req/s/CPU µs, ${name}: ${rounds.join(' ')}`);
    }
    if (a.errors + b.errors + ref.errors > 0) process.exitCode = 1;
  } finally {
    for (const server of servers.reverse()) await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(`ab: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
