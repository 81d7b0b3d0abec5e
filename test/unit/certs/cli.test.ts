import { describe, it, expect } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { command, saveAcmeSection, loadAcmeConfig, certificateNames } from '../../../certs/cli.ts';
import { DEFAULT_DIRECTORY_URL, DEFAULT_RENEW_FRACTION_LEFT } from '../../../certs/config.ts';
import { tempDir } from '../../../sim/process.ts';

function io(env: NodeJS.ProcessEnv = {}) {
  return { stdout: new PassThrough(), stderr: new PassThrough(), env, signal: new AbortController().signal };
}

describe('nodegate certs', () => {
  it('rejects a missing data directory and an unknown subcommand with NG_USAGE', async () => {
    await expect(command.run(['renew'], io())).rejects.toMatchObject({ code: 'NG_USAGE' });
    await expect(command.run(['frobnicate', '--data', '/nonexistent'], io())).rejects.toMatchObject({ code: 'NG_USAGE' });
    await expect(command.run(['renew', '--data', '/x', '--bogus'], io())).rejects.toMatchObject({ code: 'NG_USAGE' });
  });

  it('writes the acme section beside the other sections, and rejects an invalid one with NG_CONFIG_INVALID', async () => {
    const d = await tempDir();
    try {
      await writeFile(join(d.path, 'config.json'), JSON.stringify({ gateway: { listen: '127.0.0.1:8443' } }));
      await saveAcmeSection(d.path, { directoryUrl: 'https://127.0.0.1:14000/dir', caFile: '/tmp/ca.pem' });
      expect(JSON.parse(await readFile(join(d.path, 'config.json'), 'utf8'))).toEqual({ gateway: { listen: '127.0.0.1:8443' }, acme: { directoryUrl: 'https://127.0.0.1:14000/dir', caFile: '/tmp/ca.pem' } });
      const loaded = await loadAcmeConfig(d.path);
      expect(loaded).toMatchObject({ directoryUrl: 'https://127.0.0.1:14000/dir', solver: { type: 'registry' }, renewFractionLeft: DEFAULT_RENEW_FRACTION_LEFT });
      await expect(saveAcmeSection(d.path, { solver: { type: 'rfc2136' } } as never)).rejects.toMatchObject({ code: 'NG_CONFIG_INVALID' });
      await expect(saveAcmeSection(d.path, { directoryUrl: 'https://x.test/dir', tyop: 1 } as never)).rejects.toMatchObject({ code: 'NG_CONFIG_INVALID' });
    } finally {
      await d.remove();
    }
  });

  it('uses the defaults (Let\'s Encrypt, registry solver) when config.json has no acme section', async () => {
    const d = await tempDir();
    try {
      await writeFile(join(d.path, 'config.json'), '{}');
      expect(await loadAcmeConfig(d.path)).toMatchObject({ directoryUrl: DEFAULT_DIRECTORY_URL, solver: { type: 'registry' } });
    } finally {
      await d.remove();
    }
  });

  it('certifies <id>.<zone> and *.<id>.<zone>', () => {
    expect(certificateNames('abc.dyn.example')).toEqual(['abc.dyn.example', '*.abc.dyn.example']);
  });
});
