/**
 * The registry API: request and response schemas shared by the registry (ddns/registry) and the
 * device side (ddns/client, certs). The TypeBox schemas are both the TypeScript types and the
 * JSON Schemas fastify validates with (and publishes as OpenAPI at `/openapi.json`).
 *
 * Authentication
 * - Registration proves possession of an Ed25519 key: the device fetches a nonce
 *   (`POST /v1/nonce`) and signs the UTF-8 bytes of `registrationMessage(nonce, zone)`.
 * - Every later device call carries `Authorization: Bearer <JWT>`: alg EdDSA, signed by the device
 *   key, header `kid` = device id, claims `iss` = `sub` = device id, `aud` = `registryAudience(zone)`,
 *   `iat`, `exp` (exp - iat <= {@link MAX_DEVICE_JWT_LIFETIME_S}), and a unique `jti` (replays are
 *   refused).
 *
 * Errors are `{ error: { code, message, details? } }` with a stable `code` (see core/errors.ts).
 */
import { FormatRegistry, Type, type Static } from '@sinclair/typebox';
import { isIPv4, isIPv6 } from 'node:net';

// TypeBox's Value.Check knows no formats until registered (fastify's Ajv has its own, ajv-formats).
if (!FormatRegistry.Has('ipv4')) FormatRegistry.Set('ipv4', (v) => isIPv4(v));
if (!FormatRegistry.Has('ipv6')) FormatRegistry.Set('ipv6', (v) => isIPv6(v));

/** Longest lifetime the registry accepts for a device JWT, in seconds. */
export const MAX_DEVICE_JWT_LIFETIME_S = 60;
/** How long a registration nonce stays valid, in seconds. */
export const NONCE_LIFETIME_S = 300;
/** Most `_acme-challenge` TXT values held at once: one per name of an apex + wildcard order. */
export const MAX_ACME_TXT_VALUES = 2;
/** Length of a device id: base32 (RFC 4648, lower case, no padding) of the first 10 bytes of SHA-256(public key). */
export const DEVICE_ID_LENGTH = 16;
/** Label under the device name that resolves to the device's private (LAN) address. */
export const LAN_LABEL = 'lan';

export function registrationMessage(nonce: string, zone: string): string {
  return `nodegate-register:${zone}:${nonce}`;
}

export function registryAudience(zone: string): string {
  return `nodegate-registry:${zone}`;
}

const Ipv4 = Type.String({ format: 'ipv4', maxLength: 15 });
const Ipv6 = Type.String({ format: 'ipv6', maxLength: 45 });
const DeviceId = Type.String({ pattern: '^[a-z2-7]{16}$' });

export const Ed25519PublicJwk = Type.Object(
  {
    kty: Type.Literal('OKP'),
    crv: Type.Literal('Ed25519'),
    x: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }),
  },
  { additionalProperties: true },
);
export type Ed25519PublicJwk = Static<typeof Ed25519PublicJwk>;

export const NonceResponse = Type.Object({
  nonce: Type.String(),
  expiresAt: Type.String(),
  /** The registry's zone: the device signs `registrationMessage(nonce, zone)`. */
  zone: Type.String(),
});
export type NonceResponse = Static<typeof NonceResponse>;

