// The one node-redis client behind the shared state: offline queue off, every call bounded, capped reconnects, health.
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { createClient, ErrorReply, RESP_TYPES } from 'redis';
import { createRedisBreaker } from './redis-breaker.js';
import { createRedisHealth, type RedisObserver } from './redis-health.js';

const RECONNECT_BASE_MS = 100;
/** A restarted Redis is found again within this, and a dead one costs one connection attempt per replica per this. */
const RECONNECT_CAP_MS = 2000;

export interface RedisConnectionOptions {
  /** May hold a password: it goes to the client and nowhere else. */
  url: string;
  timeoutMs: number;
  logger: Logger;
  observer: RedisObserver;
  random?: () => number;
}

export interface RedisConnection {
  /**
   * Runs one Redis operation within timeoutMs. Rejects at once while Redis is not connected, and on
   * any failure or timeout, so the caller carries on with its local state (SPEC "Replicas and shared state").
   */
  run<T>(operation: (send: SendCommand) => Promise<T>, options?: RunOptions): Promise<T>;
  /**
   * Hands each message published on `channel` to `listener`, over a connection of its own (Redis
   * requires one for pub/sub); resubscribes after reconnects. Messages may be lost: callers also poll.
   */
  subscribe(channel: string, listener: (message: string) => void): void;
  /** Starts connecting in the background; safe to call more than once. */
  connect(): void;
  close(): Promise<void>;
}

export interface RunOptions {
  /**
   * No request waits for this call (a lock renewal, an outcome other replicas wait for): it is tried
   * even while the breaker is open, since it costs no request any time and others depend on it.
   */
  isBackground?: boolean;
}

/** Sends one command; with `asBuffers` its bulk strings come back as Buffers (page bodies, byte for byte). */
export type SendCommand = (args: (string | Buffer)[], options?: { asBuffers?: boolean }) => Promise<unknown>;

const AS_BUFFERS = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } };

/** Capped exponential backoff with jitter, so replicas that lost one Redis do not reconnect in step. */
export function reconnectDelayMs(retries: number, random: number): number {
  return Math.round(Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** retries) * (0.5 + random / 2));
}

/** The URL as it may be logged: scheme, host, port and database; never the user or password. */
export function describeRedisTarget(url: string): string {
  if (!URL.canParse(url)) return 'redis';
  const { protocol, host, pathname } = new URL(url);
  return `${protocol}//${host}${pathname === '/' ? '' : pathname}`;
}

/** A cause for the log: a socket code, a Redis error word (WRONGPASS, OOM…) or the error's class; never a message. */
export function describeRedisError(error: unknown): string {
  if (error instanceof ErrorReply) return /^[A-Z]+/.exec(error.message)?.[0] ?? 'ErrorReply';
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  if (!(error instanceof Error)) return 'unknown';
  // node-redis's TimeoutError and TimeoutReadError, and run()'s own bound, all read as one cause.
  return error.constructor.name.startsWith('Timeout') ? 'timeout' : error.constructor.name;
}

/**
 * node:tls sends no SNI unless given `servername`, and node-redis does not give it: the TLS proxies in
 * front of many managed Redis services route by SNI. The certificate is checked against the host either way.
 */
function tlsServerNameOf(url: string): { tls: true; servername: string } | Record<string, never> {
  if (!URL.canParse(url)) return {};
  const { protocol, hostname } = new URL(url);
  if (protocol !== 'rediss:' || isIP(hostname) !== 0 || hostname.startsWith('[')) return {};
  return { tls: true, servername: hostname };
}

export function createRedisConnection(options: RedisConnectionOptions): RedisConnection {
  const { timeoutMs } = options;
  const random = options.random ?? Math.random;
  const health = createRedisHealth({
    logger: options.logger,
    observer: options.observer,
    target: describeRedisTarget(options.url),
  });
  const client = createClient({
    url: options.url,
    // node-redis queues commands while disconnected by default; SPEC wants them to fail at once.
    disableOfflineQueue: true,
    // By default a command waits for its reply forever; `rejectInFlight` extends the bound to sent commands.
    commandOptions: { timeout: timeoutMs, rejectInFlight: true },
    socket: {
      // The default strategy backs off to 500 ms without jitter; capped and jittered here (see above).
      reconnectStrategy: (retries: number) => reconnectDelayMs(retries, random()),
      ...tlsServerNameOf(options.url),
    },
  });
  const breaker = createRedisBreaker(async () => {
    await client.sendCommand(['PING']);
    health.reportUp();
  });
  // Without an 'error' listener node-redis would crash the process on the first lost connection.
  client.on('error', (error: unknown) => health.reportFailure(describeRedisError(error)));
  client.on('ready', () => {
    breaker.close();
    health.reportUp();
  });
  const subscriber = client.duplicate();
  // Its failures are the command connection's too, and are counted there; polling covers lost messages.
  subscriber.on('error', () => {});
  const channels = new Map<string, (message: string) => void>();
  const subscribed = new Set<string>();
  function subscribeAll(): void {
    for (const [channel, listener] of channels) {
      if (subscribed.has(channel) || !subscriber.isReady) continue;
      subscribed.add(channel);
      // node-redis keeps a confirmed subscription across reconnects; a refused one is retried on 'ready'.
      subscriber.subscribe(channel, listener).catch(() => subscribed.delete(channel));
    }
  }
  subscriber.on('ready', subscribeAll);
  const send: SendCommand = (args, options) =>
    client.sendCommand(args, options?.asBuffers === true ? AS_BUFFERS : undefined);
  let isStarted = false;

  return {
    async run(operation, runOptions) {
      const isSkipped = breaker.isOpen && runOptions?.isBackground !== true;
      if (!client.isReady || isSkipped) throw new Error('redis is not answering');
      let timer: NodeJS.Timeout | undefined;
      // The whole operation is bounded too: one call may send more than one command.
      const timedOut = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(
          () => reject(Object.assign(new Error('redis timed out'), { code: 'timeout' })),
          timeoutMs,
        );
      });
      const pending = operation(send);
      try {
        const result = await Promise.race([pending, timedOut]);
        // Redis answered (a background call may, while others are skipped): it is up, and used again.
        breaker.close();
        health.reportUp();
        return result;
      } catch (error) {
        pending.catch(() => {});
        // An error reply came quickly from a Redis that answers; anything else may cost the next call the bound.
        if (error instanceof ErrorReply) health.reportRefusal(describeRedisError(error));
        else {
          health.reportFailure(describeRedisError(error));
          breaker.open();
        }
        throw error;
      } finally {
        clearTimeout(timer);
      }
    },
    subscribe(channel, listener) {
      channels.set(channel, listener);
      subscribeAll();
    },
    connect() {
      if (isStarted) return;
      isStarted = true;
      // Never awaited: the proxy serves from local state until Redis answers. Failures arrive as 'error'.
      client.connect().catch(() => {});
      subscriber.connect().catch(() => {});
    },
    async close() {
      breaker.stop();
      await Promise.all([client, subscriber].map(closeClient));
    },
  };
}

async function closeClient(client: {
  isOpen: boolean;
  isReady: boolean;
  close(): Promise<void>;
  destroy(): void;
}) {
  if (!client.isOpen) return;
  if (client.isReady) await client.close();
  else client.destroy();
}
