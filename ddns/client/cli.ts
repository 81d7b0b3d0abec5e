import { notYetBuilt } from '../../core/cli.ts';

export const command = notYetBuilt('doctor', `usage: nodegate doctor --data DIR [--json]`);
