import { AppError, ErrorCode } from '@taskgraph/runtime';
import { GraphQLError } from 'graphql';
import { createRemoteJWKSet, type JWTPayload, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { VerifiedTokens } from './verified-tokens.js';

/** What every verified token must also satisfy, whatever signs it. */
interface JwtPolicy {
  issuer: string;
  audience: string;
  /**
   * Longest accepted lifetime in seconds: `exp - iat`, or `exp - now` when the token has no `iat`
   * (default `DEFAULT_MAX_TOKEN_LIFETIME_SECONDS`, env `JWT_MAX_LIFETIME_SECONDS`). A token without
   * `exp` is always refused: it would never expire.
   */
  maxLifetimeSeconds?: number;
}

/**
 * How client JWTs are verified (ARCHITECTURE §7): an HS256 shared secret (development, tests) or a
 * JWKS URL with asymmetric keys (production). Issuer, audience, `exp` and the lifetime are always checked.
 */
export type JwtConfig = ({ secret: string; jwksUrl?: undefined } | { jwksUrl: string; secret?: undefined }) & JwtPolicy;

/** 24 h: the longest token `npm run token` issues by default; identity providers issue minutes to hours. */
export const DEFAULT_MAX_TOKEN_LIFETIME_SECONDS = 24 * 3600;

/** The caller a verified client token names (`sub`). */
export interface AuthenticatedUser {
  readonly userId: string;
}

/**
 * Verifies an `Authorization` value (`Bearer <jwt>`) and returns the caller, or throws an
 * `AppError` with code UNAUTHENTICATED. Shared by HTTP and the graphql-ws `connection_init`
 * payload `{ authorization }`.
 */
export type Authenticate = (authorization: string | undefined) => Promise<AuthenticatedUser>;

/** Asymmetric algorithms accepted from a JWKS; `none` and HMAC are never accepted there. */
const JWKS_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

export function createAuthenticator(config: JwtConfig): Authenticate {
  const options = {
    algorithms: config.jwksUrl ? JWKS_ALGORITHMS : ['HS256'],
    issuer: config.issuer,
    audience: config.audience,
    clockTolerance: 5,
    // A token without `exp` never expires: refuse it (jose then throws JWTClaimValidationFailed on `exp`).
    requiredClaims: ['exp'],
  };
  const maxLifetime = config.maxLifetimeSeconds ?? DEFAULT_MAX_TOKEN_LIFETIME_SECONDS;
  let verify: (token: string) => Promise<{ payload: JWTPayload }>;
  if (config.jwksUrl) {
    const jwks = createRemoteJWKSet(new URL(config.jwksUrl));
    verify = (token) => jwtVerify(token, jwks, options);
  } else {
    const secret = new TextEncoder().encode(config.secret);
    verify = (token) => jwtVerify(token, secret, options);
  }
  const verified = new VerifiedTokens<AuthenticatedUser>();
  return async (authorization) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) throw new AppError(ErrorCode.UNAUTHENTICATED, 'Authentication required: send "Authorization: Bearer <token>"');
    const known = verified.get(match[1]!);
    if (known) return known;
    try {
      const { payload } = await verify(match[1]!);
      if (typeof payload.sub !== 'string' || payload.sub.length === 0) throw new Error('token has no subject');
      checkLifetime(payload, maxLifetime);
      const user = { userId: payload.sub };
      verified.set(match[1]!, user, payload.exp!);
      return user;
    } catch (error) {
      if (error instanceof AppError) throw error;
      if (error instanceof joseErrors.JWTExpired) throw new AppError(ErrorCode.UNAUTHENTICATED, 'Token expired');
      if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'exp') {
        throw new AppError(ErrorCode.UNAUTHENTICATED, 'Token has no expiry (exp): it is refused');
      }
      throw new AppError(ErrorCode.UNAUTHENTICATED, 'Invalid token');
    }
  };
}

/**
 * A stolen long-lived token is a long-lived breach: refuse lifetimes above the maximum. Measured
 * from `iat` when present (what the issuer granted), else from now (what is left).
 */
function checkLifetime(payload: JWTPayload, maxLifetimeSeconds: number): void {
  const exp = payload.exp as number; // required and numeric: jose checked it
  const from = typeof payload.iat === 'number' ? payload.iat : Math.floor(Date.now() / 1000);
  if (exp - from > maxLifetimeSeconds) {
    throw new AppError(ErrorCode.UNAUTHENTICATED, `Token lifetime exceeds the maximum of ${maxLifetimeSeconds} s`);
  }
}

/** The authentication failure as Apollo Server expects it from a context function (HTTP 401). */
export function unauthenticatedError(error: unknown): GraphQLError {
  const appError = error instanceof AppError ? error : new AppError(ErrorCode.UNAUTHENTICATED, 'Invalid token');
  return new GraphQLError(appError.message, {
    originalError: appError,
    extensions: { code: appError.code, http: { status: 401 } },
  });
}

export interface DevTokenOptions {
  secret: string;
  issuer: string;
  audience: string;
  /** Lifetime in seconds (default one hour); negative values make an already-expired token. */
  ttlSeconds?: number;
}

/** Signs an HS256 client token as the dev identity provider would (tests, `npm run token`). */
export async function signDevToken(userId: string, options: DevTokenOptions): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setIssuedAt(now)
    .setExpirationTime(now + (options.ttlSeconds ?? 3600))
    .sign(new TextEncoder().encode(options.secret));
}
