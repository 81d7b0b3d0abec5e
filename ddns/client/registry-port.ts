/**
 * What the reachability code needs of the registry: the three calls of `RegistryClient`
 * (ddns/client/registry-client.ts) it uses, so a `RegistryClient` is passed as is.
 */
import type { AddressUpdateRequest, DeviceResponse, ProbeRequest, ProbeResponse, WhoamiResponse } from '../protocol.ts';
import type { RegistryClient } from './registry-client.ts';

export interface RegistryPort {
  whoami(options?: { signal?: AbortSignal }): Promise<WhoamiResponse>;
  updateAddress(update: AddressUpdateRequest, options?: { signal?: AbortSignal }): Promise<DeviceResponse>;
  probe(probe: ProbeRequest, options?: { signal?: AbortSignal }): Promise<ProbeResponse>;
}

// compile-time proof that the registry's client fits the port
const _fits = (c: RegistryClient): RegistryPort => c;
void _fits;
