// The Node flags `npm start` runs the proxy with (package.json), so that the benchmark measures what ships.
import { readFileSync } from 'node:fs';
import { ROOT } from './processes.js';

/** The flags between `node` and `dist/main.js` in package.json's `start` script. */
export function readStartFlags(): string[] {
  const { scripts } = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as {
    scripts?: Record<string, string>;
  };
  const words = (scripts?.start ?? '').split(/\s+/);
  const at = words.indexOf('node');
  const end = words.indexOf('dist/main.js');
  if (at === -1 || end <= at)
    throw new Error('package.json: the start script is not `node [flags] dist/main.js`');
  return words.slice(at + 1, end);
}
