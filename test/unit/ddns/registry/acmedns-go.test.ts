/**
 * The Go semantics acme-dns's answers depend on (ddns/registry/acmedns-go.ts): encoding/json
 * decoding into acme-dns's ACMETxt, google/uuid Parse, net.ParseCIDR and IPNet.Contains. Each
 * expectation is what the Go standard library documents (encoding/json Unmarshal: "preferring an
 * exact match but also accepting a case-insensitive match", "null ... has no effect", type errors
 * skip the field and decoding continues; Decoder.Decode reads the next value only).
 */
import { describe, expect, it } from 'vitest';
import { allowedFrom, goDecodeFirst, goParseCidr, goUnmarshal, parseUuid } from '../../../../ddns/registry/acmedns-go.ts';

const U = 'c36f50e8-4632-44f0-83fe-e070fef28a10';

describe('encoding/json into ACMETxt', () => {
  it('matches keys case-insensitively with Go name folding', () => {
    expect(goUnmarshal('{"SubDomain":"s","Txt":"t","AllowFrom":["10.0.0.0/8"]}').body).toMatchObject({ subdomain: 's', txt: 't', allowfrom: ['10.0.0.0/8'] });
    expect(goUnmarshal('{"SUBDOMAIN":"s","tXt":"t","ALLOWFROM":[]}').body).toMatchObject({ subdomain: 's', txt: 't', allowfrom: [] });
    // ſ (U+017F) folds with s and the Kelvin sign with k in Go; ı (U+0131) folds to I.
    expect(goUnmarshal('{"ſubdomaın":"s"}').body.subdomain).toBe('s');
    expect(goUnmarshal('{"sub_domain":"s","value":"v"}')).toEqual({ body: { username: undefined, password: '', subdomain: '', txt: '', allowfrom: null }, failed: false });
  });

  it('lets the last of repeated keys win, whatever their case', () => {
    expect(goUnmarshal('{"txt":"a","TXT":"b"}').body.txt).toBe('b');
    expect(goUnmarshal('{"txt":"a","Txt":"b","txt":"c"}').body.txt).toBe('c');
  });

  it('ignores null, fails on a wrong type but still sets the other fields', () => {
    expect(goUnmarshal('{"subdomain":null,"txt":"t"}')).toMatchObject({ body: { subdomain: '', txt: 't' }, failed: false });
    expect(goUnmarshal('{"subdomain":5,"txt":"t"}')).toMatchObject({ body: { subdomain: '', txt: 't' }, failed: true });
    expect(goUnmarshal('{"allowfrom":"10.0.0.0/8"}')).toMatchObject({ body: { allowfrom: null }, failed: true });
    expect(goUnmarshal('{"allowfrom":["10.0.0.0/8",7,null]}')).toMatchObject({ body: { allowfrom: ['10.0.0.0/8', '', ''] }, failed: true });
    expect(goUnmarshal('{"allowfrom":null}')).toMatchObject({ body: { allowfrom: null }, failed: false });
    expect(goUnmarshal('{"txt":{"a":[1,2,{"b":null}]},"subdomain":"s"}')).toMatchObject({ body: { subdomain: 's', txt: '' }, failed: true });
  });

  it('stops at a username that is not a UUID (UnmarshalText fails), keeping what came before', () => {
    expect(goUnmarshal(`{"username":"${U.toUpperCase()}"}`)).toMatchObject({ body: { username: U }, failed: false });
    expect(goUnmarshal('{"txt":"t","username":"nope","subdomain":"s"}')).toMatchObject({ body: { txt: 't', subdomain: '' }, failed: true });
    expect(goUnmarshal('{"username":5,"subdomain":"s"}')).toMatchObject({ body: { subdomain: 's' }, failed: true });
  });

  it('takes null as no options and any other non-object as a type error', () => {
    expect(goUnmarshal('null').failed).toBe(false);
    expect(goUnmarshal(' null\n').failed).toBe(false);
    for (const text of ['[]', '"x"', '5', 'true']) expect(goUnmarshal(text).failed).toBe(true);
  });

  it('Unmarshal wants exactly one value; Decode reads the first and ignores the rest', () => {
    for (const text of ['', ' ', '{', '{"txt":"a"} x', '{"txt":"a"}{}', "{'txt':'a'}", '{"txt":"a",}', 'txt=a', '\uFEFF{}', '{"a":01}', '{"t":"\u0001"}', '{"t":"\\x"}']) {
      expect(goUnmarshal(text).failed, text).toBe(true);
    }
    expect(goDecodeFirst('{"txt":"a"} trailing garbage')).toMatchObject({ body: { txt: 'a' }, failed: false });
    expect(goDecodeFirst('{"txt":"a"}{"txt":"b"}').body.txt).toBe('a');
    // A syntax error inside the first value: nothing is set.
    expect(goDecodeFirst('{"subdomain":"s","txt":}')).toMatchObject({ body: { subdomain: '' }, failed: true });
    expect(goDecodeFirst('')).toMatchObject({ failed: true });
  });

  it('decodes escapes as JSON does and survives deep nesting within Go limits', () => {
    expect(goUnmarshal('{"t\\u0078t":"\\u0061\\n"}').body.txt).toBe('a\n');
    expect(goUnmarshal(`{"x":${'['.repeat(5000)}${']'.repeat(5000)},"txt":"ok"}`)).toMatchObject({ body: { txt: 'ok' }, failed: false });
    expect(goUnmarshal(`${'['.repeat(10_001)}${']'.repeat(10_001)}`).failed).toBe(true); // exceeded max depth
  });
});

