import { describe, it, expect } from 'vitest';
import { upstreamRequestHeaders, clientResponseHeaders } from '../../../../gateway/proxy/headers.ts';

describe('hop-by-hop headers', () => {
  it('drops hop-by-hop, Connection-listed and credential headers going upstream', () => {
    expect(
      upstreamRequestHeaders(
        {
          host: 'gw.test',
          connection: 'keep-alive, X-Drop-Me',
          'x-drop-me': '1',
          'keep-alive': 'timeout=5',
          te: 'trailers',
          trailer: 'x',
          'transfer-encoding': 'chunked',
          upgrade: 'h2c',
          'proxy-authorization': 'x',
          'proxy-foo': 'y',
          authorization: 'Bearer t',
          'grpc-metadata-macaroon': 'aa',
          cookie: 'a=b',
          accept: 'application/json',
          'content-type': 'application/json',
        },
        true,
      ),
    ).toEqual({ accept: 'application/json', 'content-type': 'application/json' });
  });

  it('drops hop-by-hop headers coming back', () => {
    expect(clientResponseHeaders({ connection: 'close, x-internal', 'x-internal': '1', 'keep-alive': 'timeout=1', 'transfer-encoding': 'chunked', 'content-type': 'application/json', 'content-length': '5' })).toEqual({
      'content-type': 'application/json',
      'content-length': '5',
    });
  });
});
