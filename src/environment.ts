// The variables a process entry point starts with: a .env in the working directory, the real environment winning.
import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

/** SPEC "Running": a .env in the working directory is read if present; `processEnv` (the real one) wins. */
export function readEnvironment(processEnv: NodeJS.ProcessEnv): Record<string, string | undefined> {
  const fromFile = existsSync('.env') ? parseEnv(readFileSync('.env', 'utf8')) : {};
  return { ...fromFile, ...processEnv };
}
