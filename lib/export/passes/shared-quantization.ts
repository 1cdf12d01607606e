// One quantization feeding several constants (a weight's codes and its scales): computed
// when the first of them is written, and forgotten once each has read it, so quantized
// weights do not pile up in memory while the program is written. A later extra read
// (a writer that reads a source twice) quantizes again; codes are deterministic, so it
// gets the same bytes.
export function sharedQuantization<T>(compute: () => Promise<T>, readers: number): () => Promise<T> {
  let pending: Promise<T> | undefined;
  let reads = 0;
  return () => {
    const result = (pending ??= compute());
    if (++reads >= readers) {
      pending = undefined;
      reads = 0;
    }
    return result;
  };
}