describe('google/uuid Parse', () => {
  it('accepts the four forms and gives the canonical one', () => {
    for (const form of [U, U.toUpperCase(), `urn:uuid:${U}`, `URN:UUID:${U}`, `{${U}}`, `(${U})`, U.replace(/-/g, '')]) expect(parseUuid(form), form).toBe(U);
  });
  it('refuses everything else', () => {
    for (const bad of ['', 'x', U.slice(1), `${U}0`, U.replace(/-/g, '_'), `urn:uuix:${U}`, U.replace('c', 'g'), U.replace(/-/g, '').replace('c', 'é')]) expect(parseUuid(bad), bad).toBeUndefined();
  });
});

describe('net.ParseCIDR and IPNet.Contains', () => {
  it('parses what Go parses', () => {
    for (const ok of ['10.0.0.0/8', '192.168.100.1/24', '1.2.3.4/32', '0.0.0.0/0', '2002:c0a8:2a00::0/40', '::/0', '::ffff:10.0.0.0/104', '2001:db8::/032', 'fe80::1/64']) expect(goParseCidr(ok), ok).toBeDefined();
    for (const bad of ['10.0.0.0', '10.0.0.0/33', '10.0.0.0/-1', '10.0.0.0/+8', '10.0.0.0/ 8', '010.0.0.0/8', '1.2.3/8', '[2001:db8::]/32', 'fe80::1%eth0/64', '2001:db8::/129', '1::2::3/64', '1.2.3.4::/64', '1:2:3:4:5:6:7:8::/64', '']) expect(goParseCidr(bad), bad).toBeUndefined();
  });

  it('allows from anywhere without valid entries, else only from inside one of them', () => {
    expect(allowedFrom([], '127.0.0.1')).toBe(true);
    expect(allowedFrom(['10.0.0.0/8'], '127.0.0.1')).toBe(false);
    expect(allowedFrom(['10.0.0.0/8'], '10.200.0.1')).toBe(true);
    expect(allowedFrom(['10.0.0.0/8'], '::ffff:10.1.1.1')).toBe(true); // an IPv4-mapped peer is its IPv4 address
    expect(allowedFrom(['192.168.100.1/24'], '192.168.100.200')).toBe(true); // host bits are ignored
    expect(allowedFrom(['2001:db8::/32'], '2001:db8:1::5')).toBe(true);
    expect(allowedFrom(['2001:db8::/32'], '127.0.0.1')).toBe(false);
    expect(allowedFrom(['::ffff:10.0.0.0/104'], '10.3.3.3')).toBe(true); // Go compares the IPv4 form
    expect(allowedFrom(['10.0.0.0/8'], '')).toBe(false);
  });
});
