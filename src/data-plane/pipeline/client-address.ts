import type { IncomingMessage } from "node:http";
import { type IpRanges, normalizeAddress } from "../../shared/ip-ranges.js";
import { headerValue } from "./header-map.js";

/** Where the client's address is read from when a request comes through a proxy the operator trusts. */
export interface ClientAddressSource {
  /** Peers whose forwarded-address header is believed; null trusts none (the socket's peer is the client). */
  trustedProxies: IpRanges | null;
  /** The header a trusted proxy sets, e.g. x-forwarded-for (a comma-separated chain, the nearest hop last). */
  header: string;
}

/**
 * The client's address: the socket's peer, unless that peer is a trusted proxy; then the forwarded chain is read
 * from its nearest hop backwards and the first address that is not itself a trusted proxy is the client (so a
 * client cannot pose as another by sending the header itself). "unknown" when the socket has no address.
 */
export function clientAddress(req: IncomingMessage, source: ClientAddressSource): string {
  const peer = normalizeAddress(req.socket.remoteAddress ?? "unknown");
  const trusted = source.trustedProxies;
  if (trusted === null || !trusted.has(peer)) return peer;
  const chain = (headerValue(req.headers, source.header) ?? "")
    .split(",")
    .map((hop) => normalizeAddress(hop))
    .filter((hop) => hop !== "");
  for (let i = chain.length - 1; i >= 0; i--) {
    const hop = chain[i] ?? "";
    if (!trusted.has(hop)) return hop;
  }
  return chain[0] ?? peer;
}
