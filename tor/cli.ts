import { notYetBuilt } from '../core/cli.ts';

export const command = notYetBuilt('tor', `usage: nodegate tor client add|list|remove --data DIR`);
