import { notYetBuilt } from '../../core/cli.ts';

export const command = notYetBuilt('pair', `usage: nodegate pair --data DIR --scope S [--onion]`);
