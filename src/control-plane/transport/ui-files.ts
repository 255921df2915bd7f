import { readFile, stat } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import { extname, join, resolve, sep } from "node:path";

/** The path prefix the admin web UI is served under. */
export const UI_PREFIX = "/ui/";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".woff2": "font/woff2",
};

/**
 * Same-origin only, no inline scripts: the UI holds the admin token, so nothing else may run in its page or frame
 * it. Inline styles are allowed (the components set widths and colours per value).
 */
const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

/** The part of node:http's and node:http2's responses the file server uses. */
interface FileResponse {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body: string | Uint8Array): unknown;
  end(): unknown;
}

/**
 * Serves the built admin web UI (static files) from `dir` under `/ui/`: files by path, and `index.html` for any
 * other path under the prefix (the app routes in the browser). Paths that leave `dir` are refused. Returns false
 * when the request is not the UI's, so the caller answers it.
 */
export function createUiFiles(dir: string | null) {
  const root = dir === null ? null : resolve(dir);
  return (req: IncomingMessage | Http2ServerRequest, res: FileResponse, path: string): boolean => {
    if (path === "/ui") {
      res.statusCode = 308;
      res.setHeader("location", UI_PREFIX);
      res.end();
      return true;
    }
    if (!path.startsWith(UI_PREFIX)) return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      answerText(res, 405, "method not allowed\n");
      return true;
    }
    if (root === null) {
      answerText(res, 404, "the admin web UI is not served here\n");
      return true;
    }
    void serveFile(root, decodePath(path.slice(UI_PREFIX.length)), req.method === "HEAD", res);
    return true;
  };
}

async function serveFile(root: string, relative: string | null, head: boolean, res: FileResponse) {
  const requested = relative === null ? null : resolve(root, relative);
  const inside = requested !== null && (requested === root || requested.startsWith(root + sep));
  const candidate = inside && requested !== root && (await isFile(requested)) ? requested : null;
  const file = candidate ?? join(root, "index.html");
  if (!(await isFile(file))) {
    answerText(res, 404, "the admin web UI is not built: run `npm run build`\n");
    return;
  }
  // The built files are small (a few hundred KB in all): read whole, no stream to clean up after a client leaves.
  const body = await readFile(file).catch(() => null);
  if (body === null) {
    answerText(res, 404, "not found\n");
    return;
  }
  res.statusCode = 200;
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
  res.setHeader("content-type", CONTENT_TYPES[extname(file)] ?? "application/octet-stream");
  // Built assets carry a content hash in their names; index.html must be fetched again to find new ones.
  const hashed = candidate?.includes(`${sep}assets${sep}`) === true;
  res.setHeader("cache-control", hashed ? "public, max-age=31536000, immutable" : "no-cache");
  if (head) res.end();
  else res.end(body);
}

function decodePath(path: string): string | null {
  try {
    const decoded = decodeURIComponent(path);
    return decoded.includes("\0") ? null : decoded;
  } catch {
    return null;
  }
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

function answerText(res: FileResponse, status: number, text: string): void {
  res.statusCode = status;
  res.setHeader("content-type", "text/plain; charset=utf-8");
  res.end(text);
}
