/**
 * What acme-dns (joohoi/acme-dns, Go) does with a request before its own logic runs, reproduced so
 * that the registry accepts and refuses exactly the same requests:
 * - the body decoded with Go's encoding/json into acme-dns's `ACMETxt` struct (acmetxt.go): keys
 *   matched case-insensitively (Go's name folding), unknown keys ignored, a value of the wrong type
 *   skipped and reported after the other fields are set, `null` leaving a field as it is, the last
 *   of repeated keys winning; `json.Unmarshal` (api.go webRegisterPost: the whole body must be one
 *   JSON value) or `json.Decoder.Decode` (auth.go Auth: the first JSON value, the rest ignored);
 * - the X-Api-User header parsed as a UUID by google/uuid `Parse` (validation.go getValidUsername);
 * - allowfrom CIDRs by `net.ParseCIDR` after removing brackets (acmetxt.go cidrslice.isValid,
 *   ValidEntries, util.go sanitizeIPv6addr), and a client address tested by `net.IPNet.Contains`
 *   (acmetxt.go allowedFrom).
 */

/** The fields of acme-dns's ACMETxt that a JSON body can set (Go field name or json tag). */
export interface AcmeDnsBody {
  /** `Username uuid.UUID` (canonical lower-case form), when the body set it. */
  username: string | undefined;
  /** `Password string`. */
  password: string;
  /** `Subdomain string \`json:"subdomain"\``. */
  subdomain: string;
  /** `Value string \`json:"txt"\``. */
  txt: string;
  /** `AllowFrom cidrslice` (a `[]string`); null = Go's nil slice. */
  allowfrom: string[] | null;
}

export interface DecodedBody {
  body: AcmeDnsBody;
  /** Whether Go would have returned an error (syntax, wrong type, a username that is not a UUID). */
  failed: boolean;
}

/** Go's encoding/json nesting limit (decode.go maxNestingDepth). */
const MAX_NESTING_DEPTH = 10_000;

class JsonSyntaxError extends Error {}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

function skipSpace(t: string, i: number): number {
  while (i < t.length && isSpace(t.charCodeAt(i))) i++;
  return i;
}

function scanString(t: string, i: number): number {
  // t[i] === '"'
  for (i++; ; ) {
    if (i >= t.length) throw new JsonSyntaxError('unexpected end of JSON input');
    const c = t.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (c < 0x20) throw new JsonSyntaxError('invalid character in string literal');
    if (c === 0x5c) {
      const e = t[i + 1];
      if (e === undefined) throw new JsonSyntaxError('unexpected end of JSON input');
      if ('"\\/bfnrt'.includes(e)) i += 2;
      else if (e === 'u' && /^[0-9A-Fa-f]{4}$/.test(t.slice(i + 2, i + 6))) i += 6;
      else throw new JsonSyntaxError('invalid escape in string literal');
    } else i++;
  }
}

function scanDigits(t: string, i: number): number {
  const start = i;
  while (i < t.length && t.charCodeAt(i) >= 0x30 && t.charCodeAt(i) <= 0x39) i++;
  if (i === start) throw new JsonSyntaxError('invalid number literal');
  return i;
}

function scanNumber(t: string, i: number): number {
  if (t[i] === '-') i++;
  if (t[i] === '0') i++;
  else i = scanDigits(t, i);
  if (t[i] === '.') i = scanDigits(t, i + 1);
  if (t[i] === 'e' || t[i] === 'E') {
    i++;
    if (t[i] === '+' || t[i] === '-') i++;
    i = scanDigits(t, i);
  }
  return i;
}

function scanKey(t: string, i: number): number {
  if (t[i] !== '"') throw new JsonSyntaxError('expected an object key');
  i = skipSpace(t, scanString(t, i));
  if (t[i] !== ':') throw new JsonSyntaxError('expected ":" after an object key');
  return i + 1;
}

/**
 * The index just past the JSON value that starts at `i` (after optional spaces). Iterative, so a
 * deeply nested body cannot exhaust the stack; Go's depth limit applies. Throws JsonSyntaxError.
 */
