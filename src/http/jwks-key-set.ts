// Holds the JWKS that verifies tokens: when to fetch it, and the last good set (SPEC, the JWKS paragraph under the key table).
//
// Replaces jose's createRemoteJWKSet, which cannot keep SPEC's rules: its cooldown starts only after a
// successful fetch (so while the endpoint fails, every made-up kid fetches again), its cache age is its
// own (10 minutes by default), and a failed refresh of an aged set fails verification instead of
// keeping the last good set. The keys themselves are read by readJwks and verified by jose.
import { Agent, request } from 'undici';
import { readJwks, type JwksKey } from './jwks-keys.js';
import { TokenRefusal } from './token-refusal.js';

/** SPEC is silent on these: a JWKS is a few kilobytes and answers in milliseconds; a stuck one must not hold requests long. */
const JWKS_FETCH_TIMEOUT_MS = 5_000;
const JWKS_MAX_BYTES = 256 * 1024;

export interface JwksKeySetOptions {
  url: string;
  cooldownMs: number;
  maxAgeMs: number;
  now: () => number;
  fetchTimeoutMs?: number;
  maxBytes?: number;
  /** Told why a fetch failed (`status 503`, `ECONNREFUSED`, `timeout`, …), and whether a good set is still in use. */
  onFetchFailed?: (cause: string, hasLastGoodSet: boolean) => void;
}

export interface JwksKeySet {
  /** The keys that may verify a token naming `kid` (when it names one) and `algorithm`; throws a TokenRefusal. */
  keysFor(kid: string | undefined, algorithm: string): Promise<JwksKey[]>;
  /** Closes the connections to the endpoint (idle keep-alive ones too); safe to call more than once. */
  close(): Promise<void>;
}

export function createJwksKeySet(options: JwksKeySetOptions): JwksKeySet {
  const { url, cooldownMs, maxAgeMs, now } = options;
  const fetchTimeoutMs = options.fetchTimeoutMs ?? JWKS_FETCH_TIMEOUT_MS;
  const onFetchFailed = options.onFetchFailed ?? (() => {});
  // No redirect interceptor: a 3xx is a failed fetch. Idle sockets are unref'd (they keep no process
  // alive), yet stay connected to the identity provider until `close`, which the service's close calls.
  const agent = new Agent({ maxResponseSize: options.maxBytes ?? JWKS_MAX_BYTES });
  let current: { keys: JwksKey[]; fetchedAtMs: number } | undefined;
  let lastAttemptMs: number | undefined;
  let inFlight: Promise<void> | undefined;

  const hasWaited = (gapMs: number) => lastAttemptMs === undefined || now() - lastAttemptMs >= gapMs;

  async function download(): Promise<JwksKey[] | undefined> {
    try {
      const response = await request(url, {
        dispatcher: agent,
        headers: { accept: 'application/jwk-set+json, application/json' },
        signal: AbortSignal.timeout(fetchTimeoutMs),
      });
      if (response.statusCode !== 200) {
        await response.body.dump();
        onFetchFailed(`status ${response.statusCode}`, current !== undefined);
        return undefined;
      }
      const keys = readJwks(await response.body.json());
      if (keys === undefined) onFetchFailed('not_a_jwk_set', current !== undefined);
      return keys;
    } catch (error) {
      onFetchFailed(causeOf(error), current !== undefined);
      return undefined;
    }
  }

  // SPEC: one fetch at a time, shared by every token that waits for it; its start is the "last attempt".
  function refetch(): Promise<void> {
    inFlight ??= (async () => {
      const startedAtMs = now();
      lastAttemptMs = startedAtMs;
      try {
        const keys = await download();
        if (keys !== undefined) current = { keys, fetchedAtMs: startedAtMs };
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  }

  /** First use, or a set past its max age; both wait out the cooldown after an attempt that failed. */
  function needsRefetch(): boolean {
    if (current === undefined) return hasWaited(cooldownMs);
    // min(): a max age shorter than the cooldown still bounds the age of a set that fetches fine.
    return now() - current.fetchedAtMs >= maxAgeMs && hasWaited(Math.min(cooldownMs, maxAgeMs));
  }

  function select(kid: string | undefined, algorithm: string): JwksKey[] | TokenRefusal {
    if (current === undefined) return new TokenRefusal('jwks_unavailable');
    const named = kid === undefined ? current.keys : current.keys.filter((key) => key.kid === kid);
    const usable = named.filter((key) => key.algorithm === algorithm);
    if (usable.length > 0) return usable;
    return new TokenRefusal(named.length > 0 && kid !== undefined ? 'wrong_algorithm' : 'unknown_kid');
  }

  return {
    async keysFor(kid, algorithm) {
      if (inFlight !== undefined) await inFlight;
      else if (needsRefetch()) await refetch();
      let found = select(kid, algorithm);
      // SPEC: an unknown kid refetches at most once per cooldown, counted from the last attempt.
      if (found instanceof TokenRefusal && found.reason === 'unknown_kid' && hasWaited(cooldownMs)) {
        await refetch();
        found = select(kid, algorithm);
      }
      if (found instanceof TokenRefusal) throw found;
      return found;
    },
    close: () => (agent.closed ? Promise.resolve() : agent.close()),
  };
}

function causeOf(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return 'timeout';
  if (error instanceof SyntaxError) return 'malformed_body';
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') return 'too_large';
  return typeof code === 'string' ? code : 'unknown';
}
