/**
 * acme-dns compatible API, answering exactly as acme-dns (joohoi/acme-dns) does, so that the clients
 * written for it (lego and Traefik through goacmedns, certbot hooks, acme.sh's dns_acmedns, Caddy)
 * work unchanged. File and function named for each behaviour are acme-dns's:
 * - `POST /register` (api.go webRegisterPost): the body, whatever its Content-Type, is optional; when
 *   present it is decoded as Go's json.Unmarshal does into acme-dns's ACMETxt (acmedns-go.ts: keys
 *   in any case, so `{"allowfrom": [...]}` and goacmedns's `{"AllowFrom": [...]}` are the same);
 *   not JSON -> 400 `{"error": "malformed_json_payload"}`; a CIDR that net.ParseCIDR refuses -> 400
 *   `{"error": "invalid_allowfrom_cidr"}`; else 201 `{username, password, fulldomain, subdomain,
 *   allowfrom}` with allowfrom as stored (brackets removed: acmetxt.go ValidEntries).
 * - `POST /update` (auth.go Auth, then api.go webUpdatePost): X-Api-User must be a UUID
 *   (validation.go getValidUsername), X-Api-Key 40 characters of base64url (validKey) matching the
 *   account, the client inside the account's allowfrom when it has any (auth.go
 *   updateAllowedFromIP, acmetxt.go allowedFrom), and the body's subdomain the account's; the body is
 *   decoded as json.Decoder.Decode does (the first JSON value; a decoding error leaves the fields
 *   it could not set empty). Any of these failing -> 401 `{"error": "forbidden"}`. Then a subdomain
 *   that is not a DNS label -> 400 `bad_subdomain`, a txt that is not 43 characters of base64url ->
 *   400 `bad_txt`; else 200 `{"txt": "<value>"}`, the value replacing the older of the two the
 *   account holds (db.go Update).
 * - `GET /health` (api.go healthCheck): 200, empty body.
 * Every answer has acme-dns's bytes and Content-Type (util.go jsonError: `{"error": "<code>"}`).
 * What acme-dns does not have keeps acme-dns's shape: 429 `rate_limited` (per-source limits), 413
 * `body_too_large` (over BODY_LIMIT_BYTES), 503 `dns_unavailable` (stored, the DNS server has not
 * confirmed it yet: retried in the background), 500 `internal_error`.
 *
 * The client address checked against allowfrom is the TCP peer, or, when the operator runs the
 * registry behind a proxy (`--trust-proxy`), the address that proxy reports in X-Forwarded-For:
 * acme-dns's `use_header` / `header_name` (auth.go updateAllowedFromIP). Unlike acme-dns, which
 * accepts the request when any address in the header is allowed (util.go getIPListFromHeader,
 * acmetxt.go allowedFromList), only the address the trusted proxy saw counts: a client cannot pass
 * by writing an allowed address into its own X-Forwarded-For.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isNodegateError } from '../../core/errors.ts';
import { AcmeDnsErrorResponse, AcmeDnsRegisterResponse, AcmeDnsUpdateResponse } from '../protocol.ts';
import { allowedFrom, goDecodeFirst, goParseCidr, goUnmarshal, parseUuid, sanitizeCidr } from './acmedns-go.ts';
import { hashSecret, secretMatches } from './auth.ts';
import { limitHook, sourceAddress, type RegistryContext } from './context.ts';
import type { DeviceRecordSet } from './dns-backend.ts';
import type { StoredAcmeAccount } from './store.ts';

/** TXT values an acme-dns account holds at once (acme-dns keeps two records per subdomain). */
export const ACME_DNS_TXT_VALUES = 2;

export function acmeRecordSet(account: StoredAcmeAccount): DeviceRecordSet {
  return { id: account.subdomain, kind: 'acme-dns', ipv4: null, ipv6: null, lan: null, acmeTxt: account.txt };
}

/** validation.go validKey: 40 characters of the URL-safe base64 alphabet. */
const API_KEY = /^[A-Za-z0-9_-]{40}$/;
/** validation.go validSubdomain. */
const SUBDOMAIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
/** validation.go validTXT: 43 characters of the URL-safe base64 alphabet (a DNS-01 digest). */
const TXT = /^[A-Za-z0-9_-]{43}$/;

/**
 * Sends `text` with acme-dns's Content-Type, `application/json` without a charset (a Buffer, so that
 * fastify does not append one).
 */
function sendJson(reply: FastifyReply, status: number, text: string): FastifyReply {
  return reply.code(status).header('content-type', 'application/json').send(Buffer.from(text, 'utf8'));
}

/** acme-dns's error body (util.go jsonError). */
function acmeError(reply: FastifyReply, status: number, code: string): FastifyReply {
  return sendJson(reply, status, `{"error": "${code}"}`);
}

/** The first value of a request header, as Go's http.Header.Get gives it ('' when absent). */
function firstHeader(req: FastifyRequest, name: string): string {
  return req.raw.headersDistinct[name]?.[0] ?? '';
}

const errorSchemas = { '4xx': AcmeDnsErrorResponse, '5xx': AcmeDnsErrorResponse };

