// Collects pino's JSON lines in memory so tests can assert on parsed log records.
import { Writable } from 'node:stream';

export interface LogCapture {
  stream: Writable;
  /** Every raw line written so far. */
  text(): string;
  records(): Record<string, unknown>[];
  auditLines(): Record<string, unknown>[];
}

export function createLogCapture(): LogCapture {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const records = () =>
    chunks
      .join('')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return {
    stream,
    text: () => chunks.join(''),
    records,
    auditLines: () => records().filter((record) => record.audit === true),
  };
}
