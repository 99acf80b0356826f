// Starts the whole demo from an environment: the simulated Ntropy, the web page's server, the proxy, a dev token.
import { randomBytes } from 'node:crypto';
import type { DestinationStream, Logger } from 'pino';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { openLogDestinations, type LogDestinations } from '../log-destinations.js';
import { createLogger } from '../logger.js';
import { listen, type RunningServer } from '../server.js';
import { createService, type Service } from '../service.js';
import { formatBanner } from './demo-banner.js';
import {
  buildDemoEnv,
  demoHost,
  DEMO_DEFAULT_WEB_PORT,
  isSet,
  readDemoSettings,
  type DemoSettings,
} from './demo-env.js';
import { signDevToken } from './dev-token.js';
import { startSimulatedNtropy, type SimulatedNtropy } from './simulated-ntropy.js';
import { startWebServer, type WebServer } from './web-server.js';

const BATCH_COUNT = 137;
const TOKEN_TTL_S = 3600;

export interface DemoOptions {
  /** The user's variables: the real environment over .env. */
  env: Readonly<Record<string, string | undefined>>;
  /** What the seeded batches are relative to; default the moment the demo starts. */
  nowMs?: number;
  /** Where the non-audit log lines (and the audit lines, without AUDIT_LOG_FILE) go; default stdout. */
  logDestination?: DestinationStream;
}

export interface Demo {
  config: Readonly<Config>;
  settings: DemoSettings;
  service: Service;
  upstream: SimulatedNtropy;
  web: WebServer;
  proxyUrl: string;
  /** The page, with the proxy's URL and the dev token in its fragment (never sent to a server). */
  pageUrl: string;
  secret: string;
  token: string;
  banner: string;
  logger: Logger;
  /** stdout and AUDIT_LOG_FILE, as `npm start` opens them: the entry reopens the file on SIGHUP. */
  logs: LogDestinations;
  close(): Promise<void>;
}

/** Listens on the wanted port; a default port taken on a developer's machine gives way to any free one. */
async function listenOrAnyPort<T>(listenOn: (port: number) => Promise<T>, port: number, isDefault: boolean) {
  try {
    return await listenOn(port);
  } catch (error) {
    if (!isDefault || (error as { code?: string }).code !== 'EADDRINUSE') throw error;
    return listenOn(0);
  }
}

/** SPEC "Running": the demo honours the proxy's variables, AUDIT_LOG_FILE included, opened as `npm start` opens it. */
function openDemoLogDestinations(auditLogFile: string | undefined): LogDestinations {
  try {
    return openLogDestinations(auditLogFile);
  } catch (error) {
    // The path is not printed, like every other configuration value.
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError([`AUDIT_LOG_FILE: cannot be opened for appending (${code})`]);
  }
}

/** The page's origin, and its localhost spelling when it is on the loopback: both open the same page. */
function pageOrigins(origin: string): string[] {
  const url = new URL(origin);
  const isLoopback = url.hostname === '127.0.0.1' || url.hostname === '[::1]';
  return isLoopback ? [origin, `http://localhost:${url.port}`] : [origin];
}

export async function startDemo(options: DemoOptions): Promise<Demo> {
  const settings = readDemoSettings(options.env);
  const apiKey = `demo-${randomBytes(16).toString('hex')}`;
  const secret = randomBytes(32).toString('base64url');
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close();
  };
  try {
    const upstream = await startSimulatedNtropy({
      apiKey,
      batchCount: BATCH_COUNT,
      nowMs: options.nowMs ?? Date.now(),
      fault429Rate: settings.DEMO_FAULT_429_RATE,
      fault503Rate: settings.DEMO_FAULT_503_RATE,
      delayMs: settings.DEMO_LATENCY_MS,
    });
    closers.push(() => upstream.close());
    const host = demoHost(options.env);
    const webPort = settings.DEMO_WEB_PORT;
    const web = await listenOrAnyPort(
      (port) => startWebServer(host, port),
      webPort ?? DEMO_DEFAULT_WEB_PORT,
      webPort === undefined,
    );
    closers.push(() => web.close());
    const { env, ignored } = buildDemoEnv(options.env, {
      apiKey,
      upstreamUrl: upstream.url,
      secret,
      pageOrigins: pageOrigins(web.origin),
    });
    const config = loadConfig(env);
    const logs = openDemoLogDestinations(config.auditLogFile);
    const logger = createLogger(config.logLevel, options.logDestination ?? logs.stdout);
    const auditLogger = logs.auditFile === undefined ? undefined : createLogger('info', logs.auditFile);
    const service = createService(config, { logger, auditLogger });
    closers.push(() => service.close());
    const running: RunningServer = await listenOrAnyPort(
      (port) => listen(service, config.host, port, logger),
      config.port,
      !isSet(options.env.PORT),
    );
    closers.pop();
    closers.push(() => running.shutdown(config.shutdownGraceMs));
    const proxyUrl = running.url.replace('://0.0.0.0:', '://127.0.0.1:');
    const token = signDevToken(secret, {
      sub: 'demo-user',
      ttlS: TOKEN_TTL_S,
      scope: config.jwt.requiredScope,
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
    });
    const pageUrl = `${web.origin}/#${new URLSearchParams({ api: proxyUrl, token }).toString()}`;
    const banner = formatBanner({
      proxyUrl,
      upstreamUrl: upstream.url,
      pageUrl,
      batchCount: BATCH_COUNT,
      token,
      tokenTtlS: TOKEN_TTL_S,
      scope: config.jwt.requiredScope,
      secret,
      fault429Rate: settings.DEMO_FAULT_429_RATE,
      fault503Rate: settings.DEMO_FAULT_503_RATE,
      latencyMs: settings.DEMO_LATENCY_MS,
      ignored,
    });
    return {
      config,
      settings,
      service,
      upstream,
      web,
      proxyUrl,
      pageUrl,
      secret,
      token,
      banner,
      logger,
      logs,
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
