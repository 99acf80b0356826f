// The per-user limit's store across replicas: rate-limit-redis, falling back to the in-memory store while Redis cannot answer.
import { MemoryStore, type IncrementResponse, type Options, type Store } from 'express-rate-limit';
import { RedisStore } from 'rate-limit-redis';
import type { RedisConnection } from './redis-connection.js';

type RedisReply = Awaited<ReturnType<RedisStore['sendCommand']>>;

/**
 * SPEC "Replicas and shared state": a user gets USER_RATE_LIMIT_PER_MIN across all replicas, and Redis
 * is never a dependency. express-rate-limit answers a store error with a 500, and `passOnStoreError`
 * lets the request through unlimited; neither is what SPEC asks. Here a Redis error or timeout counts
 * the request in this process instead (each replica then limits on its own), and the next request tries
 * Redis again, so sharing resumes by itself. Only `prefix + sub` and a count are ever written.
 */
export function createSharedLimitStore(options: { connection: RedisConnection; prefix: string }): Store {
  const { connection, prefix } = options;
  const local = new MemoryStore();
  let shared: RedisStore | undefined;
  let limiterOptions: Options | undefined;
  let isScriptLoaded: Promise<void> | undefined;

  function useRedis<T>(call: (store: RedisStore) => Promise<T>): Promise<T> {
    return connection.run(async (send) => {
      if (limiterOptions === undefined) throw new Error('the limiter has not initialised its store');
      shared ??= new RedisStore({
        prefix,
        sendCommand: (...args: string[]) => send(args) as Promise<RedisReply>,
      });
      // rate-limit-redis loads its scripts in init(), which express-rate-limit calls at construction,
      // before Redis may be reachable, and a failed load stays failed. So they load here, again after a failure.
      isScriptLoaded ??= shared.init(limiterOptions);
      await isScriptLoaded;
      return call(shared);
    });
  }

  function forgetScripts(): void {
    isScriptLoaded = undefined;
  }

  return {
    prefix,
    localKeys: false,
    init(opts: Options) {
      limiterOptions = opts;
      local.init(opts);
    },
    async increment(key: string): Promise<IncrementResponse> {
      try {
        return await useRedis((store) => store.increment(key));
      } catch {
        forgetScripts();
        return local.increment(key);
      }
    },
    async decrement(key: string): Promise<void> {
      await local.decrement(key);
      await useRedis((store) => store.decrement(key)).catch(forgetScripts);
    },
    async resetKey(key: string): Promise<void> {
      await local.resetKey(key);
      await useRedis((store) => store.resetKey(key)).catch(forgetScripts);
    },
    shutdown() {
      local.shutdown();
    },
  };
}