function scanValue(t: string, i: number): number {
  const open: string[] = [];
  for (;;) {
    i = skipSpace(t, i);
    const c = t[i];
    if (c === undefined) throw new JsonSyntaxError('unexpected end of JSON input');
    if (c === '{' || c === '[') {
      if (open.length >= MAX_NESTING_DEPTH) throw new JsonSyntaxError('exceeded max depth');
      i = skipSpace(t, i + 1);
      if (t[i] === (c === '{' ? '}' : ']')) i++;
      else {
        open.push(c);
        if (c === '{') i = scanKey(t, i);
        continue;
      }
    } else if (c === '"') i = scanString(t, i);
    else if (c === '-' || (c >= '0' && c <= '9')) i = scanNumber(t, i);
    else {
      const word = ['true', 'false', 'null'].find((w) => t.startsWith(w, i));
      if (!word) throw new JsonSyntaxError(`invalid character ${JSON.stringify(c)} looking for beginning of value`);
      i += word.length;
    }
    // A value ended: close the containers it ends, or go on after a comma.
    for (;;) {
      const top = open.at(-1);
      if (top === undefined) return i;
      i = skipSpace(t, i);
      if (t[i] === ',') {
        i++;
        if (top === '{') i = scanKey(t, skipSpace(t, i));
        break;
      }
      if (t[i] !== (top === '{' ? '}' : ']')) throw new JsonSyntaxError('expected "," or the end of the object or array');
      open.pop();
      i++;
    }
  }
}

/** Go's encoding/json name folding (fold.go appendFoldedName) as far as ASCII field names can tell. */
function foldName(name: string): string {
  let out = '';
  for (const ch of name) {
    const c = ch.codePointAt(0)!;
    if (c >= 0x61 && c <= 0x7a) out += String.fromCharCode(c - 0x20);
    else if (c === 0x17f) out += 'S'; // ſ folds with s
    else if (c === 0x212a) out += 'K'; // Kelvin sign folds with k
    else if (c === 0x131) out += 'I'; // dotless ı: unicode.SimpleFold gives I
    else out += ch; // (any other non-ASCII rune folds to a non-ASCII rune: it never matches)
  }
  return out;
}

type Field = 'username' | 'password' | 'subdomain' | 'txt' | 'allowfrom';
const FIELDS = new Map<string, Field>([
  ['USERNAME', 'username'],
  ['PASSWORD', 'password'],
  ['SUBDOMAIN', 'subdomain'],
  ['TXT', 'txt'],
  ['ALLOWFROM', 'allowfrom'],
]);

/** Splits the (valid) JSON object or array `t[start..end)` into its members' value ranges (and keys). */
function members(t: string, start: number): Array<{ key?: string; from: number; to: number }> {
  const out: Array<{ key?: string; from: number; to: number }> = [];
  const isObject = t[start] === '{';
  let i = skipSpace(t, start + 1);
  if (t[i] === (isObject ? '}' : ']')) return out;
  for (;;) {
    let key: string | undefined;
    if (isObject) {
      const keyEnd = scanString(t, i);
      key = JSON.parse(t.slice(i, keyEnd)) as string;
      i = skipSpace(t, keyEnd) + 1; // past ':'
    }
    const from = skipSpace(t, i);
    const to = scanValue(t, from);
    out.push({ ...(key !== undefined ? { key } : {}), from, to });
    i = skipSpace(t, to);
    if (t[i] !== ',') return out;
    i = skipSpace(t, i + 1);
  }
}

