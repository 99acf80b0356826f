// Listens with a Service (and METRICS_PORT's app) and drains both on shutdown (SPEC "Shutdown"); shared by main and the demo.
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { markClosedByServer } from './http/audit-log.js';
import { handleClientError } from './http/problem-response.js';
import { atEveryLevel } from './logger.js';
import { createMetricsApp } from './metrics-app.js';
import type { Service } from './service.js';

export interface RunningServer {
  server: Server;
  url: string;
  /** Where /metrics is served when METRICS_PORT is set. */
  metricsUrl: string | undefined;
  /** Resolves once every connection has closed; never rejects. */
  shutdown(graceMs: number): Promise<void>;
  /** Ends the grace period now: the remaining connections are closed (their requests audited as 499). */
  closeRemaining(): void;
}

const IDLE_SWEEP_MS = 50;
/** How often Node looks for requests past their timeout (its default, 30 s, would let them run that much longer). */
const MAX_TIMEOUT_CHECK_MS = 1000;

/** SPEC variables HTTP_HEADERS_TIMEOUT_MS and HTTP_KEEP_ALIVE_TIMEOUT_MS, as Node's server options. */
function serverTimeouts(http: Config['http']) {
  return {
    headersTimeout: http.headersTimeoutMs,
    // The whole request (any body a client sends with it too, which nothing here reads) within the same
    // bound; Node requires requestTimeout >= headersTimeout, and its default of 300 s would let a dribbled
    // body hold a connection that long.
    requestTimeout: http.headersTimeoutMs,
    keepAliveTimeout: http.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.min(MAX_TIMEOUT_CHECK_MS, Math.ceil(http.headersTimeoutMs / 4)),
  };
}

function createHttpServer(app: RequestListener, http: Config['http'], sockets: Set<Socket>): Server {
  const server = createServer(serverTimeouts(http), app);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('clientError', handleClientError);
  // SPEC "Normalized errors": the app answers an Expect other than 100-continue (417, audited), not Node.
  server.on('checkExpectation', app);
  return server;
}

async function listenOn(server: Server, host: string, port: number): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}

function urlOf(address: AddressInfo): string {
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${urlHost}:${address.port}`;
}

const closeServer = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

export async function listen(
  service: Service,
  host: string,
  port: number,
  logger: Logger,
): Promise<RunningServer> {
  const { config } = service;
  const sockets = new Set<Socket>();
  let isStopping = false;
  const server = createHttpServer(service.app, config.http, sockets);
  const address = await listenOn(server, host, port);
  let metricsServer: Server | undefined;
  let metricsAddress: AddressInfo | undefined;
  if (config.metricsPort !== undefined) {
    const metricsApp = createMetricsApp({
      metrics: service.metrics,
      logger,
      secret: config.ntropyApiKey,
      isReady: () => !isStopping,
      now: Date.now,
    });
    metricsServer = createHttpServer(metricsApp, config.http, sockets);
    try {
      metricsAddress = await listenOn(metricsServer, host, config.metricsPort);
    } catch (error) {
      await closeServer(server);
      const code = (error as { code?: string }).code ?? String(error);
      throw new Error(`METRICS_PORT: cannot listen on ${host}:${config.metricsPort} (${code})`);
    }
  }
  const servers = metricsServer === undefined ? [server] : [server, metricsServer];
  atEveryLevel(logger).info(
    {
      host: address.address,
      port: address.port,
      ...(metricsAddress === undefined ? {} : { metrics_port: metricsAddress.port }),
    },
    'listening',
  );
  service.connectSharedState();

  let graceTimer: NodeJS.Timeout | undefined;
  let hasClosedRemaining = false;
  function closeRemaining(): void {
    if (hasClosedRemaining) return;
    hasClosedRemaining = true;
    logger.warn({ connections: sockets.size }, 'grace period over: closing remaining connections');
    for (const socket of sockets) {
      markClosedByServer(socket, 'shutdown_grace_over');
      socket.destroy();
    }
  }

  let drained: Promise<void> | undefined;
  function shutdown(graceMs: number): Promise<void> {
    return (drained ??= (async () => {
      isStopping = true;
      service.beginShutdown();
      const closed = Promise.all(servers.map(closeServer));
      // Keep-alive connections become idle as their last answer goes out: close each as it does.
      const sweep = setInterval(() => servers.forEach((each) => each.closeIdleConnections()), IDLE_SWEEP_MS);
      graceTimer = setTimeout(closeRemaining, graceMs);
      await closed;
      clearInterval(sweep);
      clearTimeout(graceTimer);
      await service.close();
      logger.info('shut down');
    })());
  }

  return {
    server,
    url: urlOf(address),
    metricsUrl: metricsAddress === undefined ? undefined : urlOf(metricsAddress),
    shutdown,
    closeRemaining,
  };
}
