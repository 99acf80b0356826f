// `npm start` and the Docker image run the proxy with the same Node flags (the V8 heap flags of BENCHMARKS.md "Memory").
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..');

function startScriptFlags(): string[] {
  const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  const words = (scripts.start ?? '').split(/\s+/);
  expect(words[0]).toBe('node');
  expect(words.at(-1)).toBe('dist/main.js');
  return words.slice(1, -1);
}

function dockerCmdFlags(): string[] {
  const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1];
  const words = JSON.parse(cmd ?? '[]') as string[];
  expect(words[0]).toBe('node');
  expect(words.at(-1)).toBe('dist/main.js');
  return words.slice(1, -1);
}

describe('Running — the Node flags the proxy ships with', () => {
  it('are the same for npm start and the Docker image', () => {
    expect(startScriptFlags().length).toBeGreaterThan(0);
    expect(dockerCmdFlags()).toEqual(startScriptFlags());
  });

  it('are accepted by this Node.js', () => {
    const run = spawnSync(process.execPath, [...startScriptFlags(), '-e', 'process.exit(0)'], {
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});
