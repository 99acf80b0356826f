// A TCP relay to a server on 127.0.0.1 that a test can stall: a network that delivers nothing until resumed.
import { createServer, Socket, type AddressInfo } from 'node:net';

export interface TcpRelay {
  /** The relay's port, to connect to instead of the server's. */
  readonly port: number;
  /** Stops delivering in both directions; what is sent meanwhile is held, in order. */
  stall(): void;
  /** Delivers what was held, then forwards again. */
  resume(): void;
  close(): Promise<void>;
}

export async function startTcpRelay(targetPort: number): Promise<TcpRelay> {
  const sockets = new Set<Socket>();
  const flushers = new Set<() => void>();
  let isStalled = false;

  /** Forwards `from` to `to`, holding chunks while stalled. */
  function forward(from: Socket, to: Socket): () => void {
    const held: Buffer[] = [];
    from.on('data', (chunk: Buffer) => (isStalled ? held.push(chunk) : to.write(chunk)));
    return () => {
      for (const chunk of held.splice(0)) to.write(chunk);
    };
  }

  const server = createServer((client) => {
    const upstream = new Socket();
    const connectionFlushers = [forward(client, upstream), forward(upstream, client)];
    for (const flush of connectionFlushers) flushers.add(flush);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.once('close', () => {
        sockets.delete(socket);
        for (const flush of connectionFlushers) flushers.delete(flush);
        client.destroy();
        upstream.destroy();
      });
    }
    upstream.connect(targetPort, '127.0.0.1');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    stall() {
      isStalled = true;
    },
    resume() {
      isStalled = false;
      for (const flush of flushers) flush();
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
