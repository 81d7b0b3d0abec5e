/**
 * Certificate issuance over ACME (RFC 8555) with DNS-01 (§8.4), using acme-client's protocol layer
 * (JWS, nonces, one method per endpoint) and our own orchestration instead of its `auto()`:
 * - one order for all names (`<id>.<zone>` and `*.<id>.<zone>`): two authorizations, two TXT values
 *   under the same `_acme-challenge` name at once;
 * - acme-client's own TXT pre-check is never used (it asks the system resolver); certs/propagation.ts
 *   asks every authoritative server directly instead;
 * - TXT values are withdrawn in `finally`; a failed withdrawal is logged and never hides the real error;
 * - badNonce (§6.5) is retried by acme-client's transport; rateLimited (§6.7) and an invalid
 *   challenge come back as coded errors with the CA's own words.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Agent as HttpsAgent } from 'node:https';
import { rootCertificates } from 'node:tls';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as acme from 'acme-client';
import type { Logger } from '../core/log.ts';
import { NodegateError, isNodegateError, messageOf } from '../core/errors.ts';
import { readFileIfExists, writeFileAtomic } from '../core/atomic-file.ts';
import type { AcmeConfig } from './config.ts';
import type { Dns01Solver } from './solver.ts';
import { challengeRecordName } from './solver.ts';
import { waitForTxt, type TxtLookup } from './propagation.ts';
import type { DnsServerAddress } from './txt-query.ts';

/** Polls of an authorization/order: first after 100 ms (validations usually end within a second), doubling to at most 2 s apart, 30 attempts (≈ 50 s in all). */
const POLL_MIN_MS = 100;
const POLL_MAX_MS = 2000;
const POLL_ATTEMPTS = 30;

/** An ACME problem document (RFC 8555 §6.7, RFC 7807) seen on the wire during one issuance. */
export interface AcmeProblem {
  type: string;
  detail: string;
  status: number;
  /** Retry-After in seconds, when the CA gave one. */
  retryAfterSeconds?: number;
}

const problemLog = new AsyncLocalStorage<AcmeProblem[]>();
let interceptorsInstalled = false;

function retryAfterSeconds(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.round((at - Date.now()) / 1000));
}

interface WireResponse {
  status?: number;
  data?: unknown;
  headers?: Record<string, unknown>;
}

function recordProblem(res: WireResponse | undefined): void {
  const log = problemLog.getStore();
  if (!log || !res || (res.status ?? 0) < 400) return;
  const data = res.data as { type?: unknown; detail?: unknown } | undefined;
  if (typeof data?.type !== 'string') return;
  const retry = retryAfterSeconds(res.headers?.['retry-after']);
  log.push({ type: data.type, detail: typeof data.detail === 'string' ? data.detail : '', status: res.status ?? 0, ...(retry === undefined ? {} : { retryAfterSeconds: retry }) });
}

/**
 * acme-client's transport is one process-wide axios instance. We (1) record every problem document
 * into the current issuance's AsyncLocalStorage log, and (2) turn off its own retries of 429/5xx:
 * it would sleep for a rateLimited Retry-After (hours) inside the call; our renewal loop backs off
 * instead. badNonce retries live in its JWS layer and stay on.
 */
function installInterceptors(): void {
  if (interceptorsInstalled) return;
  interceptorsInstalled = true;
  const settings = (acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }).acmeSettings;
  settings.retryMaxAttempts = 0;
  acme.axios.interceptors.response.use(
    (res) => {
      recordProblem(res as WireResponse);
      return res;
    },
    (err: unknown) => {
      recordProblem((err as { response?: WireResponse }).response);
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    },
  );
}

