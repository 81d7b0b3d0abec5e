/**
 * The owner pages as pure functions from data to HTML. No script anywhere: every action is a form
 * POST carrying the session's CSRF token, every page works with JavaScript blocked.
 */
import { html, trusted, type SafeHtml } from './html.ts';
import { CATALOGS, LANGUAGES, formatDate, t, type Lang, type MessageKey } from './i18n.ts';
import { MIN_PASSWORD_LENGTH } from '../auth/owner.ts';
import type { NodeStatus, TokenScope, TokenSummary } from './types.ts';

/** What every page needs to know about the request. */
export interface PageContext {
  lang: Lang;
  /** Where the plugin is mounted, e.g. `/_nodegate`. */
  prefix: string;
  /** The path of this page (for the language switch's return link). */
  path: string;
  /** The session's CSRF token; absent when logged out (then no menu is shown). */
  csrf?: string;
  /** The stylesheet URL (with a content hash for caching). */
  styleHref: string;
  /** The menu links the notification settings (the gateway offers them). */
  notificationsPage?: boolean;
}

export interface Notice {
  kind: 'ok' | 'error';
  text: string;
  /** Shown beside an error so that support can match on it. */
  code?: string;
}

export function noticeBlock(notice: Notice | undefined, ctx: PageContext): SafeHtml {
  if (!notice) return html``;
  const role = notice.kind === 'error' ? 'alert' : 'status';
  return html`<p class="notice notice-${notice.kind}" role="${role}">${notice.text}${
    notice.code ? html` <span class="code">(${t(ctx.lang, 'error.code')}: <code>${notice.code}</code>)</span>` : ''
  }</p>`;
}

export function csrfField(ctx: PageContext): SafeHtml {
  return html`<input type="hidden" name="csrf" value="${ctx.csrf ?? ''}">`;
}

/** The whole document around a page body. */
export function layout(ctx: PageContext, title: string, body: SafeHtml): string {
  const { lang, prefix } = ctx;
  const nav = ctx.csrf
    ? html`<nav class="menu" aria-label="${t(lang, 'nav.main')}">
  <a href="${prefix}/"${ctx.path === `${prefix}/` ? html` aria-current="page"` : ''}>${t(lang, 'nav.home')}</a>
  <a href="${prefix}/pair"${ctx.path === `${prefix}/pair` ? html` aria-current="page"` : ''}>${t(lang, 'nav.pair')}</a>
  ${ctx.notificationsPage ? html`<a href="${prefix}/notifications"${ctx.path === `${prefix}/notifications` ? html` aria-current="page"` : ''}>${t(lang, 'nav.notifications')}</a>` : ''}
  <form method="post" action="${prefix}/logout" class="inline">${csrfField(ctx)}<button type="submit" class="link">${t(lang, 'nav.logout')}</button></form>
</nav>`
    : '';
  const switcher = LANGUAGES.map((l) =>
    l === lang
      ? html`<li><span aria-current="true" lang="${l}">${CATALOGS[l]['lang.name']}</span></li>`
      : html`<li><a href="${prefix}/lang/${l}?next=${encodeURIComponent(ctx.path)}" lang="${l}" hreflang="${l}">${CATALOGS[l]['lang.name']}</a></li>`,
  );
  return `<!doctype html>\n${html`<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title} · nodegate</title>
<link rel="stylesheet" href="${ctx.styleHref}">
</head>
<body>
<header class="top"><span class="brand">nodegate</span>${nav}</header>
<main id="main">
<h1>${title}</h1>
${body}
</main>
<footer><nav aria-label="${t(lang, 'lang.switch')}"><h2 class="small">${t(lang, 'lang.switch')}</h2><ul class="langs">${switcher}</ul></nav></footer>
</body>
</html>
`.value}`;
}

export function loginPage(ctx: PageContext, opts: { loginCsrf: string; notice?: Notice; noPassword?: boolean; setupHref?: string; next?: string }): string {
  const { lang, prefix } = ctx;
  const body = opts.noPassword
    ? html`${noticeBlock(opts.notice, ctx)}<p class="notice notice-error" role="alert">${t(lang, 'login.noPassword')}</p>${
        opts.setupHref ? html`<p><a class="button" href="${opts.setupHref}">${t(lang, 'setup.title')}</a></p>` : ''
      }`
    : html`<p>${t(lang, 'login.intro')}</p>
${noticeBlock(opts.notice, ctx)}
<form method="post" action="${prefix}/login" class="card">
<input type="hidden" name="csrf" value="${opts.loginCsrf}">
${opts.next ? html`<input type="hidden" name="next" value="${opts.next}">` : ''}
<label for="password">${t(lang, 'login.password')}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024" autofocus>
<button type="submit">${t(lang, 'login.submit')}</button>
</form>`;
  return layout(ctx, t(lang, 'login.title'), body);
}

