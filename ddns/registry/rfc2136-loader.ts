/**
 * Bridge to the RFC 2136 backend of the dns part (ddns/registry/rfc2136.ts), kept apart so that
 * main.ts builds before that backend lands. Replaced by a direct import once it exists.
 */
import { NodegateError } from '../../core/errors.ts';
import type { Logger } from '../../core/log.ts';
import type { DnsBackend } from './dns-backend.ts';

export interface Rfc2136LoaderOptions {
  zone: string;
  server: { host: string; port: number };
  tsig: { name: string; algorithm: string; secret: string };
  logger: Logger;
}

// eslint-disable-next-line @typescript-eslint/require-await
export async function Rfc2136Backend(_options: Rfc2136LoaderOptions): Promise<DnsBackend> {
  throw new NodegateError('NG_USAGE', 'The rfc2136 backend is not available in this build; use --backend embedded.');
}
