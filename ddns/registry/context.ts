/**
 * What every plugin of the registry API shares: the context they work with and the request helpers
 * (client address, rate-limit hook, the locked read-modify-write of a device's records). A module of
 * its own so that the plugins (api.ts, acmedns.ts, dyndns2.ts, probe.ts) import it and not each other.
 */
import type { FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Logger } from '../../core/log.ts';
import { NodegateError } from '../../core/errors.ts';
import { LAN_LABEL, type DeviceResponse } from '../protocol.ts';
import type { DeviceRecordSet } from './dns-backend.ts';
import type { RegistryStore, StoredDevice, DeviceRecordFields } from './store.ts';
import type { Publisher } from './publisher.ts';
import type { GroupCommitter, KeyedMutex } from './group-commit.ts';
import { normalizeSourceAddress, type AddressPolicy } from './addresses.ts';
import type { EnrollmentTokens, NonceBook, TokenVerifier } from './auth.ts';
import type { TokenBucketLimiter } from './rate-limit.ts';

/** What every plugin of the registry API works with. */
export interface RegistryContext {
  zone: string;
  store: RegistryStore;
  publisher: Publisher;
  /** Group commit of record changes. */
  writer: GroupCommitter;
  /** Serialises read-modify-write per device id. */
  locks: KeyedMutex;
  policy: AddressPolicy;
  verifier: TokenVerifier;
  nonces: NonceBook;
  enrollment: EnrollmentTokens;
  limits: { register: TokenBucketLimiter; api: TokenBucketLimiter };
  /** PEM of extra CAs trusted by the probe (besides Node's root store). */
  probeCa: string | undefined;
  now: () => number;
  log: Logger;
}

export function deviceName(zone: string, id: string): string {
  return `${id}.${zone}`;
}

export function recordSetOf(device: StoredDevice): DeviceRecordSet {
  return { id: device.id, kind: 'device', ipv4: device.ipv4, ipv6: device.ipv6, lan: device.lan, acmeTxt: device.acmeTxt };
}

export function deviceResponse(zone: string, d: StoredDevice): DeviceResponse {
  return {
    id: d.id,
    name: deviceName(zone, d.id),
    zone,
    lanName: `${LAN_LABEL}.${deviceName(zone, d.id)}`,
    records: { ipv4: d.ipv4, ipv6: d.ipv6, lan: d.lan, acmeTxt: d.acmeTxt },
    updatedAt: new Date(d.updatedAt).toISOString(),
  };
}

/** The client's address (behind a trusted proxy: from X-Forwarded-For), IPv4-mapped unwrapped. */
export function sourceAddress(req: FastifyRequest): string {
  return normalizeSourceAddress(req.ip);
}

/** An onRequest hook taking one token of `limiter` for the source address (429 NG_REG_RATE_LIMITED when empty). */
export function limitHook(limiter: TokenBucketLimiter): onRequestHookHandler {
  return (req, _reply, done) => {
    try {
      limiter.take(sourceAddress(req));
    } catch (err) {
      done(err as Error);
      return;
    }
    done();
  };
}

/**
 * Changes the records of a device: under the device's lock, reads its stored state, lets `compute`
 * decide the new records (it may throw a coded error), commits them when they differ (group
 * commit: durable before this resolves), then publishes them.
 */
export function changeRecords(ctx: RegistryContext, id: string, compute: (device: StoredDevice) => DeviceRecordFields): Promise<{ device: StoredDevice; changed: boolean }> {
  return ctx.locks.run(id, async () => {
    const device = ctx.store.getDevice(id);
    if (!device) throw new NodegateError('NG_REG_DEVICE_UNKNOWN', `No device ${id} is registered; register first.`, { status: 404 });
    const next = compute(device);
    const same =
      device.ipv4 === next.ipv4 &&
      device.ipv6 === next.ipv6 &&
      device.lan === next.lan &&
      device.acmeTxt.length === next.acmeTxt.length &&
      device.acmeTxt.every((v, i) => v === next.acmeTxt[i]);
    if (same) return { device, changed: false };
    const stored = await ctx.writer.setRecords(id, next);
    await ctx.publisher.publish(id);
    return { device: stored, changed: true };
  });
}
