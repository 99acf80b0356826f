// Runs a Lua script by its SHA1 and sends its source only when Redis does not know it yet (EVALSHA, then EVAL).
import { createHash } from 'node:crypto';
import { ErrorReply } from 'redis';
import type { SendCommand } from './redis-connection.js';

export type RedisScript = (
  send: SendCommand,
  keys: string[],
  args: (string | Buffer)[],
  options?: { asBuffers?: boolean },
) => Promise<unknown>;

/**
 * The scripts keep each read-then-write on shared state atomic across replicas. node-redis's own
 * `scripts` option binds them to one client at construction as typed commands; these run through the
 * bounded `RedisConnection.run` like every other call, and each file keeps its scripts beside its logic.
 */
export function defineScript(source: string): RedisScript {
  const sha = createHash('sha1').update(source).digest('hex');
  return async (send, keys, args, options) => {
    const rest = [String(keys.length), ...keys, ...args];
    try {
      return await send(['EVALSHA', sha, ...rest], options);
    } catch (error) {
      // A Redis restarted, or another Redis behind the same name, has an empty script cache.
      if (!(error instanceof ErrorReply) || !error.message.startsWith('NOSCRIPT')) throw error;
      return send(['EVAL', source, ...rest], options);
    }
  };
}