const LND_STATE_TEXT: Record<Exclude<NodeStatus['lnd']['state'], 'locked'>, MessageKey> = {
  unlocked: 'lnd.unlocked',
  starting: 'lnd.starting',
  'no-wallet': 'lnd.noWallet',
  unreachable: 'lnd.unreachable',
};

function lndSection(ctx: PageContext, lnd: NodeStatus['lnd'], unlockNotice: Notice | undefined): SafeHtml {
  const { lang, prefix } = ctx;
  if (lnd.state === 'locked') {
    return html`<section class="card card-alert" aria-labelledby="lnd-h">
<h2 id="lnd-h">${t(lang, 'lnd.heading')}</h2>
<p class="big" id="lnd-state">${t(lang, 'lnd.locked')}</p>
<p>${t(lang, 'lnd.lockedHelp')}</p>
${noticeBlock(unlockNotice, ctx)}
<form method="post" action="${prefix}/unlock">
${csrfField(ctx)}
<label for="wallet_password">${t(lang, 'unlock.password')}</label>
<input id="wallet_password" name="wallet_password" type="password" autocomplete="off" required maxlength="1024">
<button type="submit">${t(lang, 'unlock.submit')}</button>
</form>
</section>`;
  }
  const stateKey = LND_STATE_TEXT[lnd.state];
  const facts: SafeHtml[] = [];
  if (lnd.alias !== undefined) facts.push(html`<dt>${t(lang, 'lnd.alias')}</dt><dd id="lnd-alias">${lnd.alias}</dd>`);
  if (lnd.blockHeight !== undefined) facts.push(html`<dt>${t(lang, 'lnd.blockHeight')}</dt><dd>${lnd.blockHeight.toLocaleString(lang)}</dd>`);
  if (lnd.synced !== undefined) facts.push(html`<dt>${t(lang, 'lnd.synced')}</dt><dd>${t(lang, lnd.synced ? 'common.yes' : 'common.no')}</dd>`);
  return html`<section class="card${lnd.state === 'unlocked' ? '' : ' card-alert'}" aria-labelledby="lnd-h">
<h2 id="lnd-h">${t(lang, 'lnd.heading')}</h2>
${noticeBlock(unlockNotice, ctx)}
<p class="big" id="lnd-state">${t(lang, stateKey)}</p>
${facts.length ? html`<dl>${facts}</dl>` : ''}
</section>`;
}

function certSection(ctx: PageContext, cert: NodeStatus['certificate']): SafeHtml {
  const { lang } = ctx;
  let lines: SafeHtml;
  // the status comes from other parts: render only what has the documented shape
  if (!cert || typeof cert.notAfter !== 'string') lines = html`<p>${t(lang, 'cert.none')}</p>`;
  else if (typeof cert.issuer !== 'string' || typeof cert.selfSigned !== 'boolean') lines = html`<p>${t(lang, 'cert.validUntil', { date: formatDate(lang, cert.notAfter) })}</p>`;
  else {
    lines = html`<p>${
      cert.selfSigned ? t(lang, 'cert.selfSigned') : t(lang, 'cert.trusted', { issuer: cert.issuer, date: formatDate(lang, cert.notAfter) })
    }</p>${cert.nextRenewal ? html`<p>${t(lang, 'cert.nextRenewal', { date: formatDate(lang, cert.nextRenewal) })}</p>` : ''}${
      cert.lastError
        ? html`<p class="notice notice-error">${t(lang, 'cert.lastError', { error: typeof cert.lastError === 'string' ? cert.lastError : `${cert.lastError.message} (${cert.lastError.code})` })}</p>`
        : ''
    }`;
  }
  return html`<section class="card" aria-labelledby="cert-h"><h2 id="cert-h">${t(lang, 'cert.heading')}</h2>${lines}</section>`;
}

function torSection(ctx: PageContext, status: NodeStatus, torSwitch: boolean): SafeHtml {
  const { lang, prefix } = ctx;
  if (!status.tor && !status.onion && !torSwitch) return html``;
  const enabled = status.tor?.enabled ?? status.onion !== undefined;
  return html`<section class="card" aria-labelledby="tor-h"><h2 id="tor-h">${t(lang, 'tor.heading')}</h2>
<p>${t(lang, enabled ? 'tor.on' : 'tor.off')}${
    enabled && status.tor?.bootstrap !== undefined && status.tor.bootstrap < 100 ? html` ${t(lang, 'tor.bootstrap', { percent: status.tor.bootstrap })}` : ''
  }</p>
${status.onion ? html`<dl><dt>${t(lang, 'tor.onion')}</dt><dd class="wrap">${status.onion.address}</dd></dl>${status.onion.clientAuth ? html`<p>${t(lang, 'tor.clientAuth')}</p>` : ''}` : ''}
${
  torSwitch
    ? html`<form method="post" action="${prefix}/tor">${csrfField(ctx)}<input type="hidden" name="on" value="${enabled ? '0' : '1'}"><button type="submit" class="${enabled ? 'secondary' : ''}">${t(lang, enabled ? 'tor.turnOff' : 'tor.turnOn')}</button></form>`
    : ''
}
</section>`;
}

