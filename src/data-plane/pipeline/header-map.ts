/**
 * Request headers as Node's `IncomingMessage.headers` holds them: names already lower-case, a repeated header
 * possibly as an array. Stages take this instead of a request object so they stay free of transport types.
 */
export type HeaderMap = Readonly<Record<string, string | string[] | undefined>>;

/** One header's value by its lower-case name; for a repeated header, its first value. */
export function headerValue(headers: HeaderMap, name: string): string | undefined {
  const value = headers[name];
  return typeof value === "string" ? value : value?.[0];
}
