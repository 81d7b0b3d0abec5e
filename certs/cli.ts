import { notYetBuilt } from '../core/cli.ts';

export const command = notYetBuilt('certs', `usage: nodegate certs renew --data DIR [--force]`);
