// `npm run token -- --sub alice [--scope s] [--ttl 3600]`: mints an HS256 token with JWT_SECRET (env or .env).
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs, parseEnv } from 'node:util';
import { signDevToken } from './dev-token.js';

const { values } = parseArgs({
  options: {
    sub: { type: 'string', default: 'dev-user' },
    scope: { type: 'string' },
    'client-id': { type: 'string' },
    ttl: { type: 'string', default: '3600' },
  },
});
const env = { ...(existsSync('.env') ? parseEnv(readFileSync('.env', 'utf8')) : {}), ...process.env };
const secret = env.JWT_SECRET;
if (secret === undefined || Buffer.byteLength(secret, 'utf8') < 32) {
  process.stderr.write('npm run token: set JWT_SECRET (at least 32 bytes) in the environment or .env\n');
  process.exit(1);
}
const ttlS = Number(values.ttl);
if (!Number.isInteger(ttlS) || ttlS <= 0) {
  process.stderr.write('npm run token: --ttl must be a positive whole number of seconds\n');
  process.exit(1);
}
process.stdout.write(
  `${signDevToken(secret, {
    sub: values.sub,
    ttlS,
    ...(values.scope === undefined ? {} : { scope: values.scope }),
    ...(values['client-id'] === undefined ? {} : { clientId: values['client-id'] }),
    ...(env.JWT_ISSUER ? { issuer: env.JWT_ISSUER } : {}),
    ...(env.JWT_AUDIENCE ? { audience: env.JWT_AUDIENCE } : {}),
  })}\n`,
);
