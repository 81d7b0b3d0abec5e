import { describe, it, expect } from 'vitest';
import { upstreamRequestHeaders, clientResponseHeaders, upstreamRequestHeaderList, clientResponseHeaderList } from '../../../../gateway/proxy/headers.ts';

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

  it('the flat-list forms (the LND hot path) drop the same headers, in any case, and keep repeated ones apart', () => {
    const raw = [
      'Host', 'gw.test', 'Connection', 'keep-alive, X-Drop-Me', 'X-Drop-Me', '1', 'Keep-Alive', 'timeout=5', 'TE', 'trailers',
      'Transfer-Encoding', 'chunked', 'Upgrade', 'h2c', 'Proxy-Authorization', 'x', 'Proxy-Foo', 'y', 'Authorization', 'Bearer t',
      'Grpc-Metadata-Macaroon', 'aa', 'Cookie', 'a=b', 'Expect', '100-continue', 'Accept', 'application/json', 'X-Trace', '1', 'X-Trace', '2',
    ];
    expect(upstreamRequestHeaderList(raw, 'keep-alive, X-Drop-Me', true)).toEqual(['accept', 'application/json', 'x-trace', '1', 'x-trace', '2']);
    expect(upstreamRequestHeaderList(['Cookie', 'a=b', 'Accept', '*/*'], undefined, false)).toEqual(['cookie', 'a=b', 'accept', '*/*']);
    expect(clientResponseHeaderList({ connection: 'close, x-internal', 'x-internal': '1', 'keep-alive': 'timeout=1', 'transfer-encoding': 'chunked', 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] })).toEqual([
      'content-type', 'application/json', 'set-cookie', 'a=1', 'set-cookie', 'b=2',
    ]);
  });

  it('a plain Connection: keep-alive or close still drops the hop-by-hop headers, and nothing else', () => {
    for (const connection of ['keep-alive', 'Keep-Alive', ' close ']) {
      expect(clientResponseHeaderList({ connection, 'keep-alive': 'timeout=5', 'content-type': 'application/json', 'content-length': '2' })).toEqual(['content-type', 'application/json', 'content-length', '2']);
      expect(upstreamRequestHeaderList(['Connection', connection, 'Keep-Alive', 'timeout=5', 'Accept', '*/*'], connection, true)).toEqual(['accept', '*/*']);
    }
    // an option list that names a header is not the fast case
    expect(clientResponseHeaderList({ connection: 'keep-alive, x-a', 'x-a': '1', 'x-b': '2' })).toEqual(['x-b', '2']);
  });
});
