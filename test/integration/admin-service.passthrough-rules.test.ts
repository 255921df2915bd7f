import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listEnabledPassthroughRules } from "../../src/control-plane/domain/catalog/index.js";
import { MatchMode } from "../../src/gen/switchyard/v1/admin_pb.js";
import {
  type AdminHarness,
  auditLines,
  expectRpcError,
  startAdminHarness,
} from "../support/admin-fixtures.js";

describe("AdminService error-passthrough rules", () => {
  let h: AdminHarness;
  beforeAll(async () => {
    h = await startAdminHarness("admin_rules");
  });
  afterAll(async () => {
    await h?.close();
  });

  it("creates a rule with the documented defaults", async () => {
    const { rule } = await h.client.createPassthroughRule({
      name: "quota",
      errorCodes: [429],
      keywords: [" quota "],
    });
    expect(rule).toMatchObject({
      name: "quota",
      enabled: true,
      priority: 0,
      errorCodes: [429],
      keywords: ["quota"],
      matchMode: MatchMode.ANY,
      platforms: [],
      passthroughCode: true,
      responseCode: 0,
      passthroughBody: true,
      customMessage: "",
      skipMonitoring: false,
    });
    expect((await h.client.getPassthroughRule({ id: rule?.id ?? "" })).rule).toEqual(rule);
    expect(h.changes).toContainEqual({ kind: "passthrough_rule", id: rule?.id });
    expect(auditLines(h, "passthrough_rule.create")).toContainEqual(
      expect.objectContaining({ id: rule?.id }),
    );
  });

  it("refuses invalid rules with INVALID_ARGUMENT naming the field", async () => {
    const c = h.client;
    await expectRpcError(
      c.createPassthroughRule({ name: "", errorCodes: [500] }),
      Code.InvalidArgument,
      "name",
    );
    await expectRpcError(c.createPassthroughRule({ name: "nothing" }), Code.InvalidArgument, "error_codes");
    await expectRpcError(
      c.createPassthroughRule({ name: "r1", errorCodes: [99] }),
      Code.InvalidArgument,
      "error_codes",
    );
    await expectRpcError(
      c.createPassthroughRule({ name: "r2", errorCodes: [600] }),
      Code.InvalidArgument,
      "error_codes",
    );
    await expectRpcError(
      c.createPassthroughRule({ name: "r3", keywords: ["  "] }),
      Code.InvalidArgument,
      "keywords",
    );
    await expectRpcError(
      c.createPassthroughRule({ name: "r4", errorCodes: [500], matchMode: MatchMode.ALL }),
      Code.InvalidArgument,
      "match_mode",
    );
    await expectRpcError(
      c.createPassthroughRule({ name: "r5", errorCodes: [500], passthroughCode: false }),
      Code.InvalidArgument,
      "response_code",
    );
    await expectRpcError(
      c.createPassthroughRule({ name: "r6", errorCodes: [500], passthroughCode: false, responseCode: 700 }),
      Code.InvalidArgument,
      "response_code",
    );
    await expectRpcError(
      c.createPassthroughRule({ name: "r7", errorCodes: [500], passthroughBody: false }),
      Code.InvalidArgument,
      "custom_message",
    );
    await expectRpcError(
      c.createPassthroughRule({ name: "r8", errorCodes: [500], platforms: ["gemini"] }),
      Code.InvalidArgument,
      "platforms",
    );
  });

  it("accepts a rule that rewrites both status and message", async () => {
    const { rule } = await h.client.createPassthroughRule({
      name: "rewrite",
      priority: -1,
      errorCodes: [500, 502, 500],
      keywords: ["overloaded"],
      matchMode: MatchMode.ALL,
      platforms: ["openai"],
      passthroughCode: false,
      responseCode: 503,
      passthroughBody: false,
      customMessage: "Try again shortly",
      skipMonitoring: true,
      description: "upstream overload",
    });
    expect(rule).toMatchObject({
      errorCodes: [500, 502],
      matchMode: MatchMode.ALL,
      responseCode: 503,
      customMessage: "Try again shortly",
      skipMonitoring: true,
    });
  });

  it("answers ALREADY_EXISTS for a duplicate name and NOT_FOUND for an unknown id", async () => {
    await h.client.createPassthroughRule({ name: "same", errorCodes: [401] });
    await expectRpcError(
      h.client.createPassthroughRule({ name: "same", errorCodes: [401] }),
      Code.AlreadyExists,
    );
    await expectRpcError(
      h.client.getPassthroughRule({ id: "7c4d0c9e-0000-4000-8000-000000000000" }),
      Code.NotFound,
    );
  });

  it("validates an update as a whole and replaces lists only when asked", async () => {
    const { rule } = await h.client.createPassthroughRule({
      name: "upd",
      errorCodes: [403],
      keywords: ["banned"],
    });
    const id = rule?.id ?? "";
    const { rule: same } = await h.client.updatePassthroughRule({ id, errorCodes: [], description: "d" });
    expect(same).toMatchObject({ errorCodes: [403], keywords: ["banned"], description: "d" });
    const { rule: replaced } = await h.client.updatePassthroughRule({
      id,
      replaceErrorCodes: true,
      errorCodes: [],
    });
    expect(replaced?.errorCodes).toEqual([]);
    await expectRpcError(
      h.client.updatePassthroughRule({ id, replaceKeywords: true, keywords: [] }),
      Code.InvalidArgument,
      "error_codes",
    );
    await expectRpcError(
      h.client.updatePassthroughRule({ id, passthroughBody: false }),
      Code.InvalidArgument,
      "custom_message",
    );
    const { rule: custom } = await h.client.updatePassthroughRule({
      id,
      passthroughBody: false,
      customMessage: "no",
    });
    expect(custom).toMatchObject({ passthroughBody: false, customMessage: "no" });
    await expectRpcError(
      h.client.updatePassthroughRule({ id, matchMode: MatchMode.UNSPECIFIED }),
      Code.InvalidArgument,
      "match_mode",
    );
    expect(auditLines(h, "passthrough_rule.update").length).toBeGreaterThanOrEqual(3);
  });

  it("lists rules by priority then creation across pages, and the snapshot gets only enabled ones", async () => {
    for (const [name, priority] of [
      ["o-3", 30],
      ["o-1", 10],
      ["o-2", 20],
      ["o-2b", 20],
    ] as const) {
      h.clock.advance(1);
      await h.client.createPassthroughRule({ name, priority, errorCodes: [500] });
    }
    const { rule: off } = await h.client.createPassthroughRule({
      name: "off",
      enabled: false,
      errorCodes: [500],
    });
    const seen: string[] = [];
    let token = "";
    do {
      const page = await h.client.listPassthroughRules({ pageSize: 2, pageToken: token });
      seen.push(...page.rules.map((r) => r.name));
      token = page.nextPageToken;
    } while (token !== "");
    expect(seen.filter((n) => n.startsWith("o-"))).toEqual(["o-1", "o-2", "o-2b", "o-3"]);
    const all = await h.catalog.passthroughRules.list({ pageSize: 500 });
    expect(seen).toEqual(all.items.map((r) => r.name));
    const enabled = await listEnabledPassthroughRules(h.orm.em);
    expect(enabled.map((r) => r.name)).not.toContain("off");
    expect(enabled.map((r) => r.name)).toEqual(all.items.filter((r) => r.enabled).map((r) => r.name));
    await h.client.deletePassthroughRule({ id: off?.id ?? "" });
    await expectRpcError(h.client.getPassthroughRule({ id: off?.id ?? "" }), Code.NotFound);
    expect(h.changes).toContainEqual({ kind: "passthrough_rule", id: off?.id });
    expect(auditLines(h, "passthrough_rule.delete")).toHaveLength(1);
  });
});
