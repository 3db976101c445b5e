/**
 * SQLite in a Durable Object takes a string of at most 2 MB, bound values included. Rows inserted many at a time
 * travel as a JSON array in one bound value (a statement takes at most 100 of them), so a large insert (a fan-out's
 * members, their activity entries) is cut into arrays that each stay under that size: counted in characters, which
 * UTF-8 may store in up to three bytes each.
 */
const MAX_JSON_BATCH_CHARS = 512 * 1024;

/** The rows, each already JSON, as JSON arrays of at most `maxChars` characters (a single larger row goes alone). */
export function jsonRowBatches(rows: Iterable<string>, maxChars = MAX_JSON_BATCH_CHARS): string[] {
  const batches: string[] = [];
  let batch: string[] = [];
  let chars = 2;
  for (const row of rows) {
    if (batch.length > 0 && chars + row.length + 1 > maxChars) {
      batches.push(`[${batch.join(",")}]`);
      batch = [];
      chars = 2;
    }
    batch.push(row);
    chars += row.length + 1;
  }
  if (batch.length > 0) batches.push(`[${batch.join(",")}]`);
  return batches;
}
