import { describe, it, expect } from 'vitest';
import { Type } from '@sinclair/typebox';
import { strictObject, parseConfig } from '../../../core/config.ts';
import { NodegateError } from '../../../core/errors.ts';

const Schema = strictObject({
  listen: Type.String(),
  renewBeforeDays: Type.Integer({ minimum: 1, default: 30 }),
  nested: Type.Optional(strictObject({ on: Type.Boolean() })),
});

describe('parseConfig', () => {
  it('fills defaults', () => {
    expect(parseConfig(Schema, { listen: '127.0.0.1:1' }, 'test')).toEqual({ listen: '127.0.0.1:1', renewBeforeDays: 30 });
  });

  it('rejects an unknown key and names it', () => {
    let err: unknown;
    try {
      parseConfig(Schema, { listen: 'x', nested: { on: true, of: 1 } }, 'config.json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NodegateError);
    const e = err as NodegateError;
    expect(e.code).toBe('NG_CONFIG_INVALID');
    expect(e.message).toContain('config.json');
    expect(JSON.stringify(e.details)).toContain('/nested');
  });

  it('rejects a wrong type', () => {
    expect(() => parseConfig(Schema, { listen: 5 }, 'test')).toThrow(NodegateError);
  });
});
