import * as http2 from "node:http2";
import * as net from "node:net";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build, type ControlPlaneServer } from "../../src/control-plane/server.js";
import { AdminService, GetSettingsResponseSchema } from "../../src/gen/switchyard/v1/admin_pb.js";
import { createLogger } from "../../src/shared/logger.js";
import {
  bearer,
  type ConnectProtocol,
  connectClient,
  grpcJsClient,
  grpcUnary,
} from "../support/grpc-clients.js";
import { type RpcVerdict, readVerdict } from "../support/rpc-verdict.js";

/**
 * The token is checked from the headers, before the body is read (DESIGN: a control plane reachable by anyone must
 * not buffer a message up to the read limit per call without a token). Measured before this: a 300 MB JSON body
 * without a token took the process from 221 to 1,284 MB RSS and was answered 401 only after all of it was read.
 */

const ADMIN_TOKEN = "admin-token-for-early-auth";
const DATA_PLANE_TOKEN = "data-plane-token-for-early-auth";
const SETTINGS_PATH = "/switchyard.v1.AdminService/GetSettings";
/** How long an answer may take; the body never comes, so without the early check there is none at all. */
const ANSWER_WITHIN_MS = 5_000;

let server: ControlPlaneServer;
let url: string;
let port: number;
beforeAll(async () => {
  server = build({
    admin: { getSettings: () => create(GetSettingsResponseSchema, {}) },
    tokens: { admin: ADMIN_TOKEN, dataPlane: DATA_PLANE_TOKEN },
    readiness: () => true,
    registry: new Registry(),
    log: createLogger({ level: "silent" }),
    listen: { host: "127.0.0.1", port: 0 },
  });
  ({ url, port } = await server.listen());
});
afterAll(() => server.close());

/** An HTTP/2 call that sends its headers and never its body: what the server answers meanwhile. */
function h2HeadersOnly(headers: Record<string, string>): Promise<RpcVerdict> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on("error", () => undefined);
    const stream = session.request({ ":method": "POST", ":path": SETTINGS_PATH, ...headers });
    const timer = setTimeout(
      () => reject(new Error("no answer while the body was still unsent")),
      ANSWER_WITHIN_MS,
    );
    let answer = { status: 0, headers: {} as Record<string, string>, trailers: {}, body: Buffer.alloc(0) };
    const chunks: Buffer[] = [];
    stream.on("response", (h) => {
      answer = { ...answer, status: Number(h[":status"]), headers: stringHeaders(h) };
    });
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", () => undefined);
    // The server has ended its side: the answer is complete though the request is not.
    stream.on("end", () => {
      clearTimeout(timer);
      resolve(readVerdict({ ...answer, body: Buffer.concat(chunks) }));
      session.destroy();
    });
  });
}

/** An HTTP/1.1 call that announces a 10 MB body and never sends it: what the server answers meanwhile. */
function h1HeadersOnly(headers: Record<string, string>): Promise<RpcVerdict & { closes: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    const timer = setTimeout(
      () => reject(new Error("no answer while the body was still unsent")),
      ANSWER_WITHIN_MS,
    );
    const head = Object.entries({ host: "test", "content-length": "10000000", ...headers })
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join("");
    socket.write(`POST ${SETTINGS_PATH} HTTP/1.1\r\n${head}\r\n`);
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("latin1");
      const [head = "", body = ""] = text.split("\r\n\r\n", 2);
      const [statusLine = "", ...lines] = head.split("\r\n");
      const parsed: Record<string, string> = {};
      for (const line of lines)
        parsed[line.slice(0, line.indexOf(":")).toLowerCase()] = line.slice(line.indexOf(":") + 1).trim();
      const status = Number(statusLine.split(" ")[1] ?? 0);
      const verdict = readVerdict({
        status,
        headers: parsed,
        trailers: {},
        body: Buffer.from(body, "latin1"),
      });
      resolve({ ...verdict, closes: parsed.connection === "close" });
    });
  });
}

function stringHeaders(h: http2.IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, String(v)]));
}

const PROTOCOLS = [
  { name: "gRPC", contentType: "application/grpc+proto", field: "grpcStatus", refused: 16, denied: 7 },
  {
    name: "gRPC-Web",
    contentType: "application/grpc-web+proto",
    field: "grpcStatus",
    refused: 16,
    denied: 7,
  },
  {
    name: "Connect unary",
    contentType: "application/proto",
    field: "connectCode",
    refused: "unauthenticated",
    denied: "permission_denied",
  },
  {
    name: "Connect stream",
    contentType: "application/connect+proto",
    field: "connectCode",
    refused: "unauthenticated",
    denied: "permission_denied",
  },
] as const;

