/**
 * Logging setup (pino). Secrets are redacted by path so that a macaroon, a token, a password or a
 * cookie can never reach a log line even when a whole request or config object is logged.
 *
 * Two formats: pino's JSON lines (one object a line, for journald, files and log collectors) and
 * a short human line for a terminal (`12:04:05.123 WARN  gateway: tor did not start code=…`), our
 * own {@link prettyLine} rather than pino-pretty (docs/decisions.md: 19 packages and 50 ms of
 * start-up for what 60 lines do). `auto` (the default) picks the human line when the destination
 * is a TTY, JSON otherwise; `--log-format` or NODEGATE_LOG_FORMAT choose explicitly.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { NodegateError } from './errors.ts';

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

export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LoggerOptions {
  /** Default: `NODEGATE_LOG_LEVEL`, else 'info' ('silent' under tests unless set). */
  level?: LevelWithSilent;
  name?: string;
  /** Where to write; default stderr so that stdout stays for command output. */
  destination?: NodeJS.WritableStream;
  /** Default: `NODEGATE_LOG_FORMAT`, else 'auto' (pretty on a TTY, JSON otherwise). */
  format?: LogFormat;
}

/** Parses a `--log-format` value (NG_USAGE when it is none of auto, json, pretty). */
export function parseLogFormat(value: string | undefined, flag = '--log-format'): LogFormat | undefined {
  if (value === undefined) return undefined;
  if ((LOG_FORMATS as readonly string[]).includes(value)) return value as LogFormat;
  throw new NodegateError('NG_USAGE', `${flag} must be one of ${LOG_FORMATS.join(', ')}, got "${value}".`);
}

/** The format to write to `destination`: `auto` is pretty for a TTY, JSON for a pipe or a file. */
export function resolveLogFormat(format: LogFormat, destination: NodeJS.WritableStream): 'json' | 'pretty' {
  if (format !== 'auto') return format;
  return (destination as NodeJS.WritableStream & { isTTY?: boolean }).isTTY === true ? 'pretty' : 'json';
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** SGR colours per level (only on a TTY, and not with NO_COLOR: no-color.org). */
const LEVEL_COLOURS: Record<number, string> = { 10: '90', 20: '90', 30: '32', 40: '33', 50: '31', 60: '35' };
/** Fields every line has, shown in the head of the pretty line or not at all. */
const HEAD_FIELDS = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'v']);

function pad2(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

function fieldValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

/**
 * One pino JSON line as a human line: local time, level, logger name, message, then the other
 * fields as key=value (strings quoted when they hold spaces); an error's stack on indented lines.
 * A line that is not JSON is passed through.
 * @example prettyLine('{"level":40,"time":0,"name":"gateway","msg":"slow","ms":812}', false) // "00:00:00.000 WARN  gateway: slow ms=812\n" (in UTC)
 */
export function prettyLine(line: string, colour: boolean): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : line + '\n';
  }
  const time = new Date(typeof o.time === 'number' ? o.time : Date.now());
  const clock = `${pad2(time.getHours())}:${pad2(time.getMinutes())}:${pad2(time.getSeconds())}.${pad2(time.getMilliseconds(), 3)}`;
  const levelNo = typeof o.level === 'number' ? o.level : 30;
  const levelName = (LEVEL_NAMES[levelNo] ?? String(o.level)).padEnd(5);
  const level = colour ? `\x1b[${LEVEL_COLOURS[levelNo] ?? '0'}m${levelName}\x1b[0m` : levelName;
  const name = typeof o.name === 'string' ? `${o.name}: ` : '';
  let stack = '';
  const fields: string[] = [];
  for (const [key, value] of Object.entries(o)) {
    if (HEAD_FIELDS.has(key)) continue;
    const err = value as { message?: unknown; stack?: unknown } | null;
    if (key === 'err' && typeof err === 'object' && err !== null && typeof err.stack === 'string') {
      fields.push(`err=${fieldValue(err.message)}`);
      stack = '\n' + err.stack.split('\n').slice(1).map((l) => `    ${l.trim()}`).join('\n');
      continue;
    }
    fields.push(`${key}=${fieldValue(value)}`);
  }
  const msg = typeof o.msg === 'string' ? o.msg : '';
  return `${colour ? `\x1b[2m${clock}\x1b[0m` : clock} ${level} ${name}${msg}${fields.length ? ' ' + fields.join(' ') : ''}${stack}\n`;
}

/** A pino destination that writes each JSON line to `out` as {@link prettyLine}. */
export function prettyDestination(out: NodeJS.WritableStream, colour: boolean): pino.DestinationStream {
  return { write: (line: string) => void out.write(prettyLine(line.trimEnd(), colour)) };
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const envLevel = process.env.NODEGATE_LOG_LEVEL as LevelWithSilent | undefined;
  const level = options.level ?? envLevel ?? (process.env.VITEST ? 'silent' : 'info');
  const destination = options.destination ?? process.stderr;
  const format = resolveLogFormat(options.format ?? parseLogFormat(process.env.NODEGATE_LOG_FORMAT, 'NODEGATE_LOG_FORMAT') ?? 'auto', destination);
  const colour = format === 'pretty' && (destination as { isTTY?: boolean }).isTTY === true && process.env.NO_COLOR === undefined;
  return pino(
    {
      level,
      ...(options.name ? { name: options.name } : {}),
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
    },
    format === 'pretty' ? prettyDestination(destination, colour) : (destination as pino.DestinationStream),
  );
}
