/**
 * The device side of the registry API (contract: ddns/protocol.ts). Registration proves possession
 * of the device key by signing a fresh registry nonce; every later call carries a fresh EdDSA JWT
 * (RFC 7519 / RFC 8037) signed by the device key: lifetime {@link DEVICE_JWT_LIFETIME_S}, unique jti,
 * aud = registryAudience(zone). Errors from the registry's `{ error: { code } }` bodies are rethrown
 * as NodegateError with that code and the HTTP status.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { Value } from '@sinclair/typebox/value';
import type { TSchema, Static } from '@sinclair/typebox';
import { NodegateError, type ErrorCode } from '../../core/errors.ts';
import {
  DeviceResponse,
  ErrorResponse,
  NonceResponse,
  ProbeResponse,
  RegisterResponse,
  WhoamiResponse,
  registrationMessage,
  registryAudience,
  MAX_DEVICE_JWT_LIFETIME_S,
  type AddressUpdateRequest,
  type ProbeRequest,
} from '../protocol.ts';
import { signBytes, type DeviceIdentity } from './identity.ts';

/** Lifetime of each request's JWT, seconds: well under the registry's 60 s cap, leaving room for skew. */
export const DEVICE_JWT_LIFETIME_S = 30;
/** Upper bound for one API request (connect + answer), ms. */
export const REGISTRY_REQUEST_TIMEOUT_MS = 10_000;
/** Upper bound for a probe: the registry itself waits up to ~10 s connecting back and handshaking. */
export const REGISTRY_PROBE_TIMEOUT_MS = 20_000;

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface CallOptions {
  signal?: AbortSignal;
}

export interface RegistryClientOptions {
  /** Base URL of the registry API, e.g. `https://registry.example.net`. */
  url: string;
  identity: DeviceIdentity;
  /** The registry's zone (from registration). */
  zone: string;
  fetch?: FetchLike;
  /** Clock in ms since the epoch; default Date.now. */
  now?: () => number;
}

export interface RegisterOptions extends CallOptions {
  url: string;
  identity: DeviceIdentity;
  enrollmentToken?: string;
  fetch?: FetchLike;
  now?: () => number;
}

const KNOWN_CODE = /^NG_[A-Z0-9_]+$/;

function baseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new NodegateError('NG_USAGE', `"${url}" is not a registry URL; give one like https://registry.example.net.`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new NodegateError('NG_USAGE', `The registry URL must be http(s), got "${url}".`);
  }
  return parsed.href.replace(/\/+$/, '');
}

