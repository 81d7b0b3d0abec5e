/**
 * What the node tells its owner, and the words for it. An event carries only facts that are not
 * secrets (a wallet's name and scope, an address, an error code, dates); the text is made from the
 * owner pages' catalogs (gateway/ui/catalogs, five languages) at the moment of sending, and passes
 * {@link scrubSecrets} last, so no token, macaroon, password or setup code can ride along.
 */
import { formatDate, t, type Lang, type MessageKey } from '../ui/i18n.ts';
import { renderVerdict, VERDICT_CODES, type VerdictCode } from '../../ddns/client/messages.ts';
import { pathReasonText } from '../../ddns/client/reach-messages.ts';
import { PATH_REASONS, type PathReason } from '../../ddns/client/reach-status.ts';
import type { EventKind } from './config.ts';

export type NotifyEvent =
  | { kind: 'lnd-locked'; at: string }
  | { kind: 'cert-failing'; at: string; since: string; code: string; notAfter: string }
  /** `code`: a reach-status PathReason or a doctor VerdictCode; `vars` fill the doctor's words. */
  | { kind: 'unreachable'; at: string; since: string; code: string; vars: Record<string, string | number> }
  | { kind: 'wallet-paired'; at: string; tokenId: string; name: string; scope: 'readonly' | 'invoice' | 'admin' }
  | { kind: 'login-new-address'; at: string; address: string }
  | { kind: 'test'; at: string };

export type Priority = 'low' | 'default' | 'high';

/** One notification as every channel sends it. */
export interface RenderedMessage {
  kind: EventKind | 'test';
  /** The node's public name (or "nodegate" for a Tor-only node). */
  node: string;
  title: string;
  body: string;
  priority: Priority;
  /** ntfy tags (emoji short codes): https://docs.ntfy.sh/emojis/ */
  tags: string[];
  /** ISO 8601: when it happened. */
  at: string;
}

/** The dedup key: the same key is one event (sent once per dedup window). */
export function dedupKey(event: NotifyEvent): string {
  switch (event.kind) {
    case 'unreachable':
      return `unreachable:${event.code}`;
    case 'wallet-paired':
      return `wallet-paired:${event.tokenId}`;
    case 'login-new-address':
      return `login-new-address:${event.address}`;
    default:
      return event.kind;
  }
}

const PRIORITY: Record<NotifyEvent['kind'], Priority> = {
  'lnd-locked': 'high',
  'cert-failing': 'high',
  unreachable: 'high',
  'wallet-paired': 'default',
  'login-new-address': 'default',
  test: 'low',
};

const TAGS: Record<NotifyEvent['kind'], string[]> = {
  'lnd-locked': ['lock'],
  'cert-failing': ['warning'],
  unreachable: ['rotating_light'],
  'wallet-paired': ['link'],
  'login-new-address': ['key'],
  test: ['white_check_mark'],
};

function reasonText(lang: Lang, code: string, vars: Record<string, string | number>): string {
  if ((PATH_REASONS as readonly string[]).includes(code)) return pathReasonText(lang, code as PathReason, { relay: String(vars.relay ?? '?') });
  if ((VERDICT_CODES as readonly string[]).includes(code)) {
    const v = renderVerdict(code as VerdictCode, lang, vars);
    return `${v.title} ${v.advice}`;
  }
  return code;
}

/**
 * Long runs that look like credentials: a JWT (our tokens), hex of 64+ characters (a macaroon, a
 * key), base64/base64url of 40+ characters. None of the facts an event carries looks like that
 * (names are at most 64 characters with spaces or dots, codes are short); a run that does is cut.
 */
const SECRET_LIKE = /eyJ[\w-]{8,}\.[\w-]+\.[\w-]*|\b[0-9a-fA-F]{64,}\b|[A-Za-z0-9+/_-]{40,}={0,2}/g;

/** `text` with anything credential-like replaced by "[removed]". */
export function scrubSecrets(text: string): string {
  return text.replace(SECRET_LIKE, '[removed]');
}

/** The notification for `event` in `lang`. */
export function renderEvent(event: NotifyEvent, lang: Lang, node: string): RenderedMessage {
  const date = (iso: string) => formatDate(lang, iso);
  const key = (part: 'title' | 'body') => `notify.${event.kind}.${part}` as MessageKey;
  let params: Record<string, string | number>;
  switch (event.kind) {
    case 'cert-failing':
      params = { since: date(event.since), code: event.code, notAfter: date(event.notAfter) };
      break;
    case 'unreachable':
      params = { since: date(event.since), reason: reasonText(lang, event.code, event.vars) };
      break;
    case 'wallet-paired':
      params = { name: event.name, scope: t(lang, `scope.${event.scope}`), at: date(event.at) };
      break;
    case 'login-new-address':
      params = { address: event.address, at: date(event.at) };
      break;
    default:
      params = { at: date(event.at) };
  }
  params.node = node;
  return {
    kind: event.kind,
    node,
    title: scrubSecrets(t(lang, key('title'), params)),
    body: scrubSecrets(t(lang, key('body'), params)),
    priority: PRIORITY[event.kind],
    tags: TAGS[event.kind],
    at: event.at,
  };
}
