// `npm run -s token -- --sub alice`: mints an HS256 dev token with JWT_SECRET (environment or .env); see --help.
import { parseArgs } from 'node:util';
import { readEnvironment } from '../environment.js';
import { signDevToken } from './dev-token.js';

const USAGE = `Usage: npm run -s token -- [--sub <subject>] [--scope <scopes>] [--client-id <id>] [--ttl <seconds>]

Mints an HS256 token signed with JWT_SECRET (from the environment, else .env), for a proxy that
runs with JWT_SECRET. JWT_ISSUER and JWT_AUDIENCE, when set, become its iss and aud.

  --sub <subject>     the token's subject, sub (default: dev-user)
  --scope <scopes>    space-separated scopes, as the scope claim (see JWT_REQUIRED_SCOPE)
  --client-id <id>    the client_id claim, which audit lines carry
  --ttl <seconds>     lifetime in whole seconds (default: 3600); a negative value mints a token that
                      expired that long ago, e.g. --ttl -120 (past the proxy's 30 s clock tolerance)
  -h, --help          this text

The token alone is printed when stdout is not a terminal: TOKEN=$(npm run -s token -- --sub alice)
(-s keeps npm's own banner out of the captured text).
`;

const OPTIONS = {
  sub: { type: 'string', default: 'dev-user' },
  scope: { type: 'string' },
  'client-id': { type: 'string' },
  ttl: { type: 'string', default: '3600' },
  help: { type: 'boolean', short: 'h' },
} as const;

function fail(message: string, exitCode: number): never {
  process.stderr.write(`npm run token: ${message}\n`);
  process.exit(exitCode);
}

function readArguments() {
  // parseArgs reads "--ttl -120" as a missing value and an unknown option: join a negative number to --ttl.
  const args: string[] = [];
  for (const arg of process.argv.slice(2)) {
    if (args.at(-1) === '--ttl' && /^-\d+$/.test(arg)) args[args.length - 1] = `--ttl=${arg}`;
    else args.push(arg);
  }
  try {
    return parseArgs({ args, options: OPTIONS, allowPositionals: false }).values;
  } catch (error) {
    return fail(`${(error as Error).message}\n\n${USAGE}`, 2);
  }
}

const values = readArguments();
if (values.help === true) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const env = readEnvironment(process.env);
const secret = env.JWT_SECRET;
if (secret === undefined || Buffer.byteLength(secret, 'utf8') < 32) {
  fail('set JWT_SECRET (at least 32 bytes) in the environment or .env', 1);
}
if (!/^-?\d+$/.test(values.ttl)) fail('--ttl must be a whole number of seconds, e.g. 3600 or -120', 2);
const ttlS = Number(values.ttl);
const token = signDevToken(secret, {
  sub: values.sub,
  ttlS,
  scope: values.scope,
  clientId: values['client-id'],
  issuer: env.JWT_ISSUER || undefined,
  audience: env.JWT_AUDIENCE || undefined,
});
process.stdout.write(`${token}\n`);
if (process.stdout.isTTY) {
  const expiresAt = new Date(Date.now() + ttlS * 1000).toISOString();
  process.stderr.write(
    `sub=${values.sub}${values.scope === undefined ? '' : ` scope="${values.scope}"`}` +
      `${values['client-id'] === undefined ? '' : ` client_id=${values['client-id']}`}, ` +
      `${ttlS > 0 ? 'expires' : 'expired'} ${expiresAt}. In a script: TOKEN=$(npm run -s token -- ...)\n`,
  );
}
