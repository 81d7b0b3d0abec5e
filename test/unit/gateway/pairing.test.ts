import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { lndconnectUri, qrSvg, qrTerminal } from '../../../gateway/pairing.ts';

const CERT_PEM = readFileSync(new URL('../../fixtures/ui/owner-pages.cert.pem', import.meta.url), 'utf8');
/** `openssl x509 -outform DER | basenc --base64url` of the fixture, padding removed. */
const CERT_DER_B64URL = 'MIIBoTCCAUegAwIBAgIUKGXRmqiTW77SQieoKOCL1DkT8bkwCgYIKoZIzj0EAwIwGDEWMBQGA1UEAwwNbm9kZWdhdGUgdGVzdDAeFw0yNjExMjQyMTEzMTlaFw0zNjExMjEyMTEzMTlaMBgxFjAUBgNVBAMMDW5vZGVnYXRlIHRlc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAS8GiVyomaTjlVQZf5hGspgB02nR2baBUE5CBaCRM5wHZjijcPIKhw2xEvhM47LKZ5LmVL9qiPcfBReUzx95PQZo28wbTAdBgNVHQ4EFgQUjUaZklQQ5wPDtBaMTVJaIDsFriUwHwYDVR0jBBgwFoAUjUaZklQQ5wPDtBaMTVJaIDsFriUwDwYDVR0TAQH_BAUwAwEB_zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZIzj0EAwIDSAAwRQIgavhtv7rkQELWjqcyzoJADwgpxZDICGER2mgQNKRu_-ACIQDWOLd5Q7DpPMjF-h7SuACJYq0MxKmcjjTeTwXMpWDbUg';
const TOKEN = 'eyJhbGciOiJFZERTQSJ9.eyJzY29wZSI6InJlYWRvbmx5In0.c2lnbmF0dXJl';

describe('lndconnectUri', () => {
  it('has no cert parameter when none is given (publicly trusted certificate)', () => {
    expect(lndconnectUri({ host: 'abcd1234.nodegate.example', port: 8080, token: TOKEN })).toBe(
      'lndconnect://abcd1234.nodegate.example:8080?macaroon=ZXlKaGJHY2lPaUpGWkVSVFFTSjkuZXlKelkyOXdaU0k2SW5KbFlXUnZibXg1SW4wLmMybG5ibUYwZFhKbA',
    );
  });

  it('adds the DER certificate as base64url without padding when it is not publicly trusted', () => {
    expect(lndconnectUri({ host: '127.0.0.1', port: 8443, token: 'tok', certPem: CERT_PEM })).toBe(`lndconnect://127.0.0.1:8443?macaroon=dG9r&cert=${CERT_DER_B64URL}`);
  });

  it('brackets IPv6 hosts and takes onion hosts as they are', () => {
    expect(lndconnectUri({ host: '::1', port: 443, token: 'tok' })).toBe('lndconnect://[::1]:443?macaroon=dG9r');
    expect(lndconnectUri({ host: 'abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.onion', port: 8080, token: 'tok' })).toBe(
      'lndconnect://abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.onion:8080?macaroon=dG9r',
    );
  });

  it('refuses bad input with TypeError (caller misuse)', () => {
    expect(() => lndconnectUri({ host: 'a/b', port: 1, token: 't' })).toThrow(TypeError);
    expect(() => lndconnectUri({ host: 'a', port: 70000, token: 't' })).toThrow(TypeError);
    expect(() => lndconnectUri({ host: 'a', port: 1, token: '' })).toThrow(TypeError);
    expect(() => lndconnectUri({ host: 'a', port: 1, token: 't', certPem: 'not a pem' })).toThrow(TypeError);
  });
});

describe('QR codes', () => {
  it('renders an accessible SVG without script', async () => {
    const svg = await qrSvg('lndconnect://a:1?macaroon=dG9r');
    expect(svg.startsWith('<svg role="img" aria-label="QR code" ')).toBe(true);
    expect(svg).toContain('viewBox=');
    expect(svg.toLowerCase()).not.toContain('<script');
  });

  it('renders a terminal QR with block characters', async () => {
    const text = await qrTerminal('lndconnect://a:1?macaroon=dG9r');
    expect(text.split('\n').length).toBeGreaterThan(10);
    expect(text).toMatch(/[▀▄█]/);
  });
});
