/**
 * `GET /v1/whoami` (the caller's address, a public-IP source for devices) and
 * `POST /v1/devices/:id/probe`: the registry connects back to a port at the caller's OWN source
 * address — never any other, so the probe cannot be aimed at third parties — and reports TCP
 * reachability and, with TLS (SNI = the device name), the certificate it saw and whether it is
 * trusted for that name (Node's root store plus the operator's `--probe-ca`). Special-purpose
 * source addresses (loopback, private...) are refused unless the operator allowed them with
 * `--allow-address`, so the registry cannot be made to probe its own host or LAN.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, checkServerIdentity, rootCertificates, type PeerCertificate, type TLSSocket } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Type } from '@sinclair/typebox';
import { NodegateError } from '../../core/errors.ts';
import { ErrorResponse, ProbeRequest, ProbeResponse, WhoamiResponse } from '../protocol.ts';
import { familyOf } from './addresses.ts';
import { deviceName, limitHook, sourceAddress, type RegistryContext } from './context.ts';

/** Longest wait for the TCP connection back to the device, ms: a home router answers in well under 1 s; a silent drop must not hold the request. */
export const PROBE_CONNECT_TIMEOUT_MS = 5_000;
/** Longest wait for the TLS handshake once connected, ms. */
export const PROBE_TLS_TIMEOUT_MS = 5_000;

export interface ProbeTarget {
  address: string;
  port: number;
  /** Do a TLS handshake with this SNI after connecting; undefined = TCP only. */
  servername?: string;
  /** PEM CAs to verify against (default: Node's root store). */
  ca?: string[];
  signal?: AbortSignal;
  now?: () => number;
  /** Default {@link PROBE_CONNECT_TIMEOUT_MS}. */
  connectTimeoutMs?: number;
  /** Default {@link PROBE_TLS_TIMEOUT_MS}. */
  tlsTimeoutMs?: number;
}

function parseNames(cert: PeerCertificate): string[] {
  const names = (cert.subjectaltname ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
  return names;
}

function formatDn(dn: unknown): string {
  if (!dn || typeof dn !== 'object') return '';
  return Object.entries(dn as Record<string, string | string[]>)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`)
    .join(', ');
}

/** Connects to `address:port` (and optionally handshakes TLS); never throws for network failures. */
export async function probeEndpoint(target: ProbeTarget): Promise<ProbeResponse> {
  const now = target.now ?? Date.now;
  const started = now();
  const base = { address: target.address, port: target.port };
  const elapsed = () => Math.max(0, now() - started);
  let socket: Socket | undefined;
  let tlsSocket: TLSSocket | undefined;
  try {
    socket = await new Promise<Socket>((resolve, reject) => {
      const s = netConnect({ host: target.address, port: target.port, family: familyOf(target.address) === 'ipv6' ? 6 : 4 });
      const timer = setTimeout(() => reject(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })), target.connectTimeoutMs ?? PROBE_CONNECT_TIMEOUT_MS);
      const onAbort = () => reject(Object.assign(new Error('aborted'), { code: 'ABORT_ERR' }));
      target.signal?.addEventListener('abort', onAbort, { once: true });
      s.once('connect', () => {
        clearTimeout(timer);
        target.signal?.removeEventListener('abort', onAbort);
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        target.signal?.removeEventListener('abort', onAbort);
        reject(err);
      });
      socket = s;
    });
  } catch (err) {
    socket?.destroy();
    const code = (err as NodeJS.ErrnoException).code;
    const failure = code === 'ECONNREFUSED' ? 'refused' : code === 'ETIMEDOUT' ? 'timeout' : code === 'ABORT_ERR' ? 'aborted' : 'unreachable';
    return { ...base, reachable: false, elapsedMs: elapsed(), failure };
  }
  if (target.servername === undefined) {
    socket.destroy();
    return { ...base, reachable: true, elapsedMs: elapsed() };
  }
  const servername = target.servername;
  try {
    const cert = await new Promise<PeerCertificate & { authorizedChain: boolean }>((resolve, reject) => {
      const t = tlsConnect({ socket: socket!, servername, rejectUnauthorized: false, ca: target.ca ?? [...rootCertificates] });
      tlsSocket = t;
      const timer = setTimeout(() => reject(new Error('TLS handshake timeout')), target.tlsTimeoutMs ?? PROBE_TLS_TIMEOUT_MS);
      t.once('secureConnect', () => {
        clearTimeout(timer);
        resolve(Object.assign(t.getPeerCertificate(), { authorizedChain: t.authorized }));
      });
      t.once('error', (err: Error) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    if (!cert || !cert.raw) return { ...base, reachable: true, elapsedMs: elapsed(), failure: 'tls' };
    const nameOk = checkServerIdentity(servername, cert) === undefined;
    return {
      ...base,
      reachable: true,
      elapsedMs: elapsed(),
      certificate: {
        subject: formatDn(cert.subject),
        issuer: formatDn(cert.issuer),
        names: parseNames(cert),
        validTo: new Date(cert.valid_to).toISOString(),
        fingerprint256: cert.fingerprint256,
        trusted: cert.authorizedChain && nameOk,
      },
    };
  } catch {
    // TCP worked; the TLS failure is the finding (no certificate to report).
    return { ...base, reachable: true, elapsedMs: elapsed(), failure: 'tls' };
  } finally {
    tlsSocket?.destroy();
    socket.destroy();
  }
}

export const probePlugin = fp(
  (app: FastifyInstance, { ctx }: { ctx: RegistryContext }, done: (err?: Error) => void) => {
    const trust = ctx.probeCa ? [...rootCertificates, ctx.probeCa] : [...rootCertificates];

    app.get(
      '/v1/whoami',
      { onRequest: limitHook(ctx.limits.api), schema: { tags: ['devices'], summary: "The caller's address as the registry sees it", response: { 200: WhoamiResponse, '4xx': ErrorResponse } } },
      (req) => {
        const address = sourceAddress(req);
        return { address, family: familyOf(address) === 'ipv6' ? 6 : 4 };
      },
    );

    app.post<{ Params: { id: string }; Body: ProbeRequest }>(
      '/v1/devices/:id/probe',
      {
        onRequest: limitHook(ctx.limits.api),
        schema: {
          tags: ['devices'],
          summary: "Connect back to a port at the caller's own address and report reachability and the certificate seen",
          params: Type.Object({ id: Type.String({ pattern: '^[a-z2-7]{16}$' }) }),
          body: ProbeRequest,
          security: [{ deviceJwt: [] }],
          response: { 200: ProbeResponse, '4xx': ErrorResponse, '5xx': ErrorResponse },
        },
      },
      async (req) => {
        const caller = await ctx.verifier.verify(req.headers.authorization);
        if (caller !== req.params.id) {
          throw new NodegateError('NG_REG_FORBIDDEN', `This token belongs to device ${caller}; a device can probe only for itself.`, { status: 403 });
        }
        const address = sourceAddress(req);
        if (!ctx.policy.mayConnectTo(address)) {
          throw new NodegateError('NG_REG_ADDRESS_SPECIAL', `The registry does not connect back to ${address} (a special-purpose address); probe from the public internet.`, { status: 422 });
        }
        return probeEndpoint({
          address,
          port: req.body.port,
          ...(req.body.tls === false ? {} : { servername: deviceName(ctx.zone, caller) }),
          ca: trust,
          now: ctx.now,
        });
      },
    );
    done();
  },
  { name: 'nodegate-registry-probe', fastify: '5.x' },
);
