/** Fuzzing helpers shared by the parsers' fuzz tests. A small seeded PRNG (mulberry32) so failures reproduce. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random bytes, and mutations (bit flips, truncation, extension) of a valid message. */
export function* fuzzBuffers(valid: Buffer[], count: number, seed = 1): Generator<Buffer> {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  for (let i = 0; i < count; i++) {
    const base = valid[int(valid.length)]!;
    const kind = int(4);
    if (kind === 0) {
      yield Buffer.from(Array.from({ length: int(80) }, () => int(256)));
    } else if (kind === 1) {
      const b = Buffer.from(base);
      for (let j = 0; j < 1 + int(4); j++) if (b.length) b[int(b.length)] = int(256);
      yield b;
    } else if (kind === 2) {
      yield base.subarray(0, int(base.length + 1));
    } else {
      yield Buffer.concat([base, Buffer.from(Array.from({ length: int(40) }, () => int(256)))]);
    }
  }
}
