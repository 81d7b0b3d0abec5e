// What each channel sends: ntfy's JSON publish (topic from the URL, user-info as Basic auth), the
// generic JSON body, and the last-line scrub of anything shaped like a credential.
import { describe, it, expect } from 'vitest';
import { webhookRequest } from '../../../../gateway/notify/webhook.ts';
import { renderEvent, scrubSecrets } from '../../../../gateway/notify/message.ts';
import { redactUrl } from '../../../../gateway/notify/config.ts';

const message = renderEvent({ kind: 'lnd-locked', at: '2026-03-01T10:00:00.000Z' }, 'fr', 'abc.dyn.test');

describe('notification bodies', () => {
  it('ntfy: POST to the server root (under a sub-path too), the topic in the body, Basic auth from the URL', () => {
    const req = webhookRequest({ url: 'https://alice:s%40cret@push.example/ntfy/nodegate-alerts?x=1', format: 'ntfy' }, message);
    expect(req.url).toBe('https://push.example/ntfy/?x=1');
    expect(req.headers.authorization).toBe(`Basic ${Buffer.from('alice:s@cret').toString('base64')}`);
    expect(JSON.parse(req.body)).toEqual({
      topic: 'nodegate-alerts',
      title: 'LND est verrouillé sur abc.dyn.test',
      message: 'Après un redémarrage ou une coupure de courant, LND attend le mot de passe de son portefeuille. Tant qu’il n’est pas déverrouillé, le nœud ne peut ni payer ni recevoir. Ouvrez la page du propriétaire et déverrouillez-le.',
      priority: 4,
      tags: ['lock'],
    });
  });

  it('json: our own body; gotify: /message appended when the URL has none', () => {
    expect(JSON.parse(webhookRequest({ url: 'http://192.168.1.5:8080/hooks/node', format: 'json' }, message).body)).toEqual({
      source: 'nodegate', kind: 'lnd-locked', node: 'abc.dyn.test', title: message.title, message: message.body, priority: 'high', tags: ['lock'], at: '2026-03-01T10:00:00.000Z',
    });
    expect(webhookRequest({ url: 'https://gotify.example/?token=T', format: 'gotify' }, message).url).toBe('https://gotify.example/message?token=T');
  });

  it('cuts credential-shaped runs and shows URLs without their secrets', () => {
    const jwt = 'eyJhbGciOiJFZERTQSJ9.eyJzY29wZSI6ImFkbWluIn0.c2lnbmF0dXJlLWJ5dGVz';
    expect(scrubSecrets(`name ${jwt} and ${'ab'.repeat(40)} end`)).toBe('name [removed] and [removed] end');
    expect(scrubSecrets('Zeus on my phone (2001:db8::/64) NG_CERT_ACME')).toBe('Zeus on my phone (2001:db8::/64) NG_CERT_ACME');
    expect(redactUrl('https://u:p@ntfy.sh/my-secret-topic?auth=tk_123')).toBe('https://…@ntfy.sh/my-…?…');
  });
});
