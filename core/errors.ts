/**
 * The one error type of nodegate. Every domain failure is a {@link NodegateError} with a stable
 * `code` (tests, callers and the CLI match on the code, never on the message), a message that names
 * the object and the fix, an optional HTTP status for API replies, and `cause` for the lower failure.
 * Misuse by a caller (a wrong argument type, an impossible option) is a plain `TypeError` instead.
 *
 * Codes are grouped by the part of the system that raises them; add new ones to the right group.
 */

/** Codes raised by core/ and the CLI. */
export type CoreErrorCode =
  | 'NG_USAGE' // bad command line: exit 2
  | 'NG_CONFIG_INVALID' // a config file that fails its schema: exit 2
  | 'NG_CONFIG_MISSING' // no config where one is required (run `nodegate init`): exit 2
  | 'NG_FILE_CORRUPT' // a stored file that cannot be parsed
  | 'NG_FILE_IO' // a read/write/fsync/rename that failed
  | 'NG_LOCKED' // another process holds the lock
  | 'NG_ABORTED' // cancelled through an AbortSignal
  | 'NG_TIMEOUT' // a bounded wait ran out
  | 'NG_DEMO_STATE' // nodegate demo cannot use its ports or its state directory (says why, before any wait)
  | 'NG_INTERNAL'; // a bug: never expected

/** Codes raised by the registry (ddns/registry) and its protocol. */
export type RegistryErrorCode =
  | 'NG_REG_BAD_REQUEST'
  | 'NG_REG_BODY_TOO_LARGE'
  | 'NG_REG_NONCE_UNKNOWN'
  | 'NG_REG_BAD_SIGNATURE'
  | 'NG_REG_BAD_KEY'
  | 'NG_REG_ENROLLMENT_REQUIRED'
  | 'NG_REG_ENROLLMENT_INVALID'
  | 'NG_REG_RATE_LIMITED'
  | 'NG_REG_UNAUTHENTICATED'
  | 'NG_REG_TOKEN_EXPIRED'
  | 'NG_REG_TOKEN_REPLAYED'
  | 'NG_REG_FORBIDDEN'
  | 'NG_REG_DEVICE_UNKNOWN'
  | 'NG_REG_ADDRESS_INVALID'
  | 'NG_REG_ADDRESS_SPECIAL'
  | 'NG_REG_TXT_INVALID'
  | 'NG_REG_PROBE_FAILED'
  | 'NG_REG_UNAVAILABLE'
  | 'NG_REG_TOKEN_INVALID' // malformed JWT, wrong alg, bad signature, wrong audience
  | 'NG_REG_TOKEN_LIFETIME' // exp - iat above MAX_DEVICE_JWT_LIFETIME_S
  | 'NG_REG_NOT_FOUND' // no such route
  | 'NG_REG_PROTOCOL'; // the registry answered something the client cannot read

/** Codes raised by DNS: the embedded server, wire parsing, RFC 2136 + TSIG. */
export type DnsErrorCode =
  | 'NG_DNS_ZONE_UNKNOWN'
  | 'NG_DNS_MALFORMED'
  | 'NG_DNS_TSIG_BADSIG'
  | 'NG_DNS_TSIG_BADKEY'
  | 'NG_DNS_TSIG_BADTIME'
  | 'NG_DNS_TSIG_MISSING'
  | 'NG_DNS_UPDATE_REFUSED'
  | 'NG_DNS_UPDATE_FAILED'
  | 'NG_DNS_TIMEOUT';

/** Codes raised by certs/. */
export type CertErrorCode =
  | 'NG_CERT_ACME'
  | 'NG_CERT_ACME_RATE_LIMITED'
  | 'NG_CERT_CHALLENGE_INVALID'
  | 'NG_CERT_TXT_NOT_VISIBLE'
  | 'NG_CERT_STORE_CORRUPT'
  | 'NG_CERT_KEY_MISMATCH'
  | 'NG_CERT_NONE'
  | 'NG_CERT_CLOCK';

