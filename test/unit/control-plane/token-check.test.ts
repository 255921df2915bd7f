import { describe, expect, it } from "vitest";
import { createTokenCheck } from "../../../src/control-plane/transport/auth.js";
import { ErrorCode } from "../../../src/shared/errors.js";

describe("the control plane's token check during a rotation", () => {
  const check = createTokenCheck({
    admin: "admin-new",
    dataPlane: "dp-new",
    adminPrevious: "admin-old",
    dataPlanePrevious: "dp-old",
  });

  it("accepts the current and the previous token of each audience", () => {
    for (const token of ["admin-new", "admin-old"]) expect(check("admin", `Bearer ${token}`)).toBeNull();
    for (const token of ["dp-new", "dp-old"]) expect(check("data-plane", `Bearer ${token}`)).toBeNull();
  });

  it("refuses the other audience's tokens (old or new) and unknown ones", () => {
    expect(check("data-plane", "Bearer admin-old")).toBe(ErrorCode.PERMISSION_DENIED);
    expect(check("admin", "Bearer dp-old")).toBe(ErrorCode.PERMISSION_DENIED);
    expect(check("admin", "Bearer admin-older")).toBe(ErrorCode.UNAUTHENTICATED);
    expect(check("admin", undefined)).toBe(ErrorCode.UNAUTHENTICATED);
  });

  it("accepts no previous token when none is set (an empty one never matches)", () => {
    const plain = createTokenCheck({ admin: "a", dataPlane: "d" });
    expect(check("admin", "Bearer ")).toBe(ErrorCode.UNAUTHENTICATED);
    expect(plain("admin", "Bearer a")).toBeNull();
    expect(plain("data-plane", "Bearer ")).toBe(ErrorCode.UNAUTHENTICATED);
  });
});