/** Decodes the valid JSON value `t[from..to)` into ACMETxt as Go's decoder does. */
function decodeInto(t: string, from: number, body: AcmeDnsBody): boolean {
  const first = t[from];
  if (first === 'n') return false; // null into a struct: nothing happens
  if (first !== '{') return true; // UnmarshalTypeError: nothing is set
  let failed = false;
  for (const { key, from: vf, to: vt } of members(t, from)) {
    const field = FIELDS.get(foldName(key!));
    if (!field) continue;
    const kind = t[vf];
    if (kind === 'n') {
      if (field === 'allowfrom') body.allowfrom = null; // a slice is set to nil; other kinds keep their value
      continue;
    }
    if (field === 'allowfrom') {
      if (kind !== '[') {
        failed = true;
        continue;
      }
      const previous = body.allowfrom ?? [];
      body.allowfrom = members(t, vf).map(({ from: ef, to: et }, i) => {
        if (t[ef] === '"') return JSON.parse(t.slice(ef, et)) as string;
        if (t[ef] !== 'n') failed = true; // a wrong type leaves the element as it was
        return previous[i] ?? '';
      });
      continue;
    }
    if (kind !== '"') {
      failed = true; // UnmarshalTypeError, saved; decoding goes on
      continue;
    }
    const value = JSON.parse(t.slice(vf, vt)) as string;
    if (field === 'username') {
      const uuid = parseUuid(value);
      // uuid.UUID.UnmarshalText failing stops the decoder at once (decode.go literalStore).
      if (uuid === undefined) return true;
      body.username = uuid;
    } else body[field] = value;
  }
  return failed;
}

function emptyBody(): AcmeDnsBody {
  return { username: undefined, password: '', subdomain: '', txt: '', allowfrom: null };
}

/** `json.Unmarshal(body, &aTXT)` (acme-dns api.go webRegisterPost): one JSON value and nothing else. */
export function goUnmarshal(text: string): DecodedBody {
  const body = emptyBody();
  let end: number;
  try {
    end = scanValue(text, 0);
  } catch {
    return { body, failed: true };
  }
  if (skipSpace(text, end) !== text.length) return { body, failed: true };
  return { body, failed: decodeInto(text, skipSpace(text, 0), body) };
}

/** `json.NewDecoder(r.Body).Decode(&postData)` (acme-dns auth.go Auth): the first JSON value only. */
export function goDecodeFirst(text: string): DecodedBody {
  const body = emptyBody();
  try {
    scanValue(text, 0);
  } catch {
    return { body, failed: true };
  }
  return { body, failed: decodeInto(text, skipSpace(text, 0), body) };
}

/**
 * google/uuid `Parse` (what acme-dns's getValidUsername and UUID fields use): the 36-character form,
 * `urn:uuid:` + it, 38 characters with any first and last character (`{...}`), or 32 hex digits.
 * Returns the canonical lower-case form, or undefined.
 */
