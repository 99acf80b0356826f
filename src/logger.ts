// The pino logger: JSON lines on stdout, with redaction as the second guard behind known-field audit records.
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.js';

const REDACT_PATHS = [
  'authorization',
  'cookie',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers.cookie',
  'headers["x-api-key"]',
  'ntropyApiKey',
  'config.ntropyApiKey',
];

export function createLogger(level: Config['logLevel'], destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'ntropy-bff' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

/** SPEC "Request IDs and audit log": audit lines and `listening` are written whatever LOG_LEVEL says. */
export function atEveryLevel(logger: Logger): Logger {
  return logger.child({}, { level: 'info' });
}
