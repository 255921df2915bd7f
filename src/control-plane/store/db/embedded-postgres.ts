import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

/** A PostgreSQL running in this process (PGlite, WebAssembly) behind a wire-protocol socket on 127.0.0.1. */
export interface EmbeddedPostgres {
  /** A postgres:// URL the ordinary driver (and so MikroORM and the migrations) connects to. */
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the embedded PostgreSQL used by `switchyard serve all` when no SWITCHYARD_DATABASE_URL is set: real
 * PostgreSQL semantics, data kept in `dataDir`, nothing to install. One backend serves every connection in turn, so
 * the pool is kept to one connection and transactions stay short; for anything beyond one node, use a real server.
 */
export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  const db = await PGlite.create({ dataDir });
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0 });
  await server.start();
  const address = server.getServerConn();
  return {
    url: `postgres://postgres@${address}/postgres?sslmode=disable`,
    async close() {
      await server.stop();
      await db.close();
    },
  };
}
