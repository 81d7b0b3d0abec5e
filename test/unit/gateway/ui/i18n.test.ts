import { describe, expect, it } from 'vitest';
import { CATALOGS, LANGUAGES, negotiateLanguage, pickLanguage, t, formatDate } from '../../../../gateway/ui/i18n.ts';

describe('Accept-Language negotiation', () => {
  const cases: [string | undefined, string][] = [
    [undefined, 'en'],
    ['', 'en'],
    ['de', 'de'],
    ['de-AT,de;q=0.9,en;q=0.8', 'de'],
    ['pt-BR', 'pt-BR'],
    ['pt', 'pt-BR'],
    ['pt-PT;q=0.9, en;q=0.8', 'pt-BR'],
    ['es-419,es;q=0.9', 'es'],
    ['ES-mx', 'es'],
    ['fr-CA;q=0.5, de;q=0.7', 'de'],
    ['ja, fr;q=0.3', 'fr'],
    ['ja, zh', 'en'],
    ['*', 'en'],
    ['de;q=0, fr', 'fr'],
    ['fr;q=0.5, es;q=0.5', 'fr'], // equal q keep header order
    ['fr;q=0.500, es;q=0.501', 'es'],
    ['de;q=2, es', 'es'], // a malformed weight drops its range
    ['en-US,en;q=0.9', 'en'],
    ['<script>, de', 'de'],
    ['x'.repeat(5000), 'en'],
  ];
  for (const [header, lang] of cases) {
    it(`${JSON.stringify(header)?.slice(0, 40)} -> ${lang}`, () => {
      expect(negotiateLanguage(header)).toBe(lang);
    });
  }

  it('the switch cookie wins over the header when it names a supported language', () => {
    expect(pickLanguage('fr', 'de')).toBe('fr');
    expect(pickLanguage('xx', 'de')).toBe('de');
    expect(pickLanguage(undefined, 'es')).toBe('es');
  });
});

describe('catalogs', () => {
  it('every language has every key with a non-empty text and the same parameters as English', () => {
    const keys = Object.keys(CATALOGS.en);
    for (const lang of LANGUAGES) {
      expect(Object.keys(CATALOGS[lang]).sort()).toEqual([...keys].sort());
      for (const key of keys as (keyof typeof CATALOGS.en)[]) {
        const text = CATALOGS[lang][key];
        expect(text.trim().length, `${lang} ${key}`).toBeGreaterThan(0);
        const params = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
        expect(params(text), `${lang} ${key}`).toEqual(params(CATALOGS.en[key]));
      }
    }
  });

  it('substitutes parameters', () => {
    expect(t('de', 'login.throttled', { seconds: 42 })).toBe('Zu viele falsche Passwörter. Versuchen Sie es in 42 Sekunden wieder.');
    expect(t('en', 'tor.bootstrap', { percent: 80 })).toBe('Connection to the Tor network: 80 %.');
  });

  it('formats dates in UTC in the page language', () => {
    expect(formatDate('en', '2027-02-01T10:00:00Z')).toBe('Feb 1, 2027, 10:00 AM UTC');
    expect(formatDate('de', '2027-02-01T10:00:00Z')).toBe('01.02.2027, 10:00 UTC');
    expect(formatDate('en', 'garbage')).toBe('garbage');
  });
});