describe("a call without the right token is answered before its body arrives", () => {
  it.each(PROTOCOLS)("$name over HTTP/2: no token, then the other audience's token", async (p) => {
    const none = await h2HeadersOnly({ "content-type": p.contentType });
    expect(none[p.field]).toBe(p.refused);
    const other = await h2HeadersOnly({
      "content-type": p.contentType,
      authorization: `Bearer ${DATA_PLANE_TOKEN}`,
    });
    expect(other[p.field]).toBe(p.denied);
  });

  it.each(PROTOCOLS)("$name over HTTP/1.1, closing the connection instead of reading the body", async (p) => {
    const none = await h1HeadersOnly({ "content-type": p.contentType });
    expect(none).toMatchObject({ [p.field]: p.refused, closes: true });
    const other = await h1HeadersOnly({
      "content-type": p.contentType,
      authorization: `Bearer ${DATA_PLANE_TOKEN}`,
    });
    expect(other).toMatchObject({ [p.field]: p.denied, closes: true });
  });

  it("answers Connect unary refusals with the HTTP status a Connect client maps", async () => {
    expect(await h1HeadersOnly({ "content-type": "application/json" })).toMatchObject({ httpStatus: 401 });
    const other = await h2HeadersOnly({
      "content-type": "application/json",
      authorization: `Bearer ${DATA_PLANE_TOKEN}`,
    });
    expect(other).toMatchObject({ httpStatus: 403, connectCode: "permission_denied" });
  });
});

describe("stock clients still see UNAUTHENTICATED and PERMISSION_DENIED, whatever the message size", () => {
  const sizes = [10, 2_000_000];
  it.each<[ConnectProtocol, "1.1" | "2"]>([
    ["grpc", "2"],
    ["connect", "2"],
    ["connect", "1.1"],
    ["grpc-web", "2"],
    ["grpc-web", "1.1"],
  ])("Connect client, %s over HTTP/%s", async (protocol, httpVersion) => {
    for (const size of sizes) {
      for (const [token, code] of [
        ["wrong", Code.Unauthenticated],
        [DATA_PLANE_TOKEN, Code.PermissionDenied],
      ] as const) {
        const { client, close } = connectClient(AdminService, url, { protocol, httpVersion, token });
        try {
          const err = await client
            .createUser({ name: "x".repeat(size) })
            .catch((e: unknown) => ConnectError.from(e));
          expect(err, `${size} bytes`).toMatchObject({ code });
        } finally {
          close();
        }
      }
    }
  });

  it("grpc-js", async () => {
    const client = grpcJsClient("switchyard.v1.AdminService", `127.0.0.1:${port}`);
    try {
      for (const size of sizes) {
        expect(
          (await grpcUnary(client, "CreateUser", { name: "x".repeat(size) }, bearer("wrong"))).code,
        ).toBe(grpc.status.UNAUTHENTICATED);
        const denied = await grpcUnary(
          client,
          "CreateUser",
          { name: "x".repeat(size) },
          bearer(DATA_PLANE_TOKEN),
        );
        expect(denied.code).toBe(grpc.status.PERMISSION_DENIED);
      }
    } finally {
      client.close();
    }
  });
});

describe("an HTTP/2 session after refused calls", () => {
  it("keeps serving when the refused bodies were sent, and is closed when a client floods past the bound", async () => {
    const session = http2.connect(url);
    session.on("error", () => undefined);
    const call = (token: string, body: Buffer) =>
      new Promise<number | undefined>((resolve) => {
        const stream = session.request({
          ":method": "POST",
          ":path": SETTINGS_PATH,
          "content-type": "application/grpc",
          te: "trailers",
          authorization: `Bearer ${token}`,
        });
        let status: number | undefined;
        stream.on("response", (h) => {
          status = h["grpc-status"] === undefined ? undefined : Number(h["grpc-status"]);
        });
        stream.on("trailers", (t) => {
          status = Number(t["grpc-status"]);
        });
        stream.resume();
        stream.on("error", () => undefined);
        stream.on("close", () => resolve(status));
        stream.end(body);
      });
    const envelope = (n: number) =>
      Buffer.concat([
        Buffer.from([0, n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]),
        Buffer.alloc(n),
      ]);
    try {
      // Unread, these 512 KiB bodies would use up the session's flow-control window: the server reads and drops them.
      for (let i = 0; i < 6; i++)
        expect(await call("wrong", envelope(512 * 1024))).toBe(grpc.status.UNAUTHENTICATED);
      expect(await call(ADMIN_TOKEN, envelope(0))).toBe(grpc.status.OK);
      const closed = new Promise((resolve) => session.once("close", resolve));
      expect(await call("wrong", envelope(8 * 1024 * 1024))).toBe(grpc.status.UNAUTHENTICATED);
      await closed;
    } finally {
      session.destroy();
    }
  });
});