export function parseUuid(s: string): string | undefined {
  const bytes = Buffer.from(s, 'utf8');
  let hex: string;
  if (bytes.length === 32) hex = s;
  else {
    let body: string;
    if (bytes.length === 36) body = s;
    else if (bytes.length === 45 && s.slice(0, 9).toLowerCase() === 'urn:uuid:') body = s.slice(9);
    else if (bytes.length === 38) body = bytes.subarray(1, 37).toString('latin1');
    else return undefined;
    if (body[8] !== '-' || body[13] !== '-' || body[18] !== '-' || body[23] !== '-') return undefined;
    hex = body.slice(0, 8) + body.slice(9, 13) + body.slice(14, 18) + body.slice(19, 23) + body.slice(24, 36);
  }
  if (!/^[0-9A-Fa-f]{32}$/.test(hex)) return undefined;
  const h = hex.toLowerCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** An IP address as Go holds it: 4 bytes for IPv4, 16 for IPv6 (IPv4-mapped included). */
type IpBytes = number[];

/** IPv4 dotted quad as netip.ParseAddr accepts it (no leading zeros), or undefined. */
function parseIpv4(s: string): IpBytes | undefined {
  const parts = s.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.map(Number);
}

/** IPv6 (with an optional trailing dotted quad, no zone) as 16 bytes, or undefined. */
function parseIpv6(s: string): IpBytes | undefined {
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const split = (part: string) => (part === '' ? [] : part.split(':'));
  const head = split(halves[0]!);
  const tail = halves.length === 2 ? split(halves[1]!) : [];
  const words: number[] = [];
  const toWords = (list: string[]): number[] | undefined => {
    const out: number[] = [];
    for (const [i, g] of list.entries()) {
      if (i === list.length - 1 && g.includes('.')) {
        const v4 = parseIpv4(g);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(g)) out.push(parseInt(g, 16));
      else return undefined;
    }
    return out;
  };
  if (halves.length === 2) {
    const h = toWords(head);
    const t = toWords(tail);
    // A dotted quad only ends the address; `::` stands for at least one group of zeros.
    if (!h || !t || head.some((g) => g.includes('.')) || h.length + t.length > 7) return undefined;
    words.push(...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t);
  } else {
    const w = toWords(head);
    if (!w || w.length !== 8) return undefined;
    words.push(...w);
  }
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

/** net.ParseIP: 16 bytes for every address (IPv4 as ::ffff:a.b.c.d), or undefined. */
function parseIp(s: string): IpBytes | undefined {
  const v4 = parseIpv4(s);
  if (v4) return [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4];
  return s.includes('.') || s.includes(':') ? parseIpv6(s) : undefined;
}

/** net.IP.To4: the 4 bytes of an IPv4 or IPv4-mapped address, else undefined. */
function to4(ip: IpBytes): IpBytes | undefined {
  if (ip.length === 4) return ip;
  return ip.slice(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff ? ip.slice(12) : undefined;
}

export interface GoIpNet {
  ip: IpBytes;
  mask: IpBytes;
}

/**
 * net.ParseCIDR: the address (netip.ParseAddr, no zone), `/`, a decimal prefix length (leading
 * zeros allowed) of at most 32 for IPv4 and 128 otherwise. Returns the network, or undefined.
 */
export function goParseCidr(s: string): GoIpNet | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const address = s.slice(0, slash);
  const prefix = s.slice(slash + 1);
  const v4 = parseIpv4(address);
  const ip = v4 ?? (address.includes(':') ? parseIpv6(address) : undefined);
  if (!ip || !/^\d{1,7}$/.test(prefix)) return undefined;
  const bits = ip.length * 8;
  const n = Number(prefix);
  if (n > bits) return undefined;
  const mask = Array.from({ length: ip.length }, (_, i) => (i * 8 + 8 <= n ? 0xff : i * 8 >= n ? 0 : (0xff << (8 - (n - i * 8))) & 0xff));
  return { ip: ip.map((b, i) => b & mask[i]!), mask };
}

/** net.IPNet.Contains(net.ParseIP(address)) (acme-dns acmetxt.go allowedFrom). */
export function goNetContains(net: GoIpNet, address: string): boolean {
  let parsed = parseIp(address);
  if (!parsed) return false;
  // networkNumberAndMask
  const nn = to4(net.ip) ?? net.ip;
  let m = net.mask;
  if (nn.length !== 4 && nn.length !== 16) return false;
  if (m.length === 16 && nn.length === 4) m = m.slice(12);
  else if (m.length === 4 && nn.length !== 4) return false;
  parsed = to4(parsed) ?? parsed;
  if (parsed.length !== nn.length) return false;
  return parsed.every((b, i) => (nn[i]! & m[i]!) === (b & m[i]!));
}

/** util.go sanitizeIPv6addr: brackets removed (net.ParseCIDR does not take `[2001:db8::]/32`). */
export function sanitizeCidr(s: string): string {
  return s.replace(/[[\]]+/g, '');
}

/**
 * acme-dns's allowfrom check (acmetxt.go allowedFrom over ValidEntries): no valid entry = allowed
 * from anywhere; otherwise `address` must be inside one of them.
 */
export function allowedFrom(allowfrom: readonly string[], address: string): boolean {
  const nets = allowfrom.map((c) => goParseCidr(sanitizeCidr(c))).filter((n): n is GoIpNet => n !== undefined);
  return nets.length === 0 || nets.some((n) => goNetContains(n, address));
}
