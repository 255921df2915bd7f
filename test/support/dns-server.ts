import { createSocket, type RemoteInfo } from "node:dgram";
import { once } from "node:events";

/** A DNS server for tests: answers A queries for the names it is given (over UDP, on 127.0.0.1). */
export interface TestDnsServer {
  readonly port: number;
  /** Sets the IPv4 addresses a name resolves to (an empty list makes it NXDOMAIN). */
  set(name: string, addresses: string[]): void;
  /** Queries answered so far, by name. */
  queries(name: string): number;
  close(): Promise<void>;
}

const TYPE_A = 1;
const CLASS_IN = 1;

/**
 * Starts a minimal authoritative DNS responder: enough of RFC 1035 for c-ares (Node's `dns.Resolver`) to resolve
 * A records with TTL 0. Other types get an empty NOERROR answer for known names; unknown names NXDOMAIN.
 */
export async function startDnsServer(): Promise<TestDnsServer> {
  const records = new Map<string, string[]>();
  const asked = new Map<string, number>();
  const socket = createSocket("udp4");
  socket.on("message", (query: Buffer, peer: RemoteInfo) => {
    const answer = respond(query, records, asked);
    if (answer) socket.send(answer, peer.port, peer.address);
  });
  socket.bind(0, "127.0.0.1");
  await once(socket, "listening");
  return {
    port: socket.address().port,
    set: (name, addresses) => records.set(name.toLowerCase(), addresses),
    queries: (name) => asked.get(name.toLowerCase()) ?? 0,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

function respond(query: Buffer, records: Map<string, string[]>, asked: Map<string, number>): Buffer | null {
  if (query.length < 12 || query.readUInt16BE(4) !== 1) return null;
  const labels: string[] = [];
  let offset = 12;
  while (offset < query.length) {
    const length = query.readUInt8(offset);
    offset++;
    if (length === 0) break;
    labels.push(query.subarray(offset, offset + length).toString("ascii"));
    offset += length;
  }
  if (offset + 4 > query.length) return null;
  const type = query.readUInt16BE(offset);
  const question = query.subarray(12, offset + 4);
  const name = labels.join(".").toLowerCase();
  asked.set(name, (asked.get(name) ?? 0) + 1);
  const addresses = records.get(name);
  const answers = type === TYPE_A && addresses ? addresses : [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0); // id
  // QR, AA, RD copied; RCODE 3 (NXDOMAIN) for names it does not know.
  header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | (addresses?.length ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  const answerRecords = answers.map((address) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // a pointer to the question's name
    rr.writeUInt16BE(TYPE_A, 2);
    rr.writeUInt16BE(CLASS_IN, 4);
    rr.writeUInt32BE(0, 6); // TTL 0: ask again every time
    rr.writeUInt16BE(4, 10);
    for (const [i, octet] of address.split(".").entries()) rr.writeUInt8(Number(octet), 12 + i);
    return rr;
  });
  return Buffer.concat([header, question, ...answerRecords]);
}
