/**
 * Which LND REST calls each token scope may make. The lists follow the permissions LND bakes into
 * its own readonly / invoice / admin macaroons (lnd rpcserver.go `MainRPCServerPermissions`), so
 * the gateway refuses early what LND would refuse anyway, and refuses some calls LND would allow
 * with the admin macaroon but a remote wallet never needs (the wallet-unlocker service: the owner
 * unlocks through the owner page only).
 * Paths are matched after {@link canonicalTarget}, segment by segment; `*` is one parameter segment.
 */
import type { Scope } from './tokens.ts';

type Method = 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH';
interface Rule {
  methods: readonly Method[];
  pattern: RegExp;
}

const SEG = '[A-Za-z0-9\\-_~:@+,=.]+';
function rule(methods: readonly Method[], path: string): Rule {
  const body = path
    .split('/')
    .map((s) => (s === '*' ? SEG : s.replace(/[.+]/g, (c) => `\\${c}`)))
    .join('/');
  return { methods, pattern: new RegExp(`^${body}$`) };
}

const READ: Rule[] = [
  rule(['GET'], '/v1/getinfo'),
  rule(['GET'], '/v1/getrecoveryinfo'),
  rule(['GET'], '/v1/balance/blockchain'),
  rule(['GET'], '/v1/balance/channels'),
  rule(['GET'], '/v1/channels'),
  rule(['GET'], '/v1/channels/pending'),
  rule(['GET'], '/v1/channels/closed'),
  rule(['GET'], '/v1/channels/backup'),
  rule(['GET'], '/v1/invoices'),
  rule(['GET'], '/v1/invoice/*'),
  rule(['GET'], '/v1/invoices/subscribe'),
  rule(['GET'], '/v1/payments'),
  rule(['GET'], '/v1/payreq/*'),
  rule(['GET'], '/v1/peers'),
  rule(['GET'], '/v1/graph'),
  rule(['GET'], '/v1/graph/info'),
  rule(['GET'], '/v1/graph/node/*'),
  rule(['GET'], '/v1/graph/edge/*'),
  rule(['GET'], '/v1/graph/routes/*/*'),
  rule(['GET'], '/v1/fees'),
  rule(['GET'], '/v1/transactions'),
  rule(['GET'], '/v1/utxos'),
  rule(['GET'], '/v1/state'),
  rule(['POST'], '/v1/switch'),
  rule(['GET'], '/v2/invoices/lookup'),
  rule(['GET'], '/v2/invoices/subscribe/*'),
];

const INVOICE: Rule[] = [
  rule(['GET'], '/v1/state'),
  rule(['GET'], '/v1/invoices'),
  rule(['POST'], '/v1/invoices'),
  rule(['GET'], '/v1/invoice/*'),
  rule(['GET'], '/v1/invoices/subscribe'),
  rule(['GET'], '/v1/newaddress'),
  rule(['GET'], '/v1/balance/blockchain'),
  rule(['GET'], '/v2/invoices/lookup'),
  rule(['GET'], '/v2/invoices/subscribe/*'),
  rule(['POST'], '/v2/invoices/hodl'),
  rule(['POST'], '/v2/invoices/settle'),
  rule(['POST'], '/v2/invoices/cancel'),
];

/** Wallet-unlocker calls: never through a token (the owner page unlocks). */
const NEVER = [/^\/v1\/(unlockwallet|initwallet|genseed|changepassword)$/];
const ADMIN_ANY = /^\/v[12]\//;

/** True when a token of `scope` may call `method path` on LND. `path` must be canonical. */
export function scopeAllows(scope: Scope, method: string, path: string): boolean {
  if (NEVER.some((p) => p.test(path))) return false;
  if (scope === 'admin') return ADMIN_ANY.test(path);
  const rules = scope === 'readonly' ? READ : INVOICE;
  for (const r of rules) {
    if ((r.methods as readonly string[]).includes(method) && r.pattern.test(path)) return true;
  }
  return false;
}
