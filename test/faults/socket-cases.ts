import type { DescMethod } from "@bufbuild/protobuf";
import type { RawCall } from "../support/raw-rpc-client.js";
import type { FuzzCase, FuzzTokens } from "./control-plane-fuzz-cases.js";
import { pick, type Rng } from "./seeded-random.js";

/** HTTP/1.x requests no library would send: no Host, broken framing, conflicting lengths. */
export function socketCase(rng: Rng, method: DescMethod, tokens: FuzzTokens): FuzzCase {
  const path = `/${method.parent.typeName}/${method.name}`;
  const auth = `authorization: Bearer ${rng() < 0.5 ? tokens.admin : tokens.dataPlane}\r\n`;
  const variants: readonly [string, string][] = [
    [
      "http/1.0-no-host",
      `POST ${path} HTTP/1.0\r\ncontent-type: application/json\r\n${auth}content-length: 2\r\n\r\n{}`,
    ],
    [
      "no-host",
      `POST ${path} HTTP/1.1\r\ncontent-type: application/proto\r\n${auth}content-length: 0\r\n\r\n`,
    ],
    [
      "bad-chunk",
      `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${auth}transfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
    ],
    [
      "short-body",
      `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${auth}content-length: 100\r\n\r\n{"a":`,
    ],
    [
      "both-lengths",
      `POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n`,
    ],
    ["garbage-line", `\u0000\u0001 GARBAGE\r\n\r\n`],
    [
      "expect-continue",
      `POST ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\nexpect: 100-continue\r\ncontent-length: 2\r\n\r\n{}`,
    ],
    ["h2-preface-then-junk", `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n${"\u00ff".repeat(64)}`],
  ];
  const [shape, text] = pick(rng, variants);
  const call: RawCall = {
    transport: "socket",
    method: "",
    path: "",
    headers: {},
    body: new Uint8Array(),
    raw: Buffer.from(text, "latin1"),
    // A complete request asking for the connection to close is answered before the server closes it; ending our
    // side early would make node's server drop it as abandoned.
    ...(shape === "expect-continue" ? { keepOpen: true } : {}),
  };
  return { call, protocol: "raw/socket", token: "n/a", shape };
}
