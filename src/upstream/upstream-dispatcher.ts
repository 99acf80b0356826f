// The undici dispatcher for the upstream calls: one keep-alive pool, or undici's environment proxy agent (SPEC variables).
import { EnvHttpProxyAgent, Pool, type Dispatcher } from 'undici';
import type { Config } from '../config.js';

export type UpstreamProxy = Config['upstream']['proxy'];

/**
 * With HTTPS_PROXY/HTTP_PROXY set, calls go through undici's EnvHttpProxyAgent, which applies NO_PROXY
 * and tunnels with CONNECT. It is given the values from Config: an option left undefined would make it
 * read process.env itself, so unset ones are passed as '' (no proxy, nothing bypassed).
 */
export function createUpstreamDispatcher(
  baseUrl: string,
  proxy: UpstreamProxy,
  options: Pool.Options,
): Dispatcher {
  if (proxy === undefined) return new Pool(baseUrl, options);
  const agent = new EnvHttpProxyAgent({
    ...options,
    httpProxy: proxy.httpProxy ?? '',
    httpsProxy: proxy.httpsProxy ?? '',
    noProxy: proxy.noProxy ?? '',
  });
  // An agent serves any origin; the client's calls name only a path, so the origin is fixed here, as a Pool's is.
  return agent.compose((dispatch) => (opts, handler) => dispatch({ ...opts, origin: baseUrl }, handler));
}
