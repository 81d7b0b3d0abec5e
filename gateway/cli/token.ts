/**
 * `nodegate token create|list|revoke`: scoped API tokens for wallets. Works while the daemon runs:
 * a revocation written here applies to the daemon's very next request (gateway/auth/tokens.ts).
 */
import { parseCommandArgs, resolveDataDir, writeJson, type Command, type CommandIO } from '../../core/cli.ts';
import { NodegateError } from '../../core/errors.ts';
import { TokenService, parseTtl, SCOPES, type Scope } from '../auth/tokens.ts';

const USAGE = `usage: nodegate token create --data DIR --scope readonly|invoice|admin --name NAME [--ttl 30d] [--json]
       nodegate token list   --data DIR [--json]
       nodegate token revoke --data DIR ID [--json]

  create   prints a new token once (it is not stored); give it to one wallet, e.g. with \`nodegate pair\`
  list     every token: id, name, scope, expiry, revoked
  revoke   stops a token at once, also while \`nodegate start\` runs
           (an id that begins with '-' goes after \`--\`: \`token revoke --data DIR -- -Xy12\`)
  --ttl    lifetime: 30d, 12h, 45m, 2w (default 365d)`;

async function run(args: string[], io: CommandIO): Promise<number> {
  const [verb, ...rest] = args;
  const { values, positionals } = parseCommandArgs(
    rest,
    { data: { type: 'string' }, scope: { type: 'string' }, name: { type: 'string' }, ttl: { type: 'string' }, json: { type: 'boolean' } },
    USAGE,
    true,
  );
  const dataDir = resolveDataDir(values.data, io.env, USAGE);
  switch (verb) {
    case 'create': {
      if (!SCOPES.includes(values.scope as Scope)) throw new NodegateError('NG_USAGE', `--scope must be readonly, invoice or admin.\n\n${USAGE}`);
      if (!values.name) throw new NodegateError('NG_USAGE', `--name NAME is required (which wallet holds the token, e.g. "Zeus on my phone").\n\n${USAGE}`);
      if (positionals.length > 0) throw new NodegateError('NG_USAGE', `Unexpected argument "${positionals[0]}".\n\n${USAGE}`);
      const tokens = await TokenService.open(dataDir);
      const created = await tokens.create({ scope: values.scope as Scope, name: values.name, ...(values.ttl ? { ttlSeconds: parseTtl(values.ttl) } : {}) });
      if (values.json) writeJson(io, created);
      else {
        io.stdout.write(`Token ${created.id} (${created.scope}, "${created.name}") valid until ${created.expiresAt}:\n\n${created.token}\n\n`);
        io.stdout.write(`It is shown only now. Use it as "Authorization: Bearer <token>" or pair a wallet with \`nodegate pair\`.\n`);
      }
      return 0;
    }
    case 'list': {
      const tokens = await TokenService.open(dataDir);
      const list = tokens.list();
      if (values.json) writeJson(io, { tokens: list });
      else if (list.length === 0) io.stdout.write('No tokens yet. Create one with `nodegate token create`.\n');
      else {
        for (const t of list) {
          io.stdout.write(`${t.id}  ${t.scope.padEnd(8)}  ${t.revokedAt ? 'revoked ' + t.revokedAt : 'until ' + t.expiresAt}  ${t.name}\n`);
        }
      }
      return 0;
    }
    case 'revoke': {
      const id = positionals[0];
      if (!id || positionals.length > 1) throw new NodegateError('NG_USAGE', `token revoke takes one token id (see \`nodegate token list\`).\n\n${USAGE}`);
      const tokens = await TokenService.open(dataDir);
      const revoked = await tokens.revoke(id);
      if (values.json) writeJson(io, revoked);
      else io.stdout.write(`Token ${revoked.id} ("${revoked.name}") is revoked.\n`);
      return 0;
    }
    default:
      throw new NodegateError('NG_USAGE', `Unknown or missing verb "${verb ?? ''}".\n\n${USAGE}`);
  }
}

export const command: Command = { name: 'token', summary: 'token create|list|revoke: scoped API tokens for wallets', usage: USAGE, run };
