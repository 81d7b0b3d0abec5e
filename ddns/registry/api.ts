/**
 * The registry's HTTP API (fastify). Each feature is a plugin of its own: devices (registration,
 * records; this file), whoami + probe (probe.ts), acme-dns (acmedns.ts), dyndns2 (dyndns2.ts),
 * and the OpenAPI description at `/openapi.json` (@fastify/swagger, generated from the TypeBox
 * schemas of ddns/protocol.ts). Errors are `{ error: { code, message, details? } }` with a status.
 */
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyError, type FastifyBaseLogger } from 'fastify';
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import { Type } from '@sinclair/typebox';
import { NodegateError, isNodegateError } from '../../core/errors.ts';
import {
  AcmeTxtRequest,
  AddressUpdateRequest,
  DeviceResponse,
  ErrorResponse,
  MAX_ACME_TXT_VALUES,
  NonceResponse,
  RegisterRequest,
  RegisterResponse,
} from '../protocol.ts';
import { familyOf } from './addresses.ts';
import { hashSecret, verifyRegistration } from './auth.ts';
import { changeRecords, deviceResponse, limitHook, sourceAddress, type RegistryContext } from './context.ts';
import { probePlugin } from './probe.ts';
import { acmeDnsPlugin } from './acmedns.ts';
import { dyndns2Plugin } from './dyndns2.ts';

export type { RegistryContext } from './context.ts';
export { recordSetOf } from './context.ts';

/** Largest request body accepted, bytes: every request of the protocol fits in well under 2 KiB. */
export const BODY_LIMIT_BYTES = 16 * 1024;
/** Longest a request may take end to end, ms (a probe waits up to ~10 s). */
export const REQUEST_TIMEOUT_MS = 30_000;

/** Authenticates a device call and checks that it touches its own id; returns that id. */
async function authenticate(ctx: RegistryContext, req: FastifyRequest<{ Params: { id: string } }>): Promise<string> {
  const caller = await ctx.verifier.verify(req.headers.authorization);
  if (caller !== req.params.id) {
    throw new NodegateError('NG_REG_FORBIDDEN', `This token belongs to device ${caller}; a device can change only its own records.`, { status: 403 });
  }
  return caller;
}

const IdParams = Type.Object({ id: Type.String({ pattern: '^[a-z2-7]{16}$' }) });
const errorResponses = { '4xx': ErrorResponse, '5xx': ErrorResponse };
const bearer = [{ deviceJwt: [] }];

