/**
 * DNS-01 through the nodegate registry: device-signed API calls (ddns/client/registry-client.ts)
 * add and remove values of `_acme-challenge.<id>.<zone>` TXT, which the registry serves from its
 * authoritative DNS. The registry holds at most two values (apex + wildcard order).
 */
import { NodegateError } from '../../core/errors.ts';
import type { Dns01Solver } from '../solver.ts';

/** The two calls of RegistryClient this adapter needs (RegistryClient satisfies it). */
export interface AcmeTxtPublisher {
  addAcmeTxt(value: string, options?: { signal?: AbortSignal }): Promise<unknown>;
  removeAcmeTxt(value: string, options?: { signal?: AbortSignal }): Promise<unknown>;
}

export class RegistrySolver implements Dns01Solver {
  readonly kind = 'registry';
  readonly #client: AcmeTxtPublisher;
  readonly #deviceName: string;

  /** @param deviceName `<id>.<zone>`: the only name (with its wildcard) this device may prove. */
  constructor(client: AcmeTxtPublisher, deviceName: string) {
    this.#client = client;
    this.#deviceName = deviceName.toLowerCase().replace(/\.$/, '');
  }

  #check(name: string): void {
    if (name.toLowerCase().replace(/^\*\./, '').replace(/\.$/, '') !== this.#deviceName) {
      throw new NodegateError('NG_CERT_ACME', `The registry can only publish challenges for ${this.#deviceName}, not ${name}. Use the rfc2136 solver for other names.`);
    }
  }

  async present(name: string, value: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    this.#check(name);
    await this.#client.addAcmeTxt(value, options);
  }

  async cleanup(name: string, value: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    this.#check(name);
    await this.#client.removeAcmeTxt(value, options);
  }
}
