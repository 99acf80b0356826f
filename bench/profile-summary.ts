// Aggregates a V8 .cpuprofile: top self-time functions, self and inclusive time per module/package, as text.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const SPECIAL = new Set(['(garbage collector)', '(program)', '(idle)', '(root)']);

/** 'express', '@pinojs/redact', 'proxy http/audit-log.js', 'node _http_outgoing'; undefined for V8 natives. */
function moduleOf(frame: ProfileNode['callFrame']): string | undefined {
  if (SPECIAL.has(frame.functionName)) return frame.functionName;
  const { url } = frame;
  if (url === '') return undefined;
  const packageAt = url.lastIndexOf('/node_modules/');
  if (packageAt !== -1) {
    const parts = url.slice(packageAt + '/node_modules/'.length).split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  const distAt = url.indexOf('/dist/');
  if (distAt !== -1) return `proxy ${url.slice(distAt + '/dist/'.length)}`;
  if (url.startsWith('node:')) return `node ${url.slice('node:'.length).replace(/^internal\//, '')}`;
  return url;
}

/** The proxy's own code or an npm package: not Node's internals, V8 natives or the sampler's pseudo-frames. */
function isProxyOrPackage(module: string | undefined): boolean {
  if (module === undefined || SPECIAL.has(module) || module.startsWith('node ')) return false;
  return module.startsWith('proxy ') || !/^\/|:/.test(module);
}

// This proxy's concerns, so that a finding reads "audit logging: 20%" rather than five package names.
const CONCERNS: [RegExp, string][] = [
  [
    /^(pino|pino-http|pino-std-serializers|sonic-boom|@pinojs\/.*|proxy (http\/audit-log|http\/request-id|logger)\.js)$/,
    'audit log (audit-log.ts, pino-http, pino, sonic-boom)',
  ],
  [
    /^(jsonwebtoken|jws|jwa|jose|ecdsa-sig-formatter|buffer-equal-constant-time|lodash\..*|semver|ms|proxy http\/(authenticate|token-verifier)\.js)$/,
    'JWT (authenticate, jsonwebtoken)',
  ],
  [/^helmet$/, 'helmet'],
  [/^(cors|proxy http\/cors\.js)$/, 'CORS'],
  [/^(zod|proxy batches\/list-query\.js)$/, 'query validation (zod)'],
  [/^(prom-client|tdigest|bintrees|proxy metrics\.js)$/, 'metrics (prom-client)'],
  [/^(lru-cache|proxy batches\/page-cache\.js)$/, 'page cache + coalescing'],
  [/^(undici|proxy upstream\/.*)$/, 'upstream call (undici, ntropy-client)'],
  [/^(express-rate-limit|proxy http\/user-rate-limit\.js)$/, 'per-user limit'],
  [
    /^proxy (app|batches\/batches-route|http\/request-target|http\/problem-response)\.js$/,
    'proxy handlers (app, batches-route, request-target)',
  ],
  [
    /^(express|router|finalhandler|parseurl|path-to-regexp|fresh|on-finished|ee-first|content-type|mime-types|mime-db|statuses|encodeurl|escape-html|vary|type-is|media-typer|accepts|negotiator|depd|debug|http-errors|setprototypeof|merge-descriptors|proxy-addr|forwarded|ipaddr\.js|etag|send|qs|safe-buffer)$/,
    'Express (router, res.send incl. header + socket writes)',
  ],
];

function concernOf(module: string): string {
  return CONCERNS.find(([pattern]) => pattern.test(module))?.[1] ?? module;
}

function functionKey(frame: ProfileNode['callFrame'], module: string | undefined): string {
  const name = frame.functionName || '(anonymous)';
  return module === undefined ? `${name} [native]` : `${name} [${module}:${frame.lineNumber + 1}]`;
}

function topRows(totals: Map<string, number>, busyUs: number, count: number): string[] {
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, us]) => `  ${((100 * us) / busyUs).toFixed(1).padStart(5)}%  ${name}`);
}