const devicesPlugin = fp(
  (app: FastifyInstance, { ctx }: { ctx: RegistryContext }, done: (err?: Error) => void) => {
    app.post(
      '/v1/nonce',
      { onRequest: limitHook(ctx.limits.register), schema: { tags: ['devices'], summary: 'A single-use registration nonce', response: { 200: NonceResponse, ...errorResponses } } },
      () => {
        const { nonce, expiresAt } = ctx.nonces.issue();
        return { nonce, expiresAt: new Date(expiresAt).toISOString(), zone: ctx.zone };
      },
    );

    app.post<{ Body: RegisterRequest }>(
      '/v1/devices',
      {
        onRequest: limitHook(ctx.limits.register),
        schema: { tags: ['devices'], summary: 'Register a device key (or re-register: same name, fresh update secret)', body: RegisterRequest, response: { 200: RegisterResponse, 201: RegisterResponse, ...errorResponses } },
      },
      async (req, reply) => {
        const body = req.body;
        ctx.enrollment.check(body.enrollmentToken);
        ctx.nonces.consume(body.nonce);
        const id = verifyRegistration(body.publicKey, body.nonce, body.signature, ctx.zone);
        const updateSecret = randomBytes(32).toString('base64url');
        const { device, created } = ctx.store.upsertDevice(id, body.publicKey.x, hashSecret(updateSecret), ctx.now());
        ctx.verifier.forget(id);
        if (created) {
          // A new device has no records yet: a backend failure here only delays its empty set,
          // which the publisher retries; the registration itself stands.
          await ctx.publisher.publish(id).catch((err: unknown) => {
            if (!isNodegateError(err, 'NG_REG_UNAVAILABLE')) throw err;
          });
        }
        ctx.log.info({ id, created }, 'device registered');
        return reply.code(created ? 201 : 200).send({ ...deviceResponse(ctx.zone, device), updateSecret });
      },
    );

    app.get<{ Params: { id: string } }>(
      '/v1/devices/:id',
      { onRequest: limitHook(ctx.limits.api), schema: { tags: ['devices'], summary: "The device's name and records", params: IdParams, security: bearer, response: { 200: DeviceResponse, ...errorResponses } } },
      async (req) => {
        const id = await authenticate(ctx, req);
        const device = ctx.store.getDevice(id);
        if (!device) throw new NodegateError('NG_REG_DEVICE_UNKNOWN', `No device ${id} is registered; register first.`, { status: 404 });
        return deviceResponse(ctx.zone, device);
      },
    );

    app.put<{ Params: { id: string }; Body: AddressUpdateRequest }>(
      '/v1/devices/:id/address',
      {
        onRequest: limitHook(ctx.limits.api),
        schema: { tags: ['devices'], summary: 'Set the public and LAN addresses ("auto" = the source address of this request)', params: IdParams, body: AddressUpdateRequest, security: bearer, response: { 200: DeviceResponse, ...errorResponses } },
      },
      async (req) => {
        const caller = await authenticate(ctx, req);
        const source = sourceAddress(req);
        const body = req.body;
        // Validate before taking the lock: a bad request never waits behind good ones.
        const wanted: Partial<Record<'ipv4' | 'ipv6' | 'lan', string | null>> = {};
        for (const family of ['ipv4', 'ipv6'] as const) {
          const value = body[family];
          if (value === undefined) continue;
          if (value === null) wanted[family] = null;
          else if (value === 'auto') {
            if (familyOf(source) !== family) {
              throw new NodegateError('NG_REG_ADDRESS_INVALID', `${family} "auto" needs a request over ${family === 'ipv4' ? 'IPv4' : 'IPv6'}; this one came from ${source}. Send the address explicitly.`, { status: 400, details: { field: family } });
            }
            wanted[family] = ctx.policy.checkPublic(source, family);
          } else wanted[family] = ctx.policy.checkPublic(value, family);
        }
        if (body.lan !== undefined) wanted.lan = body.lan === null ? null : ctx.policy.checkLan(body.lan);
        const { device: stored } = await changeRecords(ctx, caller, (d) => ({ ipv4: d.ipv4, ipv6: d.ipv6, lan: d.lan, acmeTxt: d.acmeTxt, ...wanted }));
        return deviceResponse(ctx.zone, stored);
      },
    );

    app.post<{ Params: { id: string }; Body: AcmeTxtRequest }>(
      '/v1/devices/:id/acme-challenge',
      {
        onRequest: limitHook(ctx.limits.api),
        schema: { tags: ['devices'], summary: `Add a _acme-challenge TXT value (at most ${MAX_ACME_TXT_VALUES} held; a further one drops the oldest)`, params: IdParams, body: AcmeTxtRequest, security: bearer, response: { 200: DeviceResponse, ...errorResponses } },
      },
      async (req) => {
        const caller = await authenticate(ctx, req);
        const value = req.body.value;
        const { device: stored } = await changeRecords(ctx, caller, (d) => ({ ...d, acmeTxt: d.acmeTxt.includes(value) ? d.acmeTxt : [...d.acmeTxt, value].slice(-MAX_ACME_TXT_VALUES) }));
        return deviceResponse(ctx.zone, stored);
      },
    );

    app.delete<{ Params: { id: string }; Body: AcmeTxtRequest }>(
      '/v1/devices/:id/acme-challenge',
      {
        onRequest: limitHook(ctx.limits.api),
        schema: { tags: ['devices'], summary: 'Remove a _acme-challenge TXT value (absent values are fine)', params: IdParams, body: AcmeTxtRequest, security: bearer, response: { 200: DeviceResponse, ...errorResponses } },
      },
      async (req) => {
        const caller = await authenticate(ctx, req);
        const { device: stored } = await changeRecords(ctx, caller, (d) => ({ ...d, acmeTxt: d.acmeTxt.filter((v) => v !== req.body.value) }));
        return deviceResponse(ctx.zone, stored);
      },
    );
    done();
  },
  { name: 'nodegate-registry-devices', fastify: '5.x' },
);

