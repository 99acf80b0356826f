// Test runner settings: every test file runs in Node against real sockets on 127.0.0.1.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // Failure bounds, not timing claims: a CPU-heavy test (a 5 MB page through a proxy, a property run)
    // takes seconds on a 2-core machine that other work loads; only a hang should reach these.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // One module graph per worker, not per file: each file no longer re-imports express, undici, redis
    // and the app (about a second of CPU per file, half the suite's CPU). Safe because nothing in src/
    // or test/helpers/ holds module-level state (STYLE): every test file builds its own instances.
    isolate: false,
    // Most tests wait on sockets, timers and spawned servers rather than the CPU: on a 2-core machine
    // the default (one worker per spare core) runs the files one after another, twice as slowly.
    maxWorkers: 4,
    globalSetup: ['test/global-setup.ts'],
  },
});