export const RegisterRequest = Type.Object(
  {
    publicKey: Ed25519PublicJwk,
    nonce: Type.String({ maxLength: 128 }),
    /** base64url Ed25519 signature over registrationMessage(nonce, zone). */
    signature: Type.String({ pattern: '^[A-Za-z0-9_-]{86}$' }),
    enrollmentToken: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);
export type RegisterRequest = Static<typeof RegisterRequest>;

export const DeviceRecords = Type.Object({
  ipv4: Type.Union([Ipv4, Type.Null()]),
  ipv6: Type.Union([Ipv6, Type.Null()]),
  /** Private address served at `lan.<id>.<zone>`. */
  lan: Type.Union([Type.String({ maxLength: 45 }), Type.Null()]),
  acmeTxt: Type.Array(Type.String()),
});
export type DeviceRecords = Static<typeof DeviceRecords>;

export const DeviceResponse = Type.Object({
  id: DeviceId,
  /** `<id>.<zone>` */
  name: Type.String(),
  zone: Type.String(),
  /** `lan.<id>.<zone>` */
  lanName: Type.String(),
  records: DeviceRecords,
  /** ISO time of the last record change. */
  updatedAt: Type.String(),
});
export type DeviceResponse = Static<typeof DeviceResponse>;

export const RegisterResponse = Type.Intersect([
  DeviceResponse,
  Type.Object({
    /**
     * Password for the dyndns2 endpoint (`/nic/update`, HTTP basic auth, user = device name),
     * returned only when the device is first registered or when `rotateUpdateSecret` is called.
     */
    updateSecret: Type.Optional(Type.String()),
  }),
]);
export type RegisterResponse = Static<typeof RegisterResponse>;

/**
 * `PUT /v1/devices/:id/address`. A field left out is unchanged; `null` removes the record.
 * `"auto"` for ipv4/ipv6 means: the source address of this request.
 */
export const AddressUpdateRequest = Type.Object(
  {
    ipv4: Type.Optional(Type.Union([Ipv4, Type.Literal('auto'), Type.Null()])),
    ipv6: Type.Optional(Type.Union([Ipv6, Type.Literal('auto'), Type.Null()])),
    lan: Type.Optional(Type.Union([Ipv4, Ipv6, Type.Null()])),
  },
  { additionalProperties: false },
);
export type AddressUpdateRequest = Static<typeof AddressUpdateRequest>;

/** `POST /v1/devices/:id/acme-challenge` adds a value, `DELETE` (same body) removes it. */
export const AcmeTxtRequest = Type.Object(
  {
    /** The DNS-01 key authorization digest: base64url of SHA-256, 43 chars. */
    value: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }),
  },
  { additionalProperties: false },
);
export type AcmeTxtRequest = Static<typeof AcmeTxtRequest>;

export const WhoamiResponse = Type.Object({
  address: Type.String(),
  family: Type.Union([Type.Literal(4), Type.Literal(6)]),
});
export type WhoamiResponse = Static<typeof WhoamiResponse>;

/** `POST /v1/devices/:id/probe`: the registry connects back to the caller's own address. */
export const ProbeRequest = Type.Object(
  {
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    /** Also do a TLS handshake (SNI = the device name) and report the certificate. Default true. */
    tls: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type ProbeRequest = Static<typeof ProbeRequest>;

export const ProbeResponse = Type.Object({
  address: Type.String(),
  port: Type.Integer(),
  reachable: Type.Boolean(),
  /** Milliseconds until connected, or until the failure. */
  elapsedMs: Type.Number(),
  /** 'refused' | 'timeout' | 'unreachable' | 'tls' | other short reason when not reachable. */
  failure: Type.Optional(Type.String()),
  certificate: Type.Optional(
    Type.Object({
      subject: Type.String(),
      issuer: Type.String(),
      names: Type.Array(Type.String()),
      validTo: Type.String(),
      fingerprint256: Type.String(),
      /** Whether the chain verified against the registry's trust store for the device name. */
      trusted: Type.Boolean(),
    }),
  ),
});
export type ProbeResponse = Static<typeof ProbeResponse>;

/**
 * acme-dns `POST /register` answer (https://github.com/joohoi/acme-dns#api). The request bodies of
 * the acme-dns endpoints are not schemas: they are decoded as acme-dns's Go code decodes them
 * (ddns/registry/acmedns-go.ts), keys in any case, whatever the Content-Type.
 */
export const AcmeDnsRegisterResponse = Type.Object({
  username: Type.String(),
  password: Type.String(),
  fulldomain: Type.String(),
  subdomain: Type.String(),
  allowfrom: Type.Array(Type.String()),
});
export type AcmeDnsRegisterResponse = Static<typeof AcmeDnsRegisterResponse>;
/** acme-dns `POST /update` answer. */
export const AcmeDnsUpdateResponse = Type.Object({ txt: Type.String() });
/** acme-dns's error body, `{"error": "forbidden"}` (acme-dns util.go jsonError). */
export const AcmeDnsErrorResponse = Type.Object({ error: Type.String() });

export const ErrorResponse = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  }),
});
export type ErrorResponse = Static<typeof ErrorResponse>;
