/**
 * The "acme" section of DATA/config.json: which ACME directory, how to reach its API, how to solve
 * DNS-01, and the timing of propagation checks and renewals. The TypeBox schema is both the type and
 * the validation; every default lives here, beside its field.
 */
import { Type, type Static, type TLiteral } from '@sinclair/typebox';
import { strictObject } from '../core/config.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Well-known ACME directories (RFC 8555 §7.1.1). */
export const ACME_DIRECTORIES = {
  letsencrypt: 'https://acme-v02.api.letsencrypt.org/directory',
  letsencryptStaging: 'https://acme-staging-v02.api.letsencrypt.org/directory',
  zerossl: 'https://acme.zerossl.com/v2/DV90',
} as const;

/** Default: Let's Encrypt production. */
export const DEFAULT_DIRECTORY_URL = ACME_DIRECTORIES.letsencrypt;
/** How long we wait for the TXT value to show at every authoritative server: 2 minutes. */
export const DEFAULT_PROPAGATION_TIMEOUT_MS = 2 * MINUTE;
/** Pause between two propagation checks: 2 seconds. */
export const DEFAULT_PROPAGATION_INTERVAL_MS = 2 * SECOND;
/** Renew when this fraction of the lifetime is left: a third (30 days of a 90-day certificate). */
export const DEFAULT_RENEW_FRACTION_LEFT = 1 / 3;
/** First retry after a failed renewal: 1 minute, doubled each failure (with jitter). */
export const DEFAULT_BACKOFF_MIN_MS = MINUTE;
/** Longest pause between two renewal attempts: 6 hours. */
export const DEFAULT_BACKOFF_MAX_MS = 6 * HOUR;

/** External Account Binding (RFC 8555 §7.3.4), required by ZeroSSL: key id and base64url HMAC key. */
export const ExternalAccountBinding = strictObject({
  kid: Type.String({ minLength: 1 }),
  hmacKey: Type.String({ minLength: 1 }),
});

/** TSIG key (RFC 8945) for the RFC 2136 solver. `secret` is base64. */
export const TsigKeyConfig = strictObject({
  name: Type.String({ minLength: 1 }),
  algorithm: Type.Union(['hmac-sha256', 'hmac-sha384', 'hmac-sha512', 'hmac-sha224', 'hmac-sha1'].map((a) => Type.Literal(a)) as [TLiteral<'hmac-sha256'>, TLiteral<'hmac-sha384'>, TLiteral<'hmac-sha512'>, TLiteral<'hmac-sha224'>, TLiteral<'hmac-sha1'>], { default: 'hmac-sha256' }),
  secret: Type.String({ minLength: 1 }),
});

/** DNS-01 through the nodegate registry the device is registered with (device-signed calls). */
export const RegistrySolverConfig = strictObject({ type: Type.Literal('registry') });

/** DNS-01 through RFC 2136 UPDATE with TSIG to the user's own authoritative server (Knot, BIND, PowerDNS). */
export const Rfc2136SolverConfig = strictObject({
  type: Type.Literal('rfc2136'),
  /** HOST:PORT of the primary that accepts UPDATE, e.g. "192.0.2.1:53". */
  server: Type.String({ minLength: 3 }),
  /** The zone the names live in, e.g. "example.org". */
  zone: Type.String({ minLength: 1 }),
  tsig: TsigKeyConfig,
});

export const SolverConfig = Type.Union([RegistrySolverConfig, Rfc2136SolverConfig]);

export const AcmeConfig = strictObject({
  /** ACME directory URL. Default: Let's Encrypt production ({@link ACME_DIRECTORIES} lists others). */
  directoryUrl: Type.String({ minLength: 8, default: DEFAULT_DIRECTORY_URL }),
  /** PEM file of extra CA certificates trusted for the ACME API's own TLS (pebble in tests). */
  caFile: Type.Optional(Type.String({ minLength: 1 })),
  /** Contact address given to the CA (optional). */
  email: Type.Optional(Type.String({ minLength: 3 })),
  /** External Account Binding, required by ZeroSSL. */
  eab: Type.Optional(ExternalAccountBinding),
  solver: Type.Union([RegistrySolverConfig, Rfc2136SolverConfig], { default: { type: 'registry' } }),
  /**
   * HOST:PORT of every authoritative server of the zone, checked directly before the CA validates.
   * Default: discovered from the zone's NS records (port 53).
   */
  authoritativeServers: Type.Optional(Type.Array(Type.String({ minLength: 3 }), { minItems: 1, maxItems: 16 })),
  /** Bounded wait for the TXT value at every authoritative server, ms. Default 2 minutes. */
  propagationTimeoutMs: Type.Integer({ minimum: 0, default: DEFAULT_PROPAGATION_TIMEOUT_MS }),
  /** Pause between propagation checks, ms. Default 2 s. */
  propagationIntervalMs: Type.Integer({ minimum: 10, default: DEFAULT_PROPAGATION_INTERVAL_MS }),
  /** Renew when this fraction of the certificate lifetime is left. Default 1/3. */
  renewFractionLeft: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1, default: DEFAULT_RENEW_FRACTION_LEFT }),
  /** First back-off after a failed renewal, ms. Default 1 minute. */
  backoffMinMs: Type.Integer({ minimum: 1, default: DEFAULT_BACKOFF_MIN_MS }),
  /** Longest back-off between attempts, ms. Default 6 hours. */
  backoffMaxMs: Type.Integer({ minimum: 1, default: DEFAULT_BACKOFF_MAX_MS }),
});
export type AcmeConfig = Static<typeof AcmeConfig>;
export type SolverConfig = Static<typeof SolverConfig>;
export type Rfc2136SolverConfig = Static<typeof Rfc2136SolverConfig>;
export type TsigKeyConfig = Static<typeof TsigKeyConfig>;
