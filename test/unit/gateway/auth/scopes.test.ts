import { describe, it, expect } from 'vitest';
import { scopeAllows } from '../../../../gateway/auth/scopes.ts';

describe('scopeAllows', () => {
  it('readonly: reads only', () => {
    expect(scopeAllows('readonly', 'GET', '/v1/getinfo')).toBe(true);
    expect(scopeAllows('readonly', 'GET', '/v1/invoice/abcdef')).toBe(true);
    expect(scopeAllows('readonly', 'GET', '/v1/invoice/abc/def')).toBe(false);
    expect(scopeAllows('readonly', 'POST', '/v1/invoices')).toBe(false);
    expect(scopeAllows('readonly', 'POST', '/v1/channels/transactions')).toBe(false);
    expect(scopeAllows('readonly', 'GET', '/v1/newaddress')).toBe(false);
    expect(scopeAllows('readonly', 'DELETE', '/v1/getinfo')).toBe(false);
  });

  it('invoice: invoices and addresses, no payments, no getinfo', () => {
    expect(scopeAllows('invoice', 'POST', '/v1/invoices')).toBe(true);
    expect(scopeAllows('invoice', 'GET', '/v1/newaddress')).toBe(true);
    expect(scopeAllows('invoice', 'POST', '/v1/channels/transactions')).toBe(false);
    expect(scopeAllows('invoice', 'GET', '/v1/getinfo')).toBe(false);
  });

  it('admin: anything under /v1 and /v2 except the wallet unlocker', () => {
    expect(scopeAllows('admin', 'POST', '/v1/channels/transactions')).toBe(true);
    expect(scopeAllows('admin', 'DELETE', '/v1/channels/abc/0')).toBe(true);
    expect(scopeAllows('admin', 'POST', '/v1/unlockwallet')).toBe(false);
    expect(scopeAllows('admin', 'POST', '/v1/initwallet')).toBe(false);
    expect(scopeAllows('admin', 'GET', '/v1/genseed')).toBe(false);
    expect(scopeAllows('admin', 'POST', '/v1/changepassword')).toBe(false);
    expect(scopeAllows('admin', 'GET', '/_nodegate/login')).toBe(false);
    expect(scopeAllows('admin', 'GET', '/v3/anything')).toBe(false);
  });
});