export function homePage(ctx: PageContext, status: NodeStatus | undefined, opts: { notice?: Notice; unlockNotice?: Notice; torSwitch: boolean }): string {
  const { lang } = ctx;
  if (!status) {
    return layout(ctx, t(lang, 'status.title'), html`${noticeBlock(opts.notice, ctx)}<p class="notice notice-error" role="alert">${t(lang, 'status.unavailable')}</p>`);
  }
  const names = status.names.length
    ? html`<ul class="names">${status.names.map((n) => html`<li class="wrap">${n}</li>`)}</ul>`
    : html`<p>${t(lang, 'status.noNames')}</p>`;
  const body = html`${noticeBlock(opts.notice, ctx)}
${lndSection(ctx, status.lnd, opts.unlockNotice)}
<section class="card" aria-labelledby="names-h"><h2 id="names-h">${t(lang, 'status.names')}</h2>${names}${
    status.lanName ? html`<dl><dt>${t(lang, 'status.lanName')}</dt><dd class="wrap">${status.lanName}</dd></dl>` : ''
  }</section>
${certSection(ctx, status.certificate)}
${torSection(ctx, status, opts.torSwitch)}
${
  status.reachability
    ? html`<section class="card" aria-labelledby="reach-h"><h2 id="reach-h">${t(lang, 'reach.heading')}</h2><p>${status.reachability.verdict}</p>${
        status.reachability.details.length ? html`<ul>${status.reachability.details.map((d) => html`<li>${d}</li>`)}</ul>` : ''
      }</section>`
    : ''
}`;
  return layout(ctx, t(lang, 'status.title'), body);
}

export const SCOPES: readonly TokenScope[] = ['readonly', 'invoice', 'admin'];
/** Token lifetimes offered by the pairing form, in seconds (10 years is the gateway's maximum). */
export const TTL_CHOICES = { '30d': 30 * 86_400, '1y': 365 * 86_400, '10y': 10 * 365 * 86_400 } as const;
export type TtlChoice = keyof typeof TTL_CHOICES;

export interface CreatedPairing {
  name: string;
  uri: string;
  svg: string;
  expiresAt: string;
}

export function pairPage(ctx: PageContext, tokens: TokenSummary[] | undefined, opts: { notice?: Notice; created?: CreatedPairing; onionAvailable: boolean }): string {
  const { lang, prefix } = ctx;
  const created = opts.created
    ? html`<section class="card card-ok" aria-labelledby="qr-h" id="pairing">
<h2 id="qr-h">${opts.created.name}</h2>
<p class="notice notice-ok" role="status">${t(lang, 'pair.scanNow')}</p>
<div class="qr">${trusted(opts.created.svg)}</div>
<label for="uri">${t(lang, 'pair.uri')}</label>
<textarea id="uri" readonly rows="5">${opts.created.uri}</textarea>
${opts.created.expiresAt ? html`<p>${t(lang, 'pair.expires', { date: formatDate(lang, opts.created.expiresAt) })}</p>` : ''}
</section>`
    : '';
  const form = html`<section class="card" aria-labelledby="new-h">
<h2 id="new-h">${t(lang, 'pair.title')}</h2>
<p>${t(lang, 'pair.intro')}</p>
<form method="post" action="${prefix}/pair">
${csrfField(ctx)}
<label for="name">${t(lang, 'pair.name')}</label>
<input id="name" name="name" type="text" required maxlength="64" autocomplete="off">
<fieldset><legend>${t(lang, 'pair.scope')}</legend>
${SCOPES.map(
  (s) => html`<div class="choice"><input type="radio" id="scope-${s}" name="scope" value="${s}"${s === 'readonly' ? html` checked` : ''}><label for="scope-${s}">${t(lang, `scope.${s}`)}</label></div>`,
)}
</fieldset>
<label for="ttl">${t(lang, 'pair.ttl')}</label>
<select id="ttl" name="ttl">${(Object.keys(TTL_CHOICES) as TtlChoice[]).map((k) => html`<option value="${k}">${t(lang, `ttl.${k}`)}</option>`)}</select>
${opts.onionAvailable ? html`<div class="choice"><input type="checkbox" id="onion" name="onion" value="1"><label for="onion">${t(lang, 'pair.onion')}</label></div>` : ''}
<button type="submit">${t(lang, 'pair.submit')}</button>
</form>
</section>`;
  const list = !tokens
    ? html`<p class="notice notice-error">${t(lang, 'error.internal')}</p>`
    : tokens.length === 0
      ? html`<p>${t(lang, 'tokens.none')}</p>`
      : html`<ul class="tokens">${tokens.map(
          (tok) => html`<li class="token">
<p class="token-name">${tok.name}</p>
<dl><dt>${t(lang, 'tokens.scope')}</dt><dd>${t(lang, `scope.${tok.scope}`)}</dd>
<dt>${t(lang, 'tokens.created')}</dt><dd>${formatDate(lang, tok.createdAt)}</dd>
<dt>${t(lang, 'tokens.expires')}</dt><dd>${tok.revokedAt ? t(lang, 'tokens.revokedState') : tok.expiresAt ? formatDate(lang, tok.expiresAt) : t(lang, 'tokens.never')}</dd></dl>
${
  tok.revokedAt
    ? ''
    : html`<form method="post" action="${prefix}/tokens/revoke">${csrfField(ctx)}<input type="hidden" name="id" value="${tok.id}"><button type="submit" class="danger" aria-label="${t(lang, 'tokens.revokeLabel', { name: tok.name })}">${t(lang, 'tokens.revoke')}</button></form>`
}
</li>`,
        )}</ul>`;
  const body = html`${noticeBlock(opts.notice, ctx)}${created}${form}
<section class="card" aria-labelledby="tokens-h"><h2 id="tokens-h">${t(lang, 'tokens.heading')}</h2>${list}</section>`;
  return layout(ctx, t(lang, 'nav.pair'), body);
}

