import { notYetBuilt } from '../../core/cli.ts';

export const command = notYetBuilt('demo', `usage: nodegate demo`);