/** Summarises the samples of the last `lastMs` of the profile (all of it when omitted). */
export function summarizeProfile(profile: CpuProfile, lastMs?: number, top = 16): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const stackOf = (id: number): ProfileNode[] => {
    const stack: ProfileNode[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const node = byId.get(at);
      if (node) stack.push(node);
    }
    return stack;
  };

  const fromUs = lastMs === undefined ? -Infinity : profile.endTime - lastMs * 1000;
  const selfByFunction = new Map<string, number>();
  const selfByModule = new Map<string, number>();
  const inclusiveByModule = new Map<string, number>();
  const chargedByConcern = new Map<string, number>();
  const chargedByModule = new Map<string, number>();
  const chargedByFunction = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us);
  let atUs = profile.startTime;
  let idleUs = 0;
  let busyUs = 0;
  profile.samples.forEach((id, index) => {
    atUs += profile.timeDeltas[index] ?? 0;
    // A sample stands for the time until the next one.
    const us = profile.timeDeltas[index + 1] ?? 0;
    if (atUs < fromUs) return;
    const stack = stackOf(id);
    const leaf = stack[0];
    if (leaf === undefined) return;
    if (leaf.callFrame.functionName === '(idle)') {
      idleUs += us;
      return;
    }
    busyUs += us;
    const modules = stack.map((node) => moduleOf(node.callFrame));
    add(selfByFunction, functionKey(leaf.callFrame, modules[0]), us);
    // V8 natives (JSON.parse, RegExp exec, ...) are charged to the nearest JS caller's module.
    add(selfByModule, modules.find((module) => module !== undefined) ?? '(native)', us);
    for (const module of new Set(modules))
      if (module !== undefined && !SPECIAL.has(module)) add(inclusiveByModule, module, us);
    // Who caused the work: Node internals and natives are charged to the nearest proxy or package frame.
    const owner = modules.findIndex(isProxyOrPackage);
    const ownerNode = stack[owner];
    if (ownerNode === undefined) {
      const module = modules.find((module) => module !== undefined) ?? '(native)';
      add(
        chargedByConcern,
        SPECIAL.has(module) ? module : 'Node: HTTP parsing, event loop (no package on the stack)',
        us,
      );
      add(chargedByModule, `${module} (no package on the stack)`, us);
      add(chargedByFunction, `${functionKey(leaf.callFrame, modules[0])} (no package on the stack)`, us);
    } else {
      add(chargedByConcern, concernOf(modules[owner] ?? ''), us);
      add(chargedByModule, modules[owner] ?? '', us);
      add(chargedByFunction, functionKey(ownerNode.callFrame, modules[owner]), us);
    }
  });

  const windowS = (busyUs + idleUs) / 1e6;
  return [
    `busy ${(busyUs / 1e6).toFixed(2)} s of ${windowS.toFixed(2)} s sampled (${((100 * busyUs) / (busyUs + idleUs)).toFixed(0)}% busy); shares are of busy time`,
    `top self time by function:`,
    ...topRows(selfByFunction, busyUs, top),
    `self time by module (natives charged to their caller):`,
    ...topRows(selfByModule, busyUs, top),
    `time charged to the nearest proxy/package frame (Node internals and natives charged to their caller), by concern:`,
    ...topRows(chargedByConcern, busyUs, top),
    `the same, by module:`,
    ...topRows(chargedByModule, busyUs, top),
    `the same, by function:`,
    ...topRows(chargedByFunction, busyUs, top),
    `inclusive time by module (a sample counts once per module on its stack; wrappers such as express, router,`,
    `pino-http and helmet contain every middleware after them):`,
    ...topRows(inclusiveByModule, busyUs, top),
  ].join('\n');
}

export function summarizeProfileFile(path: string, lastMs?: number): string {
  return summarizeProfile(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile, lastMs);
}

// `node dist/bench/profile-summary.js file.cpuprofile [lastMs]`
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [path, lastMs] = process.argv.slice(2);
  if (path === undefined) {
    process.stderr.write('usage: profile-summary.js <file.cpuprofile> [lastMs]\n');
    process.exit(2);
  }
  console.log(summarizeProfileFile(path, lastMs === undefined ? undefined : Number(lastMs)));
}