/** Codes raised by the gateway (listeners, proxy, auth, pairing, owner pages). */
export type GatewayErrorCode =
  | 'NG_GW_UNAUTHENTICATED'
  | 'NG_GW_TOKEN_INVALID'
  | 'NG_GW_TOKEN_EXPIRED'
  | 'NG_GW_TOKEN_REVOKED'
  | 'NG_GW_SCOPE'
  | 'NG_GW_PATH_FORBIDDEN'
  | 'NG_GW_BAD_REQUEST'
  | 'NG_GW_HOST_MISMATCH'
  | 'NG_GW_UPSTREAM_UNREACHABLE'
  | 'NG_GW_UPSTREAM_TIMEOUT'
  | 'NG_GW_UPSTREAM_TLS'
  | 'NG_GW_LOGIN_FAILED'
  | 'NG_GW_LOGIN_THROTTLED'
  | 'NG_GW_CSRF'
  | 'NG_GW_MACAROON_MISSING'
  | 'NG_GW_WALLET_UNLOCK'
  | 'NG_GW_HEADERS_TOO_LARGE' // 431: request headers over limits.maxHeaderBytes
  | 'NG_GW_BODY_TOO_LARGE' // 413: request body over limits.maxBodyBytes
  | 'NG_GW_REQUEST_TIMEOUT' // 408: a client too slow to send its headers or body
  | 'NG_GW_NOT_FOUND' // 404: no route for this path on this listener
  | 'NG_GW_TOKEN_UNKNOWN' // token id not in the token list (token list, revoke)
  | 'NG_GW_SHUTTING_DOWN'; // 503: the gateway is stopping

/** Codes raised by the reachability client (ddns/client). */
export type ReachErrorCode =
  | 'NG_NET_NO_GATEWAY'
  | 'NG_NET_UPNP'
  | 'NG_NET_UPNP_UNAVAILABLE'
  | 'NG_NET_NATPMP'
  | 'NG_NET_PCP'
  | 'NG_NET_MAPPING_REFUSED'
  | 'NG_NET_PUBLIC_IP'
  | 'NG_NET_MALFORMED' // a router/STUN reply that does not parse (details.protocol)
  | 'NG_NET_TIMEOUT' // the router or registry did not answer in time (details.protocol)
  | 'NG_NET_STUN' // STUN binding failed (RFC 5389)
  | 'NG_NET_NO_MAPPER' // no UPnP, NAT-PMP or PCP answered on the LAN
  | 'NG_NET_REGISTRY'; // the registry refused or could not be reached (updates are queued)

/** Codes raised by tor/. */
export type TorErrorCode =
  | 'NG_TOR_NOT_INSTALLED'
  | 'NG_TOR_START'
  | 'NG_TOR_CONTROL_CONNECT'
  | 'NG_TOR_CONTROL_CLOSED'
  | 'NG_TOR_PROTOCOL'
  | 'NG_TOR_AUTH'
  | 'NG_TOR_COMMAND'
  | 'NG_TOR_KEY_CORRUPT'
  | 'NG_TOR_BOOTSTRAP';

/** Codes raised by the node's notifications (gateway/notify). */
export type NotifyErrorCode =
  | 'NG_NOTIFY_WEBHOOK' // the webhook could not be reached or did not answer 2xx (details.reason, status)
  | 'NG_NOTIFY_SMTP' // the mail server could not be reached or refused (details.reason, status)
  | 'NG_NOTIFY_NO_CHANNEL' // a test was asked for but no webhook or e-mail is set up
  | 'NG_NOTIFY_RATE_LIMITED'; // a test too soon after the last one, or the daily cap reached

export type ErrorCode =
  | CoreErrorCode
  | NotifyErrorCode
  | RegistryErrorCode
  | DnsErrorCode
  | CertErrorCode
  | GatewayErrorCode
  | ReachErrorCode
  | TorErrorCode;

export interface NodegateErrorOptions {
  /** HTTP status to answer with when this error ends an API request. */
  status?: number;
  /** The lower failure that led to this one. */
  cause?: unknown;
  /** Machine-readable details safe to show a client (never secrets). */
  details?: Record<string, unknown>;
}

export class NodegateError extends Error {
  override readonly name = 'NodegateError';
  readonly code: ErrorCode;
  readonly status: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: NodegateErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status;
    this.details = options.details;
  }

  /** The JSON body an API answers with: `{ error: { code, message, details? } }`. */
  toJSON(): { error: { code: ErrorCode; message: string; details?: Record<string, unknown> } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details ? { details: this.details } : {}),
      },
    };
  }
}

export function isNodegateError(err: unknown, code?: ErrorCode): err is NodegateError {
  return err instanceof NodegateError && (code === undefined || err.code === code);
}

/** CLI exit code for an error: 2 for bad usage or bad config, 1 for any other failure. */
export function exitCodeFor(err: unknown): 1 | 2 {
  if (err instanceof NodegateError) {
    if (err.code === 'NG_USAGE' || err.code === 'NG_CONFIG_INVALID' || err.code === 'NG_CONFIG_MISSING') return 2;
  }
  return 1;
}

/** The message of any thrown value, for logs and wrapping (never for matching). */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
