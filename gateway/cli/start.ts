import { notYetBuilt } from '../../core/cli.ts';

export const command = notYetBuilt('start', `usage: nodegate start --data DIR`);
