#!/usr/bin/env node
// Entry shim: nodegate is written in TypeScript and runs through tsx's loader (no build step,
// so a clean clone works right after `npm ci`). The CLI itself is bin/nodegate.ts.
import { register } from 'tsx/esm/api';

register();
await import('./nodegate.ts');
