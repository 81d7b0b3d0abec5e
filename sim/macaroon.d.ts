// Types for the `macaroon` npm library (v3), only the part the LND simulator uses.
declare module 'macaroon' {
  export interface Macaroon {
    readonly identifier: Uint8Array;
    readonly location: string;
    readonly signature: Uint8Array;
    addFirstPartyCaveat(caveatId: string | Uint8Array): void;
    verify(rootKey: Uint8Array, check: (condition: string) => string | null, discharges?: Macaroon[]): void;
    exportBinary(): Uint8Array;
  }
  export function newMacaroon(options: { identifier: string | Uint8Array; location?: string; rootKey: string | Uint8Array; version?: 1 | 2 }): Macaroon;
  export function importMacaroon(obj: Uint8Array | string | object): Macaroon;
}
