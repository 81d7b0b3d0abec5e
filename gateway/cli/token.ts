import { notYetBuilt } from '../../core/cli.ts';

export const command = notYetBuilt('token', `usage: nodegate token create|list|revoke --data DIR`);
