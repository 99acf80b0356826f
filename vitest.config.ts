// Test runner settings: every test file runs in Node against real sockets on 127.0.0.1.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    testTimeout: 10_000,
    hookTimeout: 10_000,
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
  },
});
