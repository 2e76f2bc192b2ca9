import { AppError, ErrorCode } from '@taskgraph/runtime';
import { GraphQLError } from 'graphql';
import { createRemoteJWKSet, type JWTPayload, errors as joseErrors, jwtVerify, SignJWT } from 'jose';

/**
 * How client JWTs are verified (ARCHITECTURE §7): an HS256 shared secret (development, tests) or a
 * JWKS URL with asymmetric keys (production). Issuer and audience are always checked.
 */
export type JwtConfig =
  | { secret: string; jwksUrl?: undefined; issuer: string; audience: string }
  | { jwksUrl: string; secret?: undefined; issuer: string; audience: string };

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
  };
  let verify: (token: string) => Promise<{ payload: JWTPayload }>;
  if (config.jwksUrl) {
    const jwks = createRemoteJWKSet(new URL(config.jwksUrl));
    verify = (token) => jwtVerify(token, jwks, options);
  } else {
    const secret = new TextEncoder().encode(config.secret);
    verify = (token) => jwtVerify(token, secret, options);
  }
  return async (authorization) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) throw new AppError(ErrorCode.UNAUTHENTICATED, 'Authentication required: send "Authorization: Bearer <token>"');
    try {
      const { payload } = await verify(match[1]!);
      if (typeof payload.sub !== 'string' || payload.sub.length === 0) throw new Error('token has no subject');
      return { userId: payload.sub };
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw new AppError(ErrorCode.UNAUTHENTICATED, 'Token expired');
      throw new AppError(ErrorCode.UNAUTHENTICATED, 'Invalid token');
    }
  };
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
