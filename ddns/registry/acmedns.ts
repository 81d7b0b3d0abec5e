/**
 * acme-dns compatible API (https://github.com/joohoi/acme-dns, README "API"), so off-the-shelf ACME
 * clients (lego, Caddy, Traefik, certbot-dns-acmedns, acme.sh) can use a registry unchanged:
 * - `POST /register` {allowfrom?: CIDR[]} -> 201 {username, password, fulldomain, subdomain, allowfrom}
 * - `POST /update` with X-Api-User / X-Api-Key, {subdomain, txt} -> 200 {txt}
 * - `GET /health` -> 200
 * Semantics as acme-dns: an account holds the two most recent TXT values (an update replaces the
 * older one, so an apex + wildcard order can hold both at once); updates are accepted only from
 * the account's `allowfrom` CIDRs when it has any. Accounts publish TXT at `<subdomain>.<zone>`
 * through the same DnsBackend (kind 'acme-dns'). Errors keep the registry's `{error:{code}}` shape;
 * statuses are acme-dns's (400 bad body / txt, 401 bad credentials or source).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { NodegateError } from '../../core/errors.ts';
import { AcmeDnsRegisterRequest, AcmeDnsRegisterResponse, AcmeDnsUpdateRequest, ErrorResponse } from '../protocol.ts';
import { CidrSet } from './addresses.ts';
import { hashSecret, secretMatches } from './auth.ts';
import { limitHook, sourceAddress, type RegistryContext } from './context.ts';
import type { DeviceRecordSet } from './dns-backend.ts';
import type { StoredAcmeAccount } from './store.ts';
import { Type } from '@sinclair/typebox';

/** TXT values an acme-dns account holds at once (acme-dns keeps two records per subdomain). */
export const ACME_DNS_TXT_VALUES = 2;

export function acmeRecordSet(account: StoredAcmeAccount): DeviceRecordSet {
  return { id: account.subdomain, kind: 'acme-dns', ipv4: null, ipv6: null, lan: null, acmeTxt: account.txt };
}

function forbidden(): NodegateError {
  return new NodegateError('NG_REG_UNAUTHENTICATED', 'X-Api-User / X-Api-Key do not match an account allowed to update this subdomain from this address.', { status: 401 });
}

export const acmeDnsPlugin = fp(
  (app: FastifyInstance, { ctx }: { ctx: RegistryContext }, done: (err?: Error) => void) => {
    app.post<{ Body: { allowfrom?: string[] } }>(
      '/register',
      {
        onRequest: limitHook(ctx.limits.register),
        // acme-dns clients post without a body: treat that as {}.
        preValidation: (req, _reply, next) => {
          req.body ??= {};
          next();
        },
        schema: { tags: ['acme-dns'], summary: 'acme-dns: create an account', body: AcmeDnsRegisterRequest, response: { 201: AcmeDnsRegisterResponse, '4xx': ErrorResponse } },
      },
      (req, reply) => {
        const allowfrom = req.body.allowfrom ?? [];
        try {
          new CidrSet(allowfrom);
        } catch (err) {
          throw new NodegateError('NG_REG_BAD_REQUEST', `allowfrom must be CIDR blocks like 203.0.113.0/24: ${(err as Error).message}.`, { status: 400, cause: err });
        }
        const now = ctx.now();
        const password = randomBytes(30).toString('base64url'); // 40 characters, like acme-dns
        const account: StoredAcmeAccount = { username: randomUUID(), keyHash: hashSecret(password), subdomain: randomUUID(), allowfrom, txt: [], createdAt: now, updatedAt: now };
        ctx.store.createAcmeAccount(account);
        return reply.code(201).send({ username: account.username, password, fulldomain: `${account.subdomain}.${ctx.zone}`, subdomain: account.subdomain, allowfrom });
      },
    );

    // Credentials first, body second: an unauthenticated caller learns nothing about the body rules.
    const authenticate = (req: FastifyRequest): StoredAcmeAccount => {
      const user = req.headers['x-api-user'];
      const key = req.headers['x-api-key'];
      if (typeof user !== 'string' || typeof key !== 'string' || user.length > 64 || key.length > 128) throw forbidden();
      const account = ctx.store.getAcmeAccount(user);
      if (!account || !secretMatches(key, account.keyHash)) throw forbidden();
      if (account.allowfrom.length > 0 && !new CidrSet(account.allowfrom).has(sourceAddress(req))) throw forbidden();
      return account;
    };

    app.post<{ Body: AcmeDnsUpdateRequest }>(
      '/update',
      {
        onRequest: limitHook(ctx.limits.api),
        preValidation: (req, _reply, next) => {
          try {
            authenticate(req);
          } catch (err) {
            next(err as Error);
            return;
          }
          next();
        },
        schema: { tags: ['acme-dns'], summary: 'acme-dns: set a TXT value (the older of two is replaced)', body: AcmeDnsUpdateRequest, response: { 200: Type.Object({ txt: Type.String() }), '4xx': ErrorResponse, '5xx': ErrorResponse } },
      },
      async (req) => {
        const account = authenticate(req);
        if (req.body.subdomain !== account.subdomain) throw forbidden();
        if (!/^[A-Za-z0-9_-]{43}$/.test(req.body.txt)) {
          throw new NodegateError('NG_REG_TXT_INVALID', 'txt must be the 43-character DNS-01 digest (base64url).', { status: 400 });
        }
        const txt = [...account.txt, req.body.txt].slice(-ACME_DNS_TXT_VALUES);
        ctx.store.setAcmeTxt(account.username, txt, ctx.now());
        await ctx.publisher.publish(`acme:${account.username}`);
        return { txt: req.body.txt };
      },
    );

    app.get('/health', { schema: { tags: ['acme-dns'], summary: 'acme-dns: liveness' } }, (_req, reply) => reply.code(200).send());
    done();
  },
  { name: 'nodegate-registry-acme-dns', fastify: '5.x' },
);
