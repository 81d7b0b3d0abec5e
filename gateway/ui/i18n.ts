/**
 * Languages of the owner pages: typed catalogs, Accept-Language negotiation (RFC 9110 §12.5.4,
 * q-values; matching by RFC 4647 §3.4 lookup: exact tag first, then the primary subtag), a cookie
 * that a visible switch sets, and parameter substitution.
 */
import { en, type MessageKey, type Messages } from './catalogs/en.ts';
import { de } from './catalogs/de.ts';
import { es } from './catalogs/es.ts';
import { fr } from './catalogs/fr.ts';
import { ptBR } from './catalogs/pt-BR.ts';

export type { MessageKey, Messages };

/** Supported languages as BCP 47 tags, in the order the switch lists them. */
export const LANGUAGES = ['en', 'es', 'pt-BR', 'de', 'fr'] as const;
export type Lang = (typeof LANGUAGES)[number];
export const DEFAULT_LANG: Lang = 'en';

export const CATALOGS: { readonly [L in Lang]: Messages } = { en, es, 'pt-BR': ptBR, de, fr };

/** Cookie that remembers the switch's choice (one year). */
export const LANG_COOKIE = 'ng_lang';

/** Longer Accept-Language headers are cut here: bounded work for a header anyone can send. */
const MAX_ACCEPT_LANGUAGE_CHARS = 1024;
const MAX_RANGES = 32;

export function isLang(value: string | undefined): value is Lang {
  return value !== undefined && (LANGUAGES as readonly string[]).includes(value);
}

/** The supported language for one tag: exact (case-insensitive), else by primary subtag. */
function matchTag(tag: string): Lang | undefined {
  const lower = tag.toLowerCase();
  const exact = LANGUAGES.find((l) => l.toLowerCase() === lower);
  if (exact) return exact;
  const primary = lower.split('-')[0];
  return LANGUAGES.find((l) => l.toLowerCase().split('-')[0] === primary);
}

/**
 * The best language for an Accept-Language header: highest q first (ties keep header order),
 * q=0 ranges are "not acceptable", `*` means the default. Unknown or empty gives the default.
 * @example negotiateLanguage('pt-PT;q=0.8, de;q=0.9') // 'de'
 */
export function negotiateLanguage(header: string | undefined): Lang {
  if (!header) return DEFAULT_LANG;
  const ranges: { tag: string; q: number; index: number }[] = [];
  const parts = header.slice(0, MAX_ACCEPT_LANGUAGE_CHARS).split(',').slice(0, MAX_RANGES);
  parts.forEach((part, index) => {
    const [rawTag = '', ...params] = part.trim().split(';');
    const tag = rawTag.trim();
    if (!/^(\*|[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*)$/.test(tag)) return;
    let q = 1;
    for (const p of params) {
      if (!/^\s*q\s*=/i.test(p)) continue; // other parameters are not defined for this header
      const m = /^\s*q\s*=\s*(0(\.\d{0,3})?|1(\.0{0,3})?)\s*$/i.exec(p);
      if (!m) return; // a malformed weight: drop the whole range rather than guess
      q = Number(m[1]);
    }
    ranges.push({ tag, q, index });
  });
  ranges.sort((a, b) => b.q - a.q || a.index - b.index);
  const refused = new Set(ranges.filter((r) => r.q === 0).map((r) => r.tag.toLowerCase()));
  for (const r of ranges) {
    if (r.q === 0) continue;
    if (r.tag === '*') return refused.has(DEFAULT_LANG) ? (LANGUAGES.find((l) => !refused.has(l.toLowerCase())) ?? DEFAULT_LANG) : DEFAULT_LANG;
    const lang = matchTag(r.tag);
    if (lang && !refused.has(lang.toLowerCase())) return lang;
  }
  return DEFAULT_LANG;
}

/** The page language: the switch's cookie when valid, else Accept-Language. */
export function pickLanguage(cookieValue: string | undefined, acceptLanguage: string | undefined): Lang {
  return isLang(cookieValue) ? cookieValue : negotiateLanguage(acceptLanguage);
}

/** `key` in `lang` with `{name}` parameters replaced (values are not escaped here). */
export function t(lang: Lang, key: MessageKey, params?: Record<string, string | number>): string {
  const text = CATALOGS[lang][key];
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

/** A date in the page language, e.g. "24 Nov 2026, 21:05 UTC"; invalid input comes back as is. */
export function formatDate(lang: Lang, iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }).format(date) + ' UTC';
}
