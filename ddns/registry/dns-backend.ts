/**
 * The DnsBackend port: where the registry's records are published. One implementation serves them
 * itself (the embedded authoritative server, the default); the other pushes them to a real
 * authoritative server by RFC 2136 UPDATE with TSIG (Knot, BIND, PowerDNS) when DNS must scale.
 *
 * Names published for a device `<id>` in zone `<zone>` (TTL {@link DEVICE_RECORD_TTL_S}; the
 * `_acme-challenge` TXT {@link ACME_CHALLENGE_TTL_S}):
 * - `<id>.<zone>` and `*.<id>.<zone>`: A = ipv4, AAAA = ipv6 (RFC 4592 wildcard: any name below
 *   `<id>` that does not exist explicitly gets the device's addresses);
 * - `lan.<id>.<zone>`: A or AAAA = lan (the private address; covered by the `*.<id>` certificate);
 * - `_acme-challenge.<id>.<zone>`: TXT = acmeTxt (0..2 values).
 * For `kind: 'acme-dns'` (an acme-dns API account) only TXT = acmeTxt at `<id>.<zone>` exists, with
 * TTL {@link ACME_DNS_TXT_TTL_S} as acme-dns serves it.
 *
 * Contract
 * - `putDevice` replaces every record of that device with the given set; idempotent. It resolves
 *   once the change is served (embedded: at once; RFC 2136: the server acknowledged it), and rejects
 *   with a NodegateError (NG_DNS_*) otherwise — the caller keeps its store as the truth and retries.
 * - Calls for different devices may run concurrently; calls for one device are serialised by the
 *   caller (the registry store).
 * - `removeDevice` of an unknown id succeeds.
 */
export interface DeviceRecordSet {
  /** DNS label: the device id (16 base32 chars) or an acme-dns subdomain (a UUID). */
  id: string;
  kind?: 'device' | 'acme-dns';
  ipv4: string | null;
  ipv6: string | null;
  lan: string | null;
  acmeTxt: string[];
}

export interface BackendCallOptions {
  signal?: AbortSignal;
}

export interface DnsBackend {
  putDevice(set: DeviceRecordSet, options?: BackendCallOptions): Promise<void>;
  removeDevice(id: string, options?: BackendCallOptions): Promise<void>;
  close(): Promise<void>;
}

/** Optional power: load every device at start-up in one go (the embedded server builds its zone). */
export interface BulkLoadingDnsBackend extends DnsBackend {
  loadAll(sets: Iterable<DeviceRecordSet>): Promise<void>;
}

export function isBulkLoading(backend: DnsBackend): backend is BulkLoadingDnsBackend {
  return typeof (backend as Partial<BulkLoadingDnsBackend>).loadAll === 'function';
}

/** TTL of device records, seconds: low so an address change is seen quickly. */
export const DEVICE_RECORD_TTL_S = 60;
/**
 * TTL of a device's own `_acme-challenge.<id>` TXT, seconds: the device record TTL. The node's
 * certificate manager retries a failed order no sooner than 60 s later (certs/config.ts
 * DEFAULT_BACKOFF_MIN_MS), so a resolver never answers a retry from a value cached for the
 * previous attempt.
 */
export const ACME_CHALLENGE_TTL_S = DEVICE_RECORD_TTL_S;
/**
 * TTL of the TXT of an acme-dns account (`<subdomain>.<zone>`), seconds: 1, as acme-dns answers
 * (joohoi/acme-dns dns.go, answerTXT: `Ttl: 1`). acme-dns clients (certbot hooks, lego, acme.sh)
 * may retry a failed validation at once; with a longer TTL the CA's resolver would still hold the
 * old value.
 */
export const ACME_DNS_TXT_TTL_S = 1;
/** Negative-caching TTL (SOA minimum), seconds: a name registered a moment ago must not stay NXDOMAIN. */
export const NEGATIVE_TTL_S = 30;
