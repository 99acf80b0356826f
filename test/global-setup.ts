// Builds dist/ once before the suite (the process tests run the real `node dist/main.js`), and serves the start slots.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { serveStartSlots } from './helpers/start-slots.js';

const ROOT = join(import.meta.dirname, '..');

function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtimeMs(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function buildDist(): void {
  const main = join(ROOT, 'dist', 'main.js');
  const sources = Math.max(newestMtimeMs(join(ROOT, 'src')), statSync(join(ROOT, 'package.json')).mtimeMs);
  if (existsSync(main) && statSync(main).mtimeMs > sources) return;
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'pipe' });
  } catch (error) {
    const output = (error as { stdout?: Buffer }).stdout?.toString() ?? '';
    throw new Error(`the build failed:\n${output}`, { cause: error });
  }
}

export default async function setUp(project: TestProject): Promise<() => Promise<void>> {
  buildDist();
  const slots = await serveStartSlots();
  project.provide('startSlotsPort', slots.port);
  return () => slots.close();
}