/** Maps the last ACME problem (or a transport failure) to a coded error. */
export function acmeErrorFrom(err: unknown, problems: AcmeProblem[], directoryUrl: string): NodegateError {
  if (isNodegateError(err)) return err;
  const last = problems[problems.length - 1];
  if (last?.type === 'urn:ietf:params:acme:error:rateLimited') {
    return new NodegateError('NG_CERT_ACME_RATE_LIMITED', `The CA refused the request because of a rate limit: ${last.detail}. nodegate retries after ${last.retryAfterSeconds ?? 'a back-off'} s; nothing to do unless it persists.`, {
      cause: err,
      details: { type: last.type, detail: last.detail, ...(last.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: last.retryAfterSeconds }) },
    });
  }
  if (last) {
    return new NodegateError('NG_CERT_ACME', `The CA at ${directoryUrl} answered ${last.status} ${last.type}: ${last.detail}.`, { cause: err, details: { type: last.type, detail: last.detail } });
  }
  return new NodegateError('NG_CERT_ACME', `Could not talk to the ACME server at ${directoryUrl}: ${messageOf(err)}. Check acme.directoryUrl, acme.caFile and the network.`, { cause: err });
}

export interface IssueOptions {
  /** The names to certify, e.g. ["abc.example.org", "*.abc.example.org"]. */
  names: string[];
  config: AcmeConfig;
  /** DATA/certs: where the account key lives. */
  certsDir: string;
  solver: Dns01Solver;
  /** Authoritative servers of the zone, checked directly before validation. */
  authoritativeServers: DnsServerAddress[];
  logger: Logger;
  signal?: AbortSignal;
  /** Injected for tests. */
  txtLookup?: TxtLookup;
}

export interface IssuedCertificate {
  keyPem: string;
  /** Leaf first, then intermediates. */
  chainPem: string;
}

/** The account key file for a directory: `DATA/certs/account-<sha256(directoryUrl)[0..12]>.key` (0600). */
export function accountKeyPath(certsDir: string, directoryUrl: string): string {
  return join(certsDir, `account-${createHash('sha256').update(directoryUrl).digest('hex').slice(0, 12)}.key`);
}

/** Loads the account key for this directory, or makes and stores one (ECDSA P-256, 0600). */
export async function loadOrCreateAccountKey(certsDir: string, directoryUrl: string): Promise<Buffer> {
  const path = accountKeyPath(certsDir, directoryUrl);
  const existing = await readFileIfExists(path);
  if (existing !== undefined) return existing;
  const key = await acme.crypto.createPrivateEcdsaKey('P-256');
  await writeFileAtomic(path, key, { mode: 0o600 });
  return key;
}

/**
 * One keep-alive agent per issuance (destroyed at its end): acme-client sends ~20 requests, and a
 * TLS handshake for each is most of the time an issuance takes.
 */
async function httpsAgentFor(config: AcmeConfig): Promise<HttpsAgent> {
  if (!config.caFile) return new HttpsAgent({ keepAlive: true });
  let pem: string;
  try {
    pem = await readFile(config.caFile, 'utf8');
  } catch (err) {
    throw new NodegateError('NG_CONFIG_INVALID', `acme.caFile ${config.caFile} cannot be read (${messageOf(err)}). Point it at a PEM file or remove it.`, { cause: err });
  }
  return new HttpsAgent({ ca: [...rootCertificates, pem], keepAlive: true });
}

/**
 * Runs one ACME order for `names` to the end and returns the new key and chain. The caller holds the
 * renewal lock and stores the result.
 * @throws NG_CERT_TXT_NOT_VISIBLE, NG_CERT_CHALLENGE_INVALID, NG_CERT_ACME_RATE_LIMITED, NG_CERT_ACME,
 *   or the solver's own coded error
 */
