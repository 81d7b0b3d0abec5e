/**
 * Config loading from one schema. A TypeBox schema is the single source of both the TypeScript type
 * (`Static<typeof Schema>`) and the validation; objects are declared with
 * `additionalProperties: false` (use {@link strictObject}) so unknown keys — usually typos — are
 * rejected with a message that names the key and the file, instead of being silently ignored.
 */
import { Type, type TSchema, type Static, type TProperties, type TObject, type ObjectOptions } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { NodegateError } from './errors.ts';
import { readFileIfExists, writeJsonAtomic } from './atomic-file.ts';

/** An object schema that rejects unknown keys. */
export function strictObject<T extends TProperties>(properties: T, options: ObjectOptions = {}): TObject<T> {
  return Type.Object(properties, { additionalProperties: false, ...options });
}

/** A readable list of what is wrong with `value`, one line per problem, at most `limit` lines. */
export function describeSchemaErrors(schema: TSchema, value: unknown, limit = 8): string[] {
  const lines: string[] = [];
  for (const error of Value.Errors(schema, value)) {
    const where = error.path === '' ? '(top level)' : error.path;
    let what = error.message;
    if (error.schema && (error.schema as { additionalProperties?: unknown }).additionalProperties === false && /additional/i.test(error.message)) {
      what = 'unknown key (check its spelling; it is not part of the config)';
    }
    lines.push(`${where}: ${what}`);
    if (lines.length >= limit) break;
  }
  return lines;
}

/**
 * Validates `value` against `schema` after filling defaults. Throws NG_CONFIG_INVALID naming
 * `source` (a file path or "command line") and every problem found.
 */
export function parseConfig<S extends TSchema>(schema: S, value: unknown, source: string): Static<S> {
  const withDefaults: unknown = Value.Default(schema, Value.Clone(value));
  if (!Value.Check(schema, withDefaults)) {
    const problems = describeSchemaErrors(schema, withDefaults);
    throw new NodegateError('NG_CONFIG_INVALID', `${source} is not valid:\n  ${problems.join('\n  ')}\nFix these entries (or re-create the file with \`nodegate init\`).`, {
      details: { problems },
    });
  }
  return withDefaults;
}

/** Loads and validates a JSON config file. Missing file: NG_CONFIG_MISSING with `missingHint`. */
export async function loadConfigFile<S extends TSchema>(schema: S, path: string, missingHint: string): Promise<Static<S>> {
  const raw = await readFileIfExists(path);
  if (raw === undefined) {
    throw new NodegateError('NG_CONFIG_MISSING', `No config at ${path}. ${missingHint}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new NodegateError('NG_CONFIG_INVALID', `${path} is not valid JSON (${(err as Error).message}). Fix the file or re-create it with \`nodegate init\`.`, { cause: err });
  }
  return parseConfig(schema, parsed, path);
}

/** Validates and writes a config file atomically (0600: configs may name secret files). */
export async function saveConfigFile<S extends TSchema>(schema: S, path: string, value: Static<S>): Promise<void> {
  parseConfig(schema, value, 'the config about to be written');
  await writeJsonAtomic(path, value, { mode: 0o600 });
}

/**
 * Replaces one top-level section of a JSON config file (the others are kept), atomically, 0600.
 * `value` must be validated by the caller; a file that is not JSON is NG_CONFIG_INVALID (never
 * overwritten: it may hold the owner's hand edits).
 */
export async function writeConfigSection(path: string, key: string, value: unknown): Promise<void> {
  const raw = await readFileIfExists(path);
  let whole: Record<string, unknown> = {};
  if (raw !== undefined) {
    try {
      whole = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new NodegateError('NG_CONFIG_INVALID', `${path} is not valid JSON; fix or remove it before the "${key}" section is written.`, { cause: err });
    }
  }
  whole[key] = value;
  await writeJsonAtomic(path, whole, { mode: 0o600 });
}

/**
 * Loads one top-level section of a JSON config file against that section's schema, so that each
 * part (certs, tor, reachability) reads its own part of `DATA/config.json` without knowing the rest.
 * A missing section yields the schema's defaults with `defaultsWhenAbsent`, else NG_CONFIG_MISSING;
 * a missing file is always NG_CONFIG_MISSING.
 */
export async function loadConfigSection<S extends TSchema>(
  schema: S,
  path: string,
  key: string,
  missingHint: string,
  options: { defaultsWhenAbsent?: boolean } = {},
): Promise<Static<S>> {
  const raw = await readFileIfExists(path);
  if (raw === undefined) throw new NodegateError('NG_CONFIG_MISSING', `No config at ${path}. ${missingHint}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new NodegateError('NG_CONFIG_INVALID', `${path} is not valid JSON (${(err as Error).message}). Fix the file or re-create it with \`nodegate init\`.`, { cause: err });
  }
  const section = (parsed as Record<string, unknown> | null)?.[key];
  if (section === undefined) {
    if (options.defaultsWhenAbsent) return parseConfig(schema, {}, `${path} ("${key}", defaults)`);
    throw new NodegateError('NG_CONFIG_MISSING', `${path} has no "${key}" section. ${missingHint}`);
  }
  return parseConfig(schema, section, `${path} ("${key}")`);
}
