#!/usr/bin/env node
/**
 * `npm run token -- <userId> [--ttl <seconds>]`: prints a dev HS256 client token for the gateway.
 * Signed with JWT_SECRET, or the gateway's development default (DEV_JWT_SECRET in
 * gateway/src/config.ts; gateway/src/token-script.test.ts keeps the two in sync). Issuer and
 * audience follow JWT_ISSUER / JWT_AUDIENCE (default `taskgraph`). Plain Node, no build needed.
 */
import { createHmac } from 'node:crypto';

const DEV_JWT_SECRET = 'taskgraph-dev-jwt-secret-do-not-use-in-prod';

function usage(message) {
  if (message) console.error(message);
  console.error('usage: npm run token -- <userId> [--ttl <seconds>]');
  process.exit(2);
}

const args = process.argv.slice(2);
let userId;
let ttl = 24 * 3600;
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === '--ttl') {
    ttl = Number(args[++i]);
    if (!Number.isInteger(ttl)) usage('--ttl needs a whole number of seconds');
  } else if (arg === '-h' || arg === '--help') {
    usage();
  } else if (arg.startsWith('-')) {
    usage(`unknown option ${arg}`);
  } else if (userId === undefined) {
    userId = arg;
  } else {
    usage(`unexpected argument ${arg}`);
  }
}
if (!userId) usage('missing <userId>');

const env = (name) => (process.env[name] ? process.env[name] : undefined);
if (!env('JWT_SECRET') && env('NODE_ENV') === 'production') usage('JWT_SECRET is required when NODE_ENV=production');
const secret = env('JWT_SECRET') ?? DEV_JWT_SECRET;

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = Math.floor(Date.now() / 1000);
const header = b64({ alg: 'HS256', typ: 'JWT' });
const payload = b64({
  sub: userId,
  iss: env('JWT_ISSUER') ?? 'taskgraph',
  aud: env('JWT_AUDIENCE') ?? 'taskgraph',
  iat: now,
  exp: now + ttl,
});
const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
console.log(`${header}.${payload}.${signature}`);
