/**
 * Logging setup (pino). Secrets are redacted by path so that a macaroon, a token, a password or a
 * cookie can never reach a log line even when a whole request or config object is logged.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** Paths redacted in every log object. */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  'macaroon',
  '*.macaroon',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["grpc-metadata-macaroon"]',
  'headers.authorization',
  'headers.cookie',
  'headers["grpc-metadata-macaroon"]',
  'res.headers["set-cookie"]',
];

export interface LoggerOptions {
  /** Default: `NODEGATE_LOG_LEVEL`, else 'info' ('silent' under tests unless set). */
  level?: LevelWithSilent;
  name?: string;
  /** Where to write; default stderr so that stdout stays for command output. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const envLevel = process.env.NODEGATE_LOG_LEVEL as LevelWithSilent | undefined;
  const level = options.level ?? envLevel ?? (process.env.VITEST ? 'silent' : 'info');
  return pino(
    {
      level,
      ...(options.name ? { name: options.name } : {}),
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
    },
    (options.destination ?? process.stderr) as pino.DestinationStream,
  );
}
