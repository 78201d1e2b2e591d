/**
 * Promise.all, but the failure reported is the first in order, not the first in time: two evaluations that fail at
 * once (two unreadable states) give the same error on every run, whatever finished first (as Atmos, which evaluates
 * in order). Every promise gets a handler at once, so an early failure further on is not an unhandled rejection.
 */
export async function allInOrder<T>(results: (T | Promise<T>)[]): Promise<T[]> {
  for (const result of results) if (result instanceof Promise) result.catch(() => {});
  const values: T[] = [];
  for (const result of results) values.push(await result);
  return values;
}
