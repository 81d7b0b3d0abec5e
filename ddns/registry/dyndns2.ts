/**
 * The dyndns2 update protocol (DynDNS "Remote Access Update API", as spoken by ddclient, inadyn
 * and routers): `GET /nic/update?hostname=<name>&myip=<ip>[,<ip>]` with HTTP basic auth, user =
 * the device name `<id>.<zone>`, password = the device's update secret (returned at registration).
 * Answers are text/plain return codes: `good IP`, `nochg IP`, `badauth`, `nohost` (a name that is
 * not the authenticated device's), `notfqdn`, `abuse` (rate limited), `911` (the DNS server did
 * not take the change; it is stored and retried). `myip` left out = the source address; IPv4 and
 * IPv6 are both accepted and set only the record of their own family. An address that is malformed
 * or special-purpose (see addresses.ts) gets `badip` — not part of the original code list, which
 * has nothing for it; clients log it as an unknown failure rather than retrying in a loop.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Type } from '@sinclair/typebox';
import { isNodegateError } from '../../core/errors.ts';
import { familyOf } from './addresses.ts';
import { secretMatches } from './auth.ts';
import { changeRecords, deviceName, sourceAddress, type RegistryContext } from './context.ts';
import type { DeviceRecordFields } from './store.ts';

/** Most hostnames in one request (dyn.com: "up to 20 hostnames per request"; more = numhost). */
export const MAX_HOSTNAMES = 20;

const FQDN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.?$/i;

function parseBasicAuth(header: string | undefined): { user: string; password: string } | undefined {
  const m = /^Basic ([A-Za-z0-9+/=]{1,1024})$/i.exec(header ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export const dyndns2Plugin = fp(
  (app: FastifyInstance, { ctx }: { ctx: RegistryContext }, done: (err?: Error) => void) => {
    app.get<{ Querystring: { hostname?: string; myip?: string } }>(
      '/nic/update',
      {
        schema: {
          tags: ['dyndns2'],
          summary: 'dyndns2: set the address of a device (basic auth: device name + update secret)',
          querystring: Type.Object({ hostname: Type.Optional(Type.String({ maxLength: (MAX_HOSTNAMES + 1) * 254 })), myip: Type.Optional(Type.String({ maxLength: 256 })) }),
          response: { 200: Type.String(), 401: Type.String() },
        },
      },
      async (req, reply) => {
        reply.type('text/plain; charset=utf-8');
        const source = sourceAddress(req);
        if (!ctx.limits.api.tryTake(source)) return reply.code(200).send('abuse');
        const auth = parseBasicAuth(req.headers.authorization);
        const zoneSuffix = `.${ctx.zone}`.toLowerCase();
        const user = auth?.user.toLowerCase();
        const id = user?.endsWith(zoneSuffix) ? user.slice(0, -zoneSuffix.length) : undefined;
        const device = id && /^[a-z2-7]{16}$/.test(id) ? ctx.store.getDevice(id) : undefined;
        if (!auth || !device || !secretMatches(auth.password, device.updateSecretHash)) {
          return reply.code(401).header('www-authenticate', 'Basic realm="nodegate dyndns2"').send('badauth');
        }
        // dyn.com, "Return Codes": a code about the account or the request is given once; codes about
        // a hostname one per line, in the order the hostnames were given.
        const hostnames = (req.query.hostname ?? '').split(',').map((h) => h.trim()).filter((h) => h !== '');
        if (hostnames.length === 0) return reply.send('notfqdn');
        if (hostnames.length > MAX_HOSTNAMES) return reply.send('numhost');

        const addresses = req.query.myip === undefined || req.query.myip === '' ? [source] : req.query.myip.split(',').map((s) => s.trim());
        const wanted: Partial<Pick<DeviceRecordFields, 'ipv4' | 'ipv6'>> = {};
        try {
          for (const address of addresses) {
            const family = familyOf(address);
            // One address per family: a device has one A and one AAAA record. Two of one family
            // would leave only the last one stored while the answer says "good" for both.
            if (!family || wanted[family] !== undefined) return reply.send('badip');
            wanted[family] = ctx.policy.checkPublic(address, family);
          }
        } catch (err) {
          if (isNodegateError(err)) return reply.send('badip');
          throw err;
        }

        const own = deviceName(ctx.zone, device.id);
        const codes = hostnames.map((h) => (!FQDN.test(h) ? 'notfqdn' : h.toLowerCase().replace(/\.$/, '') === own ? 'own' : 'nohost'));
        let changed = false;
        if (codes.includes('own')) {
          try {
            ({ changed } = await changeRecords(ctx, device.id, (d) => ({ ipv4: d.ipv4, ipv6: d.ipv6, lan: d.lan, acmeTxt: d.acmeTxt, ...wanted })));
          } catch (err) {
            if (isNodegateError(err, 'NG_REG_UNAVAILABLE')) return reply.send('911');
            throw err;
          }
        }
        const ip = addresses.join(',');
        // The device's name given twice is updated once: the repeat is "nochg".
        const lines = codes.map((code) => {
          if (code !== 'own') return code;
          const line = `${changed ? 'good' : 'nochg'} ${ip}`;
          changed = false;
          return line;
        });
        return reply.send(lines.join('\n'));
      },
    );
    done();
  },
  { name: 'nodegate-registry-dyndns2', fastify: '5.x' },
);