async function request<S extends TSchema>(
  fetchImpl: FetchLike,
  url: string,
  init: { method: string; headers?: Record<string, string>; body?: unknown },
  schema: S,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<Static<S>> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  let text: string;
  try {
    res = await fetchImpl(url, {
      method: init.method,
      headers,
      signal: combined,
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    text = await res.text();
  } catch (err) {
    if (signal?.aborted) throw new NodegateError('NG_ABORTED', `Request to ${url} was cancelled.`, { cause: err });
    if (timeout.aborted) {
      throw new NodegateError('NG_TIMEOUT', `The registry at ${url} did not answer within ${timeoutMs} ms; check that it is running and reachable.`, { cause: err });
    }
    throw new NodegateError('NG_REG_UNAVAILABLE', `Could not reach the registry at ${url}: ${(err as Error).message}. Check the URL and the network.`, { cause: err });
  }
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch (err) {
    throw new NodegateError('NG_REG_PROTOCOL', `The registry at ${url} answered ${res.status} with a body that is not JSON; is the URL the registry API?`, { cause: err, status: res.status });
  }
  if (!res.ok) {
    if (Value.Check(ErrorResponse, body)) {
      const code = (KNOWN_CODE.test(body.error.code) ? body.error.code : 'NG_REG_PROTOCOL') as ErrorCode;
      throw new NodegateError(code, body.error.message, { status: res.status, ...(body.error.details ? { details: body.error.details } : {}) });
    }
    throw new NodegateError(res.status >= 500 ? 'NG_REG_UNAVAILABLE' : 'NG_REG_PROTOCOL', `The registry at ${url} answered HTTP ${res.status} without an error body.`, { status: res.status });
  }
  if (!Value.Check(schema, body)) {
    throw new NodegateError('NG_REG_PROTOCOL', `The registry at ${url} answered with an unexpected body; the registry and this node may run incompatible versions.`);
  }
  return body;
}

export class RegistryClient {
  readonly url: string;
  readonly identity: DeviceIdentity;
  readonly zone: string;
  private readonly fetchImpl: FetchLike;
  private readonly now: () => number;

  constructor(options: RegistryClientOptions) {
    this.url = baseUrl(options.url);
    this.identity = options.identity;
    this.zone = options.zone;
    this.fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    this.now = options.now ?? Date.now;
  }

  /**
   * Registers `identity` (or re-registers it: the registry answers with the same name and a fresh
   * dyndns2 update secret). Fetches a nonce, signs `registrationMessage(nonce, zone)`, posts it.
   */
  static async register(options: RegisterOptions): Promise<{ client: RegistryClient; device: RegisterResponse }> {
    const url = baseUrl(options.url);
    const fetchImpl = options.fetch ?? ((input: string, init: RequestInit) => fetch(input, init));
    const nonce = await request(fetchImpl, `${url}/v1/nonce`, { method: 'POST', body: {} }, NonceResponse, REGISTRY_REQUEST_TIMEOUT_MS, options.signal);
    const signature = signBytes(options.identity, Buffer.from(registrationMessage(nonce.nonce, nonce.zone), 'utf8')).toString('base64url');
    const device = await request(
      fetchImpl,
      `${url}/v1/devices`,
      {
        method: 'POST',
        body: {
          publicKey: options.identity.publicJwk,
          nonce: nonce.nonce,
          signature,
          ...(options.enrollmentToken !== undefined ? { enrollmentToken: options.enrollmentToken } : {}),
        },
      },
      RegisterResponse,
      REGISTRY_REQUEST_TIMEOUT_MS,
      options.signal,
    );
    if (device.id !== options.identity.id) {
      throw new NodegateError('NG_REG_PROTOCOL', `The registry named this device ${device.id}, but its key gives ${options.identity.id}; the registry is not compatible.`);
    }
    const client = new RegistryClient({ url, identity: options.identity, zone: device.zone, ...(options.fetch ? { fetch: options.fetch } : {}), ...(options.now ? { now: options.now } : {}) });
    return { client, device };
  }

  /** A fresh device JWT (unique jti, lifetime {@link DEVICE_JWT_LIFETIME_S}). */
  async token(): Promise<string> {
    const iat = Math.floor(this.now() / 1000);
    const lifetime = Math.min(DEVICE_JWT_LIFETIME_S, MAX_DEVICE_JWT_LIFETIME_S);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA', kid: this.identity.id, typ: 'JWT' })
      .setIssuer(this.identity.id)
      .setSubject(this.identity.id)
      .setAudience(registryAudience(this.zone))
      .setIssuedAt(iat)
      .setExpirationTime(iat + lifetime)
      .setJti(randomUUID())
      .sign(this.identity.privateKey);
  }

  private async deviceCall<S extends TSchema>(method: string, path: string, body: unknown, schema: S, options: CallOptions, timeoutMs = REGISTRY_REQUEST_TIMEOUT_MS): Promise<Static<S>> {
    const authorization = `Bearer ${await this.token()}`;
    return request(this.fetchImpl, `${this.url}/v1/devices/${this.identity.id}${path}`, { method, headers: { authorization }, body }, schema, timeoutMs, options.signal);
  }

  /** The caller's public address as the registry sees it. */
  whoami(options: CallOptions = {}): Promise<WhoamiResponse> {
    return request(this.fetchImpl, `${this.url}/v1/whoami`, { method: 'GET' }, WhoamiResponse, REGISTRY_REQUEST_TIMEOUT_MS, options.signal);
  }

  /** This device's name and records. */
  device(options: CallOptions = {}): Promise<DeviceResponse> {
    return this.deviceCall('GET', '', undefined, DeviceResponse, options);
  }

  /** Sets addresses (`"auto"` = the request's source address, `null` removes, absent = unchanged). */
  updateAddress(update: AddressUpdateRequest, options: CallOptions = {}): Promise<DeviceResponse> {
    return this.deviceCall('PUT', '/address', update, DeviceResponse, options);
  }

  /** Adds a `_acme-challenge` TXT value (at most two are held; a third drops the oldest). */
  addAcmeTxt(value: string, options: CallOptions = {}): Promise<DeviceResponse> {
    return this.deviceCall('POST', '/acme-challenge', { value }, DeviceResponse, options);
  }

  /** Removes a `_acme-challenge` TXT value (absent values are fine). */
  removeAcmeTxt(value: string, options: CallOptions = {}): Promise<DeviceResponse> {
    return this.deviceCall('DELETE', '/acme-challenge', { value }, DeviceResponse, options);
  }

  /** Asks the registry to connect back to `port` at this caller's address. */
  probe(probe: ProbeRequest, options: CallOptions = {}): Promise<ProbeResponse> {
    return this.deviceCall('POST', '/probe', probe, ProbeResponse, options, REGISTRY_PROBE_TIMEOUT_MS);
  }
}
