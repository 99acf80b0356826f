// An upstream on 127.0.0.1 that holds every request until the test releases it, then answers a page.
import { randomUUID } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * For tests that need a request in flight at a chosen moment (a signal, a failing log destination):
 * a delayed answer would make them depend on how fast a loaded machine gets there.
 */
export interface HeldUpstream {
  url: string;
  /** Resolves once `count` requests have arrived (and are being held). */
  arrivals(count: number): Promise<void>;
  /** Answers every held request, and any later one at once, with an empty last page. */
  release(): void;
  close(): Promise<void>;
}

const PAGE = JSON.stringify({ next_cursor: null, data: [] });

function answer(res: ServerResponse): void {
  if (res.destroyed) return;
  res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': randomUUID() }).end(PAGE);
}

export async function startHeldUpstream(): Promise<HeldUpstream> {
  const held: ServerResponse[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  let arrived = 0;
  let isReleased = false;
  const server = createServer((req, res) => {
    req.resume();
    arrived += 1;
    if (isReleased) answer(res);
    else held.push(res);
    for (const waiter of waiters.filter((entry) => entry.count <= arrived)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrivals: (count) =>
      count <= arrived ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve })),
    release() {
      isReleased = true;
      for (const res of held.splice(0)) answer(res);
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
