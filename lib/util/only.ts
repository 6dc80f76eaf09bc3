/**
 * The one value of `source`, for the places where a stream stands for a single message (a
 * unary request or response passing through stream-shaped code). Stops reading once a second
 * value shows up.
 * @param source - the values
 * @param none - the error for an empty source
 * @param many - the error for a second value
 * @throws what `none` or `many` gives
 * @internal
 */
export async function onlyValue<T>(source: Iterable<T> | AsyncIterable<T>, none: () => Error, many: () => Error): Promise<T> {
  let result: { value: T } | undefined;
  for await (const value of source) {
    if (result !== undefined) throw many();
    result = { value };
  }
  if (result === undefined) throw none();
  return result.value;
}
