// A TCP relay to a server on 127.0.0.1 that a test can stall: a network that delivers nothing until resumed.
import { createServer, Socket, type AddressInfo } from 'node:net';

export interface TcpRelay {
  /** The relay's port, to connect to instead of the server's. */
  readonly port: number;
  /**
   * Stops delivering in both directions, or only the server's replies (the server still gets and runs
   * every command, as when its answers are late); what is sent meanwhile is held, in order.
   */
  stall(direction?: 'both' | 'replies'): void;
  /** Delivers what was held, then forwards again. */
  resume(): void;
  close(): Promise<void>;
}

export async function startTcpRelay(targetPort: number): Promise<TcpRelay> {
  const sockets = new Set<Socket>();
  const flushers = new Set<() => void>();
  const stalled = { requests: false, replies: false };

  /** Forwards `from` to `to`, holding chunks while that direction is stalled. */
  function forward(from: Socket, to: Socket, direction: keyof typeof stalled): () => void {
    const held: Buffer[] = [];
    from.on('data', (chunk: Buffer) => (stalled[direction] ? held.push(chunk) : to.write(chunk)));
    return () => {
      for (const chunk of held.splice(0)) to.write(chunk);
    };
  }

  const server = createServer((client) => {
    const upstream = new Socket();
    const connectionFlushers = [forward(client, upstream, 'requests'), forward(upstream, client, 'replies')];
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
    stall(direction = 'both') {
      stalled.requests = direction === 'both';
      stalled.replies = true;
    },
    resume() {
      stalled.requests = false;
      stalled.replies = false;
      for (const flush of flushers) flush();
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