export async function issueCertificate(options: IssueOptions): Promise<IssuedCertificate> {
  installInterceptors();
  const problems: AcmeProblem[] = [];
  return problemLog.run(problems, async () => {
    const { config, logger } = options;
    const agent = await httpsAgentFor(config);
    acme.axios.defaults.httpsAgent = agent;
    const presented: Array<{ name: string; value: string }> = [];
    try {
      const accountKey = await loadOrCreateAccountKey(options.certsDir, config.directoryUrl);
      const client = new acme.Client({
        directoryUrl: config.directoryUrl,
        accountKey,
        backoffAttempts: POLL_ATTEMPTS,
        backoffMin: POLL_MIN_MS,
        backoffMax: POLL_MAX_MS,
        ...(config.eab ? { externalAccountBinding: config.eab } : {}),
      });
      // A kept key first asks for its existing account (RFC 8555 §7.3.1 onlyReturnExisting): re-sending
      // the creation payload to an existing account is an "update" some CAs (pebble) refuse.
      try {
        await client.createAccount({ onlyReturnExisting: true });
      } catch {
        problems.length = 0; // accountDoesNotExist is the expected answer for a new key
        await client.createAccount({ termsOfServiceAgreed: true, ...(config.email ? { contact: [`mailto:${config.email}`] } : {}) });
      }
      options.signal?.throwIfAborted();
      const order = await client.createOrder({ identifiers: options.names.map((value) => ({ type: 'dns', value })) });
      const authorizations = await client.getAuthorizations(order);
      const pending: Array<{ authz: acme.Authorization; challenge: acme.Authorization['challenges'][number] }> = [];
      for (const authz of authorizations) {
        if (authz.status === 'valid') continue;
        const challenge = authz.challenges.find((c) => c.type === 'dns-01');
        if (!challenge) throw new NodegateError('NG_CERT_ACME', `The CA offers no dns-01 challenge for ${authz.identifier.value}; nodegate needs DNS-01 (wildcards require it).`);
        pending.push({ authz, challenge });
      }
      const records: Array<{ name: string; value: string; base: string }> = [];
      for (const { authz, challenge } of pending) {
        const value = await client.getChallengeKeyAuthorization(challenge);
        records.push({ base: authz.identifier.value, name: challengeRecordName(authz.identifier.value), value });
      }
      // Publish all values at once: the apex and the wildcard share one record name.
      await Promise.all(
        records.map(async (r) => {
          // recorded first: a present that timed out may still have been applied, and cleanup of a
          // value that is not there is harmless (Dns01Solver contract)
          presented.push({ name: r.base, value: r.value });
          await options.solver.present(r.base, r.value, { signal: options.signal });
        }),
      );
      await waitForTxt(
        records.map((r) => ({ name: r.name, value: r.value })),
        { servers: options.authoritativeServers, timeoutMs: config.propagationTimeoutMs, intervalMs: config.propagationIntervalMs, signal: options.signal, lookup: options.txtLookup },
      );
      for (const { challenge } of pending) await client.completeChallenge(challenge);
      try {
        await Promise.all(pending.map(({ authz }) => client.waitForValidStatus(authz)));
      } catch (err) {
        throw await challengeError(client, order, err);
      }
      const [keyPem, csr] = await acme.crypto.createCsr({ commonName: options.names[0], altNames: options.names }, await acme.crypto.createPrivateEcdsaKey('P-256'));
      const finalized = await client.finalizeOrder(order, csr);
      const chainPem = await client.getCertificate(finalized);
      logger.info({ names: options.names }, 'certificate issued');
      return { keyPem: keyPem.toString(), chainPem };
    } catch (err) {
      throw acmeErrorFrom(err, problems, config.directoryUrl);
    } finally {
      for (const p of presented) {
        try {
          await options.solver.cleanup(p.name, p.value);
        } catch (cleanupErr) {
          logger.warn({ err: cleanupErr, name: p.name }, 'could not remove the ACME challenge TXT value (it is harmless and expires with the record)');
        }
      }
      agent.destroy();
    }
  });
}

/** After a failed authorization: fetch it again and report the challenge's own error. */
async function challengeError(client: acme.Client, order: acme.Order, original: unknown): Promise<NodegateError> {
  let authorizations: acme.Authorization[] = [];
  try {
    authorizations = await client.getAuthorizations(order);
  } catch {
    // the CA is not answering: fall through with the original failure
  }
  for (const authz of authorizations) {
    const failed = authz.challenges.find((c) => c.status === 'invalid' && c.type === 'dns-01');
    if (authz.status === 'invalid' || failed) {
      const problem = (failed as { error?: { type?: string; detail?: string } } | undefined)?.error;
      return new NodegateError(
        'NG_CERT_CHALLENGE_INVALID',
        `The CA could not validate ${authz.wildcard ? '*.' : ''}${authz.identifier.value}: ${problem?.detail ?? messageOf(original)}. Check that _acme-challenge.${authz.identifier.value} is served by the zone's authoritative servers.`,
        { cause: original, details: { name: authz.identifier.value, type: problem?.type, detail: problem?.detail } },
      );
    }
  }
  return new NodegateError('NG_CERT_ACME', `The authorization did not become valid: ${messageOf(original)}.`, { cause: original });
}
