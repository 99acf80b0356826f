// The proxy's name and version, read once from package.json (sent upstream as User-Agent).
import { readFileSync } from 'node:fs';

export function readUserAgent(): string {
  const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    name: string;
    version: string;
  };
  return `${packageJson.name}/${packageJson.version}`;
}
