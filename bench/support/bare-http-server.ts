import { createServer } from "node:http";

/**
 * The baseline upstream: node:http answering a fixed small JSON body, the fastest an HTTP server on this machine
 * can be. Prints {"url": …} when listening.
 */
const body = JSON.stringify({ id: "resp_bench", object: "response", status: "completed", output: [] });
const server = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
