/** Computes HMAC-SHA256 of the concatenation of `parts` under a fixed key. The bytes returned may be overwritten by the next call: use them before then. */
export type Hmac = (parts: readonly Uint8Array[]) => Uint8Array;

/** Makes an {@link Hmac} for a key: portable JS by default everywhere (kernel/frame.ts), Node's native one optional (lib/platform/hmac.node.ts). */
export type HmacFactory = (key: Uint8Array) => Hmac;
