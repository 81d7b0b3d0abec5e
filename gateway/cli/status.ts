import { notYetBuilt } from '../../core/cli.ts';

export const command = notYetBuilt('status', `usage: nodegate status --data DIR [--json]`);
