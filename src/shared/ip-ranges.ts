import { BlockList, isIP } from "node:net";

/** A set of addresses given as single IPs and CIDR ranges (IPv4 and IPv6), e.g. ["10.0.0.0/8", "2001:db8::1"]. */
export interface IpRanges {
  /** Whether `address` falls in one of the ranges; an address that is not an IP never does. */
  has(address: string): boolean;
}

/** "::ffff:10.1.2.3" (an IPv4 client on a dual-stack socket) is the IPv4 address 10.1.2.3. */
export function normalizeAddress(address: string): string {
  const trimmed = address.trim();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(trimmed);
  return mapped?.[1] ?? trimmed;
}

/** Why `entry` is not an IP or a CIDR range, or null when it is one. */
export function ipRangeProblem(entry: string): string | null {
  const [address = "", bits, ...rest] = entry.trim().split("/");
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return `"${entry}" is not an IP address or CIDR range`;
  if (bits === undefined) return null;
  const prefix = Number(bits);
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(bits) || prefix > max) return `"${entry}" has a prefix length outside 0–${max}`;
  return null;
}

/** The ranges of `entries`, each checked with {@link ipRangeProblem} first (throws RangeError on the first bad one). */
export function ipRanges(entries: readonly string[]): IpRanges {
  const list = new BlockList();
  for (const raw of entries) {
    const problem = ipRangeProblem(raw);
    if (problem) throw new RangeError(problem);
    const [address = "", bits] = raw.trim().split("/");
    const type = isIP(address) === 4 ? "ipv4" : "ipv6";
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return {
    has(address: string): boolean {
      const a = normalizeAddress(address);
      const family = isIP(a);
      if (family === 0) return false;
      return list.check(a, family === 4 ? "ipv4" : "ipv6");
    },
  };
}
