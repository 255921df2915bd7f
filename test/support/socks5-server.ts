import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";

/** A CONNECT the server carried: how the client named the destination, and who it authenticated as. */
export interface SocksConnect {
  addressType: "ipv4" | "domain" | "ipv6";
  host: string;
  port: number;
  /** The RFC 1929 username, "" without auth. */
  username: string;
}

/** A running SOCKS5 server for tests. */
export interface Socks5Server {
  port: number;
  /** `socks5://` (or `socks5h://`) URL of this server, with the credentials when it requires them. */
  url(scheme: "socks5" | "socks5h"): string;
  connects: SocksConnect[];
  /** Handshakes refused (wrong credentials, no acceptable method). */
  refused: number;
  close(): Promise<void>;
}

/**
 * A small SOCKS5 server (RFC 1928 CONNECT only; RFC 1929 username/password when `auth` is given): enough to prove
 * the data plane speaks the protocol, including how it names destinations (IP for socks5, name for socks5h).
 */
export async function startSocks5Server(auth?: {
  username: string;
  password: string;
}): Promise<Socks5Server> {
  const sockets = new Set<Socket>();
  const state = { connects: [] as SocksConnect[], refused: 0 };
  const server: Server = createServer((client) => {
    track(client);
    void handshake(client).catch(() => client.destroy());
  });

  function track(socket: Socket): void {
    sockets.add(socket);
    socket.on("error", () => undefined).once("close", () => sockets.delete(socket));
  }

  async function handshake(client: Socket): Promise<void> {
    const read = reader(client);
    const [version = 0, methodCount = 0] = await read(2);
    const methods = [...(await read(methodCount))];
    const wanted = auth ? 0x02 : 0x00;
    if (version !== 5 || !methods.includes(wanted)) {
      state.refused++;
      client.end(Buffer.from([5, 0xff]));
      return;
    }
    client.write(Buffer.from([5, wanted]));
    let username = "";
    if (auth) {
      const [, userLength = 0] = await read(2);
      username = (await read(userLength)).toString();
      const [passwordLength = 0] = await read(1);
      const password = (await read(passwordLength)).toString();
      const ok = username === auth.username && password === auth.password;
      client.write(Buffer.from([1, ok ? 0 : 1]));
      if (!ok) {
        state.refused++;
        client.end();
        return;
      }
    }
    const [, command = 0, , addressType = 0] = await read(4);
    let host: string;
    let type: SocksConnect["addressType"];
    if (addressType === 1) {
      host = [...(await read(4))].join(".");
      type = "ipv4";
    } else if (addressType === 3) {
      const [length = 0] = await read(1);
      host = (await read(length)).toString();
      type = "domain";
    } else {
      const bytes = await read(16);
      host = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2).toString(16)).join(":");
      type = "ipv6";
    }
    const port = (await read(2)).readUInt16BE(0);
    if (command !== 1) {
      client.end(Buffer.from([5, 7, 0, 1, 0, 0, 0, 0, 0, 0]));
      return;
    }
    state.connects.push({ addressType: type, host, port, username });
    const upstream = connect({ host, port }, () => {
      client.write(Buffer.from([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
      const rest = read.rest();
      if (rest.length > 0) upstream.write(rest);
      client.pipe(upstream).pipe(client);
    });
    track(upstream);
    upstream.once("error", () => client.end(Buffer.from([5, 5, 0, 1, 0, 0, 0, 0, 0, 0])));
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url(scheme) {
      const credentials = auth
        ? `${encodeURIComponent(auth.username)}:${encodeURIComponent(auth.password)}@`
        : "";
      return `${scheme}://${credentials}127.0.0.1:${port}`;
    },
    connects: state.connects,
    get refused() {
      return state.refused;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Reads exact byte counts from a socket during the handshake, before it is piped. */
function reader(socket: Socket) {
  let buffered = Buffer.alloc(0);
  let waiting: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | null = null;
  const settle = () => {
    if (waiting === null || buffered.length < waiting.n) return;
    const { n, resolve } = waiting;
    waiting = null;
    const out = buffered.subarray(0, n);
    buffered = buffered.subarray(n);
    resolve(out);
  };
  const onData = (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    settle();
  };
  socket.on("data", onData);
  socket.once("close", () => waiting?.reject(new Error("closed during the handshake")));
  const read = (n: number) =>
    new Promise<Buffer>((resolve, reject) => {
      waiting = { n, resolve, reject };
      settle();
    });
  /** Stops reading; returns what arrived beyond the handshake. */
  read.rest = () => {
    socket.off("data", onData);
    socket.pause();
    return buffered;
  };
  return read;
}
