import { notYetBuilt } from '../../core/cli.ts';

export const command = notYetBuilt('registry', `usage: nodegate registry --zone Z --data DIR [--api HOST:PORT] [--dns HOST:PORT]`);
