// Builds the real app against a real simulated Ntropy on 127.0.0.1, with logs captured in memory.
import supertest from 'supertest';
import type { Config } from '../../src/config.js';
import { loadConfig } from '../../src/config.js';
import {
  startSimulatedNtropy,
  type SimulatedNtropy,
  type SimulatedNtropyOptions,
} from '../../src/demo/simulated-ntropy.js';
import { createLogger } from '../../src/logger.js';
import { listen, type RunningServer } from '../../src/server.js';
import { createService, type Service } from '../../src/service.js';
import { createLogCapture, type LogCapture } from './log-capture.js';
import { JWT_SECRET } from './tokens.js';

export const API_KEY = 'ntropy-test-key-7c1e2a9b4d';

export interface HarnessOptions {
  /** Extra environment, over the defaults below (which use the HS256 test secret). */
  env?: Record<string, string | undefined>;
  upstream?: SimulatedNtropyOptions;
  now?: () => number;
  random?: () => number;
}

export interface Harness {
  upstream: SimulatedNtropy;
  config: Readonly<Config>;
  service: Service;
  logs: LogCapture;
  /** supertest bound to the in-process app. */
  request: ReturnType<typeof supertest>;
  close(): Promise<void>;
}

export function testEnv(upstreamUrl: string, env: Record<string, string | undefined> = {}) {
  return {
    NTROPY_API_KEY: API_KEY,
    NTROPY_BASE_URL: upstreamUrl,
    JWT_SECRET,
    LOG_LEVEL: 'info',
    ...env,
  };
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const upstream = await startSimulatedNtropy({ apiKey: API_KEY, ...options.upstream });
  const config = loadConfig(testEnv(upstream.url, options.env));
  const logs = createLogCapture();
  const service = createService(config, {
    logger: createLogger(config.logLevel, logs.stream),
    ...(options.now ? { now: options.now } : {}),
    ...(options.random ? { random: options.random } : {}),
  });
  return {
    upstream,
    config,
    service,
    logs,
    request: supertest(service.app),
    async close() {
      await service.close();
      await upstream.close();
    },
  };
}

/** The harness's app on a real socket, for tests of connections (disconnects, parser errors, shutdown). */
export async function listenHarness(harness: Harness): Promise<RunningServer> {
  return listen(harness.service, '127.0.0.1', 0, createLogger(harness.config.logLevel, harness.logs.stream));
}
