// sha256 (hex) of constant bytes without blocking the event loop: WebCrypto's digest
// hashes on libuv's thread pool (only the copy of the input it takes is made here).
// Keys weights' named data (xnnpack-partitioner) and dedups constants (constant-dedup);
// the hex equals crypto.createHash('sha256')'s, so keys do not change.
import { webcrypto } from 'crypto';

export async function sha256HexAsync(bytes: Uint8Array): Promise<string> {
  const digest = await webcrypto.subtle.digest('SHA-256', bytes);
  return Buffer.from(digest).toString('hex');
}
