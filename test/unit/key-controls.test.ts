import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { type KeyControls, NO_KEY_CONTROLS } from "../../src/control-plane/domain/admission/directory.js";
import {
  assertClientAllowed,
  assertSpendRoom,
} from "../../src/control-plane/domain/admission/key-controls.js";
import { clientAddress } from "../../src/data-plane/pipeline/client-address.js";
import { ErrorCode, SwitchyardError } from "../../src/shared/errors.js";
import { ipRangeProblem, ipRanges } from "../../src/shared/ip-ranges.js";

const NOW = Date.parse("2026-03-02T10:00:00Z");

function refusal(run: () => void): { code: ErrorCode; retryAfterMs: number; message: string } | null {
  try {
    run();
    return null;
  } catch (err) {
    if (!(err instanceof SwitchyardError)) throw err;
    return { code: err.code, retryAfterMs: err.retryAfterMs, message: err.message };
  }
}

describe("IP ranges", () => {
  it("match single addresses and CIDRs of both families, IPv4-mapped IPv6 as IPv4", () => {
    const ranges = ipRanges(["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]);
    expect(ranges.has("10.200.3.4")).toBe(true);
    expect(ranges.has("::ffff:10.1.1.1")).toBe(true);
    expect(ranges.has("192.0.2.7")).toBe(true);
    expect(ranges.has("192.0.2.8")).toBe(false);
    expect(ranges.has("2001:db8:1::5")).toBe(true);
    expect(ranges.has("2001:db9::1")).toBe(false);
    expect(ranges.has("unknown")).toBe(false);
  });

  it.each([
    ["10.0.0.0/33", "prefix length outside 0–32"],
    ["2001:db8::/129", "prefix length outside 0–128"],
    ["example.com", "not an IP address or CIDR range"],
    ["10.0.0.0/8/8", "not an IP address or CIDR range"],
    ["10.0.0.0/x", "prefix length"],
  ])("refuse %s", (entry, problem) => {
    expect(ipRangeProblem(entry)).toContain(problem);
    expect(() => ipRanges([entry])).toThrow(RangeError);
  });
});

describe("the client's address", () => {
  const request = (peer: string, forwarded?: string) =>
    ({
      socket: { remoteAddress: peer },
      headers: forwarded === undefined ? {} : { "x-forwarded-for": forwarded },
    }) as unknown as IncomingMessage;
  const behindProxy = { trustedProxies: ipRanges(["10.0.0.0/8"]), header: "x-forwarded-for" };

  it("is the socket's peer when no proxy is trusted, whatever the client claims", () => {
    expect(
      clientAddress(request("::ffff:198.51.100.1", "203.0.113.9"), {
        trustedProxies: null,
        header: "x-forwarded-for",
      }),
    ).toBe("198.51.100.1");
  });

  it("is the nearest untrusted hop of the forwarded chain when the peer is a trusted proxy", () => {
    expect(clientAddress(request("10.0.0.5", "203.0.113.9, 10.1.1.1"), behindProxy)).toBe("203.0.113.9");
    // A client prepending a forged hop does not move its own (rightmost untrusted) address.
    expect(clientAddress(request("10.0.0.5", "192.0.2.1, 198.51.100.4, 10.1.1.1"), behindProxy)).toBe(
      "198.51.100.4",
    );
  });

  it("is the peer when an untrusted peer sends the header, or a trusted one sends none", () => {
    expect(clientAddress(request("198.51.100.1", "203.0.113.9"), behindProxy)).toBe("198.51.100.1");
    expect(clientAddress(request("10.0.0.5"), behindProxy)).toBe("10.0.0.5");
  });
});

describe("key controls at admission", () => {
  const lists = (ipAllow: string[], ipDeny: string[]): KeyControls => ({
    ...NO_KEY_CONTROLS,
    ipAllow,
    ipDeny,
  });

  it("refuse a denied address before looking at the allow list, and an address outside the allow list", () => {
    const controls = lists(["10.0.0.0/8"], ["10.9.9.9"]);
    expect(refusal(() => assertClientAllowed(controls, "10.9.9.9"))?.code).toBe(ErrorCode.IP_NOT_ALLOWED);
    expect(refusal(() => assertClientAllowed(controls, "192.0.2.1"))?.code).toBe(ErrorCode.IP_NOT_ALLOWED);
    expect(refusal(() => assertClientAllowed(controls, "10.1.2.3"))).toBeNull();
    expect(refusal(() => assertClientAllowed(NO_KEY_CONTROLS, "unknown"))).toBeNull();
    expect(refusal(() => assertClientAllowed(lists(["10.0.0.0/8"], []), "unknown"))?.code).toBe(
      ErrorCode.IP_NOT_ALLOWED,
    );
  });

  it("refuse a key at its spend limit, naming the window, until its oldest spend leaves it", () => {
    const controls: KeyControls = {
      ...NO_KEY_CONTROLS,
      spendWindows: [
        { name: "5h", lengthMs: 5 * 3_600_000, limitUsd: 10n, spentUsd: 9n, oldestAt: NOW - 3_600_000 },
        { name: "1d", lengthMs: 86_400_000, limitUsd: 20n, spentUsd: 20n, oldestAt: NOW - 3_600_000 },
      ],
    };
    const refused = refusal(() => assertSpendRoom(controls, NOW));
    expect(refused).toEqual({
      code: ErrorCode.KEY_SPEND_LIMIT_EXCEEDED,
      retryAfterMs: 23 * 3_600_000,
      message: "API key spend limit for the last 1d reached, please retry later",
    });
    const under = { ...controls, spendWindows: controls.spendWindows.slice(0, 1) };
    expect(refusal(() => assertSpendRoom(under, NOW))).toBeNull();
  });
});
