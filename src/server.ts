// Listens with a Service and drains it on shutdown (SPEC "Shutdown"); shared by main and the demo.
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import { handleClientError } from './http/problem-response.js';
import type { Service } from './service.js';

export interface RunningServer {
  server: Server;
  url: string;
  /** Resolves once every connection has closed; never rejects. */
  shutdown(graceMs: number): Promise<void>;
}

const IDLE_SWEEP_MS = 50;

export async function listen(
  service: Service,
  host: string,
  port: number,
  logger: Logger,
): Promise<RunningServer> {
  const server = createServer(service.app);
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('clientError', handleClientError);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  logger.info({ host: address.address, port: address.port }, 'listening');
  service.connectSharedState();

  async function shutdown(graceMs: number): Promise<void> {
    service.beginShutdown();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Keep-alive connections become idle as their last answer goes out: close each as it does.
    const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
    server.closeIdleConnections();
    const grace = setTimeout(() => {
      logger.warn({ connections: sockets.size }, 'grace period over: closing remaining connections');
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
    }, graceMs);
    await closed;
    clearInterval(sweep);
    clearTimeout(grace);
    await service.close();
    logger.info('shut down');
  }

  return { server, url: `http://${urlHost}:${address.port}`, shutdown };
}
