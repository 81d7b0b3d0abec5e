import { describe, expect, it } from 'vitest';
import { diagnose, MISMATCH_PERSIST_MS, verdictCodes, type ReachabilityFacts } from '../../../../ddns/client/reachability.ts';
import { CATALOG, LANGUAGES, pickLanguage, VERDICT_CODES } from '../../../../ddns/client/messages.ts';

const base: ReachabilityFacts = {
  name: 'abc.dyn.test',
  lanName: 'lan.abc.dyn.test',
  port: 8443,
  lan: '192.168.1.10',
  ipv6Global: [],
  mapping: { status: 'mapped', method: 'upnp', reason: null, answers: { upnp: 'ok', natpmp: 'ok', pcp: 'ok' }, externalPort: 8443 },
  routerWan: '198.51.100.2',
  internetView: '198.51.100.2',
  registryError: null,
  probe: { reachable: true, failure: null },
  listening: true,
  hairpin: true,
  dnsAnswer: ['198.51.100.2'],
  lanHiddenByResolver: false,
  mismatchSince: null,
  at: 1_000_000_000,
};
const f = (patch: Partial<ReachabilityFacts>): ReachabilityFacts => ({ ...base, ...patch });

describe('verdicts', () => {
  it('a plain reachable home', () => {
    expect(verdictCodes(base)).toEqual(['REACHABLE']);
  });

  it('double NAT: empty external address (miniupnpd 2.3.1), a private one (older routers), or 501', () => {
    const refused = { status: 'refused' as const, method: null, reason: 'not-public', answers: null, externalPort: null };
    expect(verdictCodes(f({ routerWan: '', mapping: refused, probe: { reachable: false, failure: 'timeout' } }))).toEqual(['DOUBLE_NAT', 'PORT_CLOSED']);
    expect(verdictCodes(f({ routerWan: '192.168.0.2', probe: { reachable: false, failure: 'refused' } }))).toEqual(['DOUBLE_NAT', 'PORT_CLOSED']);
    expect(verdictCodes(f({ routerWan: '10.0.0.2', mapping: refused, probe: null }))).toEqual(['DOUBLE_NAT']);
  });

  it('CGNAT: router on 100.64.0.0/10, or the registry seeing 100.64/10, or a mismatch that persists', () => {
    expect(verdictCodes(f({ routerWan: '100.64.0.2', probe: { reachable: false, failure: 'timeout' } }))).toEqual(['CGNAT', 'PORT_CLOSED']);
    expect(verdictCodes(f({ routerWan: '', internetView: '100.100.1.1', dnsAnswer: ['100.100.1.1'], probe: null }))).toEqual(['CGNAT']);
    const mismatch = f({ routerWan: '203.0.113.9', probe: null });
    expect(verdictCodes({ ...mismatch, mismatchSince: base.at - 1000 })).toEqual(['DOUBLE_NAT']);
    expect(verdictCodes({ ...mismatch, mismatchSince: base.at - MISMATCH_PERSIST_MS })).toEqual(['CGNAT']);
  });

  it('UPnP off or refusing, port closed, registry down, nothing listening', () => {
    expect(verdictCodes(f({ mapping: { status: 'unavailable', method: null, reason: null, answers: null, externalPort: null }, routerWan: undefined, probe: { reachable: false, failure: 'timeout' } }))).toEqual(['PORT_CLOSED', 'UPNP_OFF']);
    expect(verdictCodes(f({ mapping: { status: 'refused', method: null, reason: 'conflict', answers: null, externalPort: null }, probe: { reachable: false, failure: 'refused' } }))).toEqual(['PORT_CLOSED', 'UPNP_REFUSED']);
    expect(verdictCodes(f({ registryError: 'NG_REG_UNAVAILABLE', internetView: null, probe: null, dnsAnswer: null }))).toEqual(['REGISTRY_UNREACHABLE']);
    expect(verdictCodes(f({ listening: false, probe: { reachable: false, failure: 'refused' } }))).toEqual(['NOT_LISTENING', 'PORT_CLOSED']);
  });

  it('stale DNS, DNS-rebind protection, no hairpin, IPv6', () => {
    expect(verdictCodes(f({ dnsAnswer: ['198.51.100.99'] }))).toEqual(['DNS_STALE', 'REACHABLE']);
    expect(verdictCodes(f({ lanHiddenByResolver: true }))).toEqual(['DNS_REBIND_PROTECTION', 'REACHABLE']);
    expect(verdictCodes(f({ hairpin: false }))).toEqual(['REACHABLE', 'NO_HAIRPIN']);
    expect(verdictCodes(f({ ipv6Global: ['2001:db8::10'] }))).toEqual(['REACHABLE', 'IPV6_AVAILABLE']);
  });

  it('diagnose words the verdicts in the asked language with the facts filled in', () => {
    const d = diagnose(f({ routerWan: '100.64.0.2', probe: null }), 'pt-BR');
    expect(d.verdict).toBe('CGNAT');
    expect(d.verdicts[0]).toMatchObject({ code: 'CGNAT', severity: 'problem' });
    expect(d.verdicts[0]!.title).toContain('100.64.0.2');
    expect(d.verdicts[0]!.title).toContain('198.51.100.2');
  });
});

describe('message catalog', () => {
  it('every language words every verdict, with the same placeholders as English', () => {
    const holes = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const lang of LANGUAGES) {
      for (const code of VERDICT_CODES) {
        const t = CATALOG[lang][code];
        expect(t.title.length).toBeGreaterThan(0);
        expect(holes(t.title + t.advice)).toEqual(holes(CATALOG.en[code].title + CATALOG.en[code].advice));
      }
    }
  });

  it('picks a language from --lang or LANG', () => {
    expect(pickLanguage('pt_BR.UTF-8')).toBe('pt-BR');
    expect(pickLanguage('de_AT.UTF-8')).toBe('de');
    expect(pickLanguage('ja_JP')).toBe('en');
    expect(pickLanguage(undefined)).toBe('en');
  });
});