/** Maps fastify's own errors (validation, body size, JSON) to coded errors. */
function toNodegateError(err: FastifyError): NodegateError {
  if (isNodegateError(err)) return err;
  if (err.validation) {
    const first = err.validation[0];
    const path = first?.instancePath ?? '';
    const where = `${err.validationContext ?? 'request'}${path}`;
    const detail = `${where} ${first?.message ?? 'is invalid'}`;
    if (err.validationContext === 'body' && /^\/(ipv4|ipv6|lan)\b/.test(path)) {
      return new NodegateError('NG_REG_ADDRESS_INVALID', `${detail}: send an IP address, "auto" (ipv4/ipv6) or null.`, { status: 400, details: { field: path.slice(1).split('/')[0] } });
    }
    if (err.validationContext === 'body' && path === '/value') {
      return new NodegateError('NG_REG_TXT_INVALID', `${detail}: value is the DNS-01 digest, 43 characters of base64url.`, { status: 400 });
    }
    return new NodegateError('NG_REG_BAD_REQUEST', `${detail}. See /openapi.json for the request format.`, { status: 400, details: { where } });
  }
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new NodegateError('NG_REG_BODY_TOO_LARGE', `The request body is larger than ${BODY_LIMIT_BYTES} bytes.`, { status: 413 });
  }
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new NodegateError('NG_REG_BAD_REQUEST', `The request is malformed (${err.message}). See /openapi.json.`, { status: err.statusCode === 415 ? 415 : 400 });
  }
  return new NodegateError('NG_INTERNAL', 'The registry failed unexpectedly; the failure is logged.', { status: 500, cause: err });
}

export interface ApiOptions {
  /** Trust X-Forwarded-For from these proxies (fastify `trustProxy`). Default false. */
  trustProxy?: boolean | string | string[];
}

/** Builds the API (not listening yet). */
export async function buildApi(ctx: RegistryContext, options: ApiOptions = {}): Promise<FastifyInstance> {
  // Per-request lines (info) would dominate the log at update rates; fastify logs warnings and up.
  const fastifyLogger: FastifyBaseLogger = ctx.log.child({ component: 'api' }, { level: ctx.log.levelVal > 40 ? ctx.log.level : 'warn' });
  const app = Fastify({
    loggerInstance: fastifyLogger,
    bodyLimit: BODY_LIMIT_BYTES,
    requestTimeout: REQUEST_TIMEOUT_MS,
    trustProxy: options.trustProxy ?? false,
    // Reject unknown keys instead of silently dropping them; no type coercion of JSON bodies.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false } },
  });
  app.setErrorHandler((err: FastifyError, req, reply) => {
    const coded = toNodegateError(err);
    const status = coded.status ?? 500;
    if (status >= 500) req.log.error({ err }, 'request failed');
    return reply.code(status).send(coded.toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    return reply.code(404).send(new NodegateError('NG_REG_NOT_FOUND', `No route ${req.method} ${req.url.split('?')[0] ?? ''}; see /openapi.json.`).toJSON());
  });
  await app.register(swagger, {
    openapi: {
      // 3.1: its schemas are JSON Schema 2020-12, so TypeBox's `type: 'null'` unions are valid as they are.
      openapi: '3.1.0',
      info: { title: 'nodegate registry', version: '1', description: `Device names under ${ctx.zone}: registration, records, ACME DNS-01 TXT, acme-dns and dyndns2 compatibility. Contract: ddns/protocol.ts.` },
      components: { securitySchemes: { deviceJwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT (EdDSA, signed by the device key)' } } },
    },
  });
  await app.register(devicesPlugin, { ctx });
  await app.register(probePlugin, { ctx });
  await app.register(acmeDnsPlugin, { ctx });
  await app.register(dyndns2Plugin, { ctx });
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  return app;
}