export function errorPage(ctx: PageContext, key: MessageKey, code?: string): string {
  const { lang, prefix } = ctx;
  return layout(
    ctx,
    t(lang, 'error.title'),
    html`${noticeBlock({ kind: 'error', text: t(lang, key), ...(code ? { code } : {}) }, ctx)}<p><a href="${prefix}/">${t(lang, 'error.back')}</a></p>`,
  );
}

export function setupPage(ctx: PageContext, opts: { setupCsrf: string; notice?: Notice }): string {
  const { lang, prefix } = ctx;
  return layout(
    ctx,
    t(lang, 'setup.title'),
    html`<p>${t(lang, 'setup.intro')}</p>
${noticeBlock(opts.notice, ctx)}
<form method="post" action="${prefix}/setup" class="card">
<input type="hidden" name="csrf" value="${opts.setupCsrf}">
<label for="code">${t(lang, 'setup.code')}</label>
<input id="code" name="code" type="text" required autocomplete="off" maxlength="128">
<label for="new_password">${t(lang, 'setup.password', { min: MIN_PASSWORD_LENGTH })}</label>
<input id="new_password" name="new_password" type="password" autocomplete="new-password" required minlength="${MIN_PASSWORD_LENGTH}" maxlength="1024">
<label for="confirm">${t(lang, 'setup.confirm')}</label>
<input id="confirm" name="confirm" type="password" autocomplete="new-password" required minlength="${MIN_PASSWORD_LENGTH}" maxlength="1024">
<button type="submit">${t(lang, 'setup.submit')}</button>
</form>`,
  );
}

/**
 * A `<noscript>` block the gateway can inject right after `<body>` of a dashboard page that needs
 * JavaScript. Plain markup, no style attribute (the dashboard's own CSP may forbid inline style).
 * @param ownerHref link to the owner pages, default `/_nodegate/`
 */
export function noscriptNotice(lang: Lang, ownerHref = '/_nodegate/'): string {
  return html`<noscript><div role="alert" lang="${lang}" class="nodegate-noscript"><p><strong>${t(lang, 'noscript.title')}</strong></p><p>${t(lang, 'noscript.body')}</p><p>${t(
    lang,
    'noscript.owner',
  )} <a href="${ownerHref}">${t(lang, 'noscript.ownerLink')}</a></p></div></noscript>`.value;
}

/** The full page `/_nodegate/dashboard-needs-js` (what a `<noscript>` refresh can point at). */
export function dashboardNeedsJsPage(ctx: PageContext): string {
  const { lang, prefix } = ctx;
  return layout(
    ctx,
    t(lang, 'noscript.title'),
    html`<p class="notice notice-error" role="alert">${t(lang, 'noscript.body')}</p><p>${t(lang, 'noscript.owner')} <a href="${prefix}/">${t(lang, 'noscript.ownerLink')}</a></p>`,
  );
}
