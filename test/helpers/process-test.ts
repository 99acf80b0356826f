// `it` for tests of the real process: each test gets its own processes and upstreams, so the tests can run concurrently.
import { it } from 'vitest';
import { startSimulatedNtropy, type SimulatedNtropy } from '../../src/demo/simulated-ntropy.js';
import { API_KEY } from './harness.js';
import { startHeldUpstream, type HeldUpstream } from './held-upstream.js';
import { createServerProcesses, type ServerProcesses } from './server-process.js';

export interface ProcessTestContext {
  /** Processes started by this test, killed and their directories removed when it ends. */
  processes: ServerProcesses;
  /** A simulated Ntropy of this test's own. */
  upstream: SimulatedNtropy;
  /** An upstream that holds every call until this test releases it. */
  held: HeldUpstream;
}

/**
 * Unlike one shared `createServerProcesses()` cleaned in `afterEach` (which would kill the processes of
 * tests still running beside it), fixtures belong to one test. Each is built only for tests that name it.
 */
export const itWithProcesses = it.extend<ProcessTestContext>({
  // eslint-disable-next-line no-empty-pattern -- vitest reads a fixture's dependencies from this pattern
  processes: async ({}, use) => {
    const processes = createServerProcesses();
    try {
      await use(processes);
    } finally {
      await processes.cleanUp();
    }
  },
  // eslint-disable-next-line no-empty-pattern -- vitest reads a fixture's dependencies from this pattern
  upstream: async ({}, use) => {
    const upstream = await startSimulatedNtropy({ apiKey: API_KEY });
    try {
      await use(upstream);
    } finally {
      await upstream.close();
    }
  },
  // eslint-disable-next-line no-empty-pattern -- vitest reads a fixture's dependencies from this pattern
  held: async ({}, use) => {
    const held = await startHeldUpstream();
    try {
      await use(held);
    } finally {
      await held.close();
    }
  },
});
