import { notYetBuilt } from '../../core/cli.ts';

export const command = notYetBuilt('init', `usage: nodegate init --data DIR --registry URL`);