/**
 * An encapsulated plugin (not fastify-plugin): its body parser (every Content-Type, or none, read
 * as text) and its error handler (acme-dns's error bodies) apply to these routes only.
 */
export function acmeDnsPlugin(app: FastifyInstance, { ctx }: { ctx: RegistryContext }, done: (err?: Error) => void): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, next) => next(null, body));
  // fastify answers 415 to a Content-Type it cannot parse before any parser runs; acme-dns reads the
  // body whatever the header says (io.ReadAll / json.NewDecoder of r.Body), so the header goes.
  app.addHook('onRequest', (req, _reply, next) => {
    delete req.raw.headers['content-type'];
    next();
  });
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (isNodegateError(err, 'NG_REG_RATE_LIMITED')) {
      const retry = (err.details as { retryAfterS?: number } | undefined)?.retryAfterS;
      if (retry !== undefined) reply.header('retry-after', String(retry));
      return acmeError(reply, 429, 'rate_limited');
    }
    if (isNodegateError(err, 'NG_REG_UNAVAILABLE')) return acmeError(reply, 503, 'dns_unavailable');
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return acmeError(reply, 413, 'body_too_large');
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) return acmeError(reply, 400, 'bad_request');
    req.log.error({ err }, 'acme-dns request failed');
    return acmeError(reply, 500, 'internal_error');
  });

  app.post(
    '/register',
    {
      onRequest: limitHook(ctx.limits.register),
      schema: {
        tags: ['acme-dns'],
        summary: 'acme-dns: create an account',
        description: 'Optional JSON body `{"allowfrom": ["CIDR", ...]}` (keys in any case, any Content-Type): updates are then accepted only from those networks.',
        response: { 201: AcmeDnsRegisterResponse, ...errorSchemas },
      },
    },
    (req, reply) => {
      const text = typeof req.body === 'string' ? req.body : '';
      let allowfrom: string[] = [];
      if (text.length > 0) {
        const { body, failed } = goUnmarshal(text);
        if (failed) return acmeError(reply, 400, 'malformed_json_payload');
        allowfrom = body.allowfrom ?? [];
      }
      if (!allowfrom.every((cidr) => goParseCidr(sanitizeCidr(cidr)) !== undefined)) return acmeError(reply, 400, 'invalid_allowfrom_cidr');
      allowfrom = allowfrom.map(sanitizeCidr);
      const now = ctx.now();
      const password = randomBytes(30).toString('base64url'); // 40 characters of acme-dns's alphabet
      const account: StoredAcmeAccount = { username: randomUUID(), keyHash: hashSecret(password), subdomain: randomUUID(), allowfrom, txt: [], createdAt: now, updatedAt: now };
      ctx.store.createAcmeAccount(account);
      const answer = { username: account.username, password, fulldomain: `${account.subdomain}.${ctx.zone}`, subdomain: account.subdomain, allowfrom };
      return sendJson(reply, 201, JSON.stringify(answer));
    },
  );

  /** auth.go getUserFromRequest + updateAllowedFromIP: the account, or undefined (-> forbidden). */
  const accountFor = (req: FastifyRequest): StoredAcmeAccount | undefined => {
    const username = parseUuid(firstHeader(req, 'x-api-user'));
    const key = firstHeader(req, 'x-api-key');
    if (username === undefined || !API_KEY.test(key)) return undefined;
    const account = ctx.store.getAcmeAccount(username);
    if (!account || !secretMatches(key, account.keyHash)) return undefined;
    return allowedFrom(account.allowfrom, sourceAddress(req)) ? account : undefined;
  };

  app.post(
    '/update',
    {
      onRequest: limitHook(ctx.limits.api),
      schema: {
        tags: ['acme-dns'],
        summary: 'acme-dns: set a TXT value (the older of two is replaced)',
        description: 'Headers X-Api-User, X-Api-Key; JSON body `{"subdomain": "...", "txt": "<43 characters>"}` (keys in any case, any Content-Type).',
        response: { 200: AcmeDnsUpdateResponse, ...errorSchemas },
      },
    },
    async (req, reply) => {
      // Credentials and source first, body second (auth.go Auth): a caller without them learns nothing.
      const account = accountFor(req);
      if (!account) return acmeError(reply, 401, 'forbidden');
      const { body } = goDecodeFirst(typeof req.body === 'string' ? req.body : '');
      if (body.subdomain !== account.subdomain) return acmeError(reply, 401, 'forbidden');
      if (!SUBDOMAIN.test(body.subdomain)) return acmeError(reply, 400, 'bad_subdomain');
      if (!TXT.test(body.txt)) return acmeError(reply, 400, 'bad_txt');
      // Read and written in one turn of the event loop: concurrent updates of one account each
      // replace the then-older value.
      ctx.store.setAcmeTxt(account.username, [...account.txt, body.txt].slice(-ACME_DNS_TXT_VALUES), ctx.now());
      await ctx.publisher.publish(`acme:${account.username}`);
      return sendJson(reply, 200, `{"txt": "${body.txt}"}`);
    },
  );

  app.get('/health', { schema: { tags: ['acme-dns'], summary: 'acme-dns: liveness (200, empty body)' } }, (_req, reply) => reply.code(200).send());
  done();
}
