// A suite-wide bound on processes starting at once: the slot server (global setup) and the client (test helpers).
import { availableParallelism } from 'node:os';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { inject } from 'vitest';

/**
 * A cold start of `node dist/main.js` is about a second of CPU. Test files run in several workers, and
 * their process tests run concurrently: unbounded, a dozen or more starts at once starve each other (and
 * every other test) on a 2-core machine, past any sensible wait bound. With two slots per core, starts
 * queue instead (a start's own wait bound counts from when it has its slot), while each core still has
 * a start to run when the other waits on the disk. No library does this across worker processes; a
 * TCP connection per slot is the smallest way: the slot is freed when its socket closes, which also
 * happens when a worker dies.
 */
export const START_SLOTS = 2 * availableParallelism();

declare module 'vitest' {
  export interface ProvidedContext {
    startSlotsPort: number;
  }
}

/** For global setup: serves START_SLOTS slots on 127.0.0.1, in the order they were asked for. */
export async function serveStartSlots(): Promise<{ port: number; close(): Promise<void> }> {
  const waiting: Socket[] = [];
  let free = START_SLOTS;
  const grant = () => {
    for (let next = waiting.shift(); next !== undefined; next = waiting.shift()) {
      if (next.destroyed) continue;
      free -= 1;
      next.write('go\n');
      next.once('close', () => {
        free += 1;
        grant();
      });
      if (free === 0) return;
    }
  };
  const server: Server = createServer((socket) => {
    socket.on('error', () => {});
    waiting.push(socket);
    if (free > 0) grant();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Waits for a start slot; the returned function frees it (call it once the process is up, or gone). */
export async function acquireStartSlot(): Promise<() => void> {
  const socket = connect(inject('startSlotsPort'), '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('data', () => resolve());
    socket.once('error', reject);
  });
  socket.on('error', () => {});
  return () => socket.destroy();
}
