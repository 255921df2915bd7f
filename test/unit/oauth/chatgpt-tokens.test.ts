import { describe, expect, it } from "vitest";
import {
  type ChatGptCredential,
  chatgptCredentialFrom,
  jwtExpiry,
  parseChatGptCredential,
  serializeChatGptCredential,
} from "../../../src/control-plane/domain/oauth/chatgpt-credential.js";
import {
  ChatGptTokens,
  RefreshRefusedError,
  type TokenEndpoint,
} from "../../../src/control-plane/domain/oauth/chatgpt-tokens.js";
import { MemoryExpiringMap } from "../../../src/control-plane/store/kv/memory-expiring-map.js";
import { systemClock } from "../../../src/shared/clock.js";
import { createLogger } from "../../../src/shared/logger.js";
import { accessTokenFor, idTokenFor } from "../../support/fake-chatgpt/tokens.js";

const log = createLogger({ level: "silent" });
const MIN = 60_000;

/** One stored account, a token endpoint that refuses reused refresh tokens, and N replicas sharing one lock map. */
function world(options: { expiresInMs: number; endpoint?: (refreshToken: string) => Promise<void> }) {
  let stored: ChatGptCredential = {
    accessToken: accessTokenFor("acct", Date.now() + options.expiresInMs),
    refreshToken: "rt-0",
    idToken: "",
    chatgptAccountId: "acct",
    expiresAt: Date.now() + options.expiresInMs,
  };
  const used = new Set<string>();
  const calls: string[] = [];
  const errors: string[] = [];
  const endpoint: TokenEndpoint = {
    async refresh(refreshToken) {
      calls.push(refreshToken);
      await options.endpoint?.(refreshToken);
      if (used.has(refreshToken))
        throw new RefreshRefusedError("401 invalid_grant refresh token already used");
      used.add(refreshToken);
      await new Promise((r) => setTimeout(r, 20));
      return {
        accessToken: accessTokenFor("acct", Date.now() + 10 * 24 * 60 * MIN),
        refreshToken: `rt-${calls.length}`,
        idToken: "",
        expiresIn: null,
      };
    },
  };
  const vault = {
    readChatGptCredential: async () => serializeChatGptCredential(stored),
    storeChatGptCredential: async (_id: string, tokens: ChatGptCredential) => {
      stored = tokens;
    },
  };
  const locks = new MemoryExpiringMap(systemClock);
  const replica = () =>
    new ChatGptTokens({
      vault,
      endpoint,
      locks,
      clock: systemClock,
      log,
      markError: async (_id, reason) => {
        errors.push(reason);
      },
      pollMs: 5,
    });
  const known = () => ({
    accessToken: stored.accessToken,
    chatgptAccountId: "acct",
    expiresAt: stored.expiresAt,
  });
  return { replica, known, calls, errors, stored: () => stored };
}

describe("ChatGPT token refresh", () => {
  it("uses a token with more than 3 minutes left as it is", async () => {
    const w = world({ expiresInMs: 10 * MIN });
    const known = w.known();
    expect(await w.replica().usable("id", known)).toBe(known);
    expect(w.calls).toEqual([]);
  });

  it("refreshes once for many callers on two replicas, storing the rotated refresh token before handing it out", async () => {
    const w = world({ expiresInMs: 2 * MIN });
    const [a, b] = [w.replica(), w.replica()];
    const known = w.known();
    const tokens = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).usable("id", known)),
    );
    expect(w.calls).toEqual(["rt-0"]);
    expect(new Set(tokens.map((t) => t?.accessToken))).toEqual(new Set([w.stored().accessToken]));
    expect(w.stored().refreshToken).toBe("rt-1");
  });

  it("replaces a token the upstream refused even if it looks fresh", async () => {
    const w = world({ expiresInMs: 60 * MIN });
    const old = w.known();
    const token = await w.replica().usable("id", old, old.accessToken);
    expect(token?.accessToken).not.toBe(old.accessToken);
    expect(w.calls).toHaveLength(1);
  });

  it("puts the account in error once when the refresh is refused, and every waiter gets nothing", async () => {
    const w = world({
      expiresInMs: MIN,
      endpoint: async () => {
        throw new RefreshRefusedError("401 invalid_grant refresh token revoked");
      },
    });
    const [a, b] = [w.replica(), w.replica()];
    const results = await Promise.all([a.usable("id", w.known()), b.usable("id", w.known())]);
    expect(results).toEqual([null, null]);
    expect(w.calls).toHaveLength(1);
    expect(w.errors).toEqual(["token refresh refused: 401 invalid_grant refresh token revoked"]);
  });

  it("keeps using an unexpired token while the token endpoint is down", async () => {
    const w = world({
      expiresInMs: MIN,
      endpoint: async () => {
        throw new Error("ECONNREFUSED");
      },
    });
    const known = w.known();
    expect((await w.replica().usable("id", known))?.accessToken).toBe(known.accessToken);
    expect(w.errors).toEqual([]);
  });
});

describe("ChatGPT credentials as given by an admin", () => {
  it("read the account id from the id token and the expiry from the access token", () => {
    const accessToken = accessTokenFor("acct-9", Date.UTC(2030, 0, 1));
    const c = chatgptCredentialFrom({ accessToken, refreshToken: "rt", idToken: idTokenFor("acct-9") });
    expect(c).toMatchObject({ chatgptAccountId: "acct-9", expiresAt: Date.UTC(2030, 0, 1) });
    expect(parseChatGptCredential(serializeChatGptCredential(c))).toEqual(c);
    expect(jwtExpiry("opaque-token")).toBeNull();
  });

  it("are refused without a refresh token, naming the field and not the token", () => {
    expect(() => chatgptCredentialFrom({ accessToken: "secret-at", chatgptAccountId: "a" })).toThrow(
      /is required/,
    );
    try {
      chatgptCredentialFrom({ accessToken: "secret-at", chatgptAccountId: "a" });
    } catch (err) {
      expect((err as { field: string }).field).toBe("chatgpt.refresh_token");
      expect(String(err)).not.toContain("secret-at");
    }
  });
});
