/**
 * Canonical request targets for the LND allow-list. LND's REST paths (grpc-gateway) are plain ASCII
 * with hex or base64url parameters, so anything that could mean a different path after decoding or
 * normalising is refused instead of normalised: percent-encoding of any kind (`%2e%2e`, `%2f`, double
 * encoding `%252e`), dot segments (`.`, `..`) and segments ending in a dot, empty segments (`//`),
 * backslashes, and absolute-form targets. What passes is forwarded byte for byte.
 * RFC 3986 section 3.3 (path), section 5.2.4 (dot segments); RFC 9112 section 3.2 (request target).
 */
import { NodegateError } from '../../core/errors.ts';

export type PathProblem = 'not-origin-form' | 'encoded' | 'backslash' | 'empty-segment' | 'dot-segment' | 'character' | 'too-long';

/** Longest accepted request target; LND's longest REST paths are well under this. */
const MAX_TARGET_LENGTH = 4096;
const PATH_CHARS = /^[A-Za-z0-9\-._~:@+,=/]*$/;

export interface CanonicalTarget {
  path: string;
  /** Query including its leading `?`, or ''. */
  search: string;
}

/** Splits and checks `target` (req.url). Throws 400 NG_GW_BAD_REQUEST with details.problem. */
export function canonicalTarget(target: string): CanonicalTarget {
  const problem = (p: PathProblem) =>
    new NodegateError('NG_GW_BAD_REQUEST', 'The request path is not in canonical form (no percent-encoding, dot segments, empty segments or backslashes).', { status: 400, details: { problem: p } });
  if (target.length > MAX_TARGET_LENGTH) throw problem('too-long');
  if (target.charCodeAt(0) !== 47 /* / */) throw problem('not-origin-form');
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  const search = q === -1 ? '' : target.slice(q);
  if (path.includes('%')) throw problem('encoded');
  if (path.includes('\\') || search.includes('\\')) throw problem('backslash');
  if (search.includes('#')) throw problem('character');
  if (!PATH_CHARS.test(path)) throw problem('character');
  if (path.includes('//')) throw problem('empty-segment');
  // `.`, `..` and any segment ending in a dot: a dot before a slash or at the end
  if (path.includes('./') || path.endsWith('.')) throw problem('dot-segment');
  return { path, search };
}
