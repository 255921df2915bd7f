import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readModelPrices } from "../../src/control-plane/domain/catalog/index.js";
import { parseUsd } from "../../src/shared/money.js";
import {
  type AdminHarness,
  auditLines,
  expectRpcError,
  startAdminHarness,
} from "../support/admin-fixtures.js";

const price = (model: string, input = "2.5", cached = "1.25", output = "10") => ({
  price: { model, inputUsdPerMtok: input, cachedInputUsdPerMtok: cached, outputUsdPerMtok: output },
});

describe("AdminService model prices", () => {
  let h: AdminHarness;
  beforeAll(async () => {
    h = await startAdminHarness("admin_prices");
  });
  afterAll(async () => {
    await h?.close();
  });

  it("sets, replaces and lists prices exactly", async () => {
    const { price: set } = await h.client.setModelPrice(price("gpt-4o", "2.500000", "1.25", "10"));
    expect(set).toMatchObject({ model: "gpt-4o", inputUsdPerMtok: "2.5", cachedInputUsdPerMtok: "1.25" });
    h.clock.advance(5000);
    const { price: replaced } = await h.client.setModelPrice(price("gpt-4o", "0.000001", "0", "0.15"));
    expect(replaced).toMatchObject({
      inputUsdPerMtok: "0.000001",
      cachedInputUsdPerMtok: "0",
      outputUsdPerMtok: "0.15",
    });
    const prices = await readModelPrices(h.orm.em);
    expect(prices.get("gpt-4o")?.inputUsdPerMtok).toBe(parseUsd("0.000001"));
    expect(h.changes.filter((c) => c.kind === "model_price")).toEqual([
      { kind: "model_price", id: "gpt-4o" },
      { kind: "model_price", id: "gpt-4o" },
    ]);
    expect(auditLines(h, "model_price.set")).toHaveLength(2);
  });

  it("refuses a missing model, missing, negative or over-precise amounts", async () => {
    await expectRpcError(h.client.setModelPrice({}), Code.InvalidArgument, "price.model");
    await expectRpcError(h.client.setModelPrice(price("")), Code.InvalidArgument, "price.model");
    await expectRpcError(
      h.client.setModelPrice(price("m", "")),
      Code.InvalidArgument,
      "price.input_usd_per_mtok",
    );
    await expectRpcError(
      h.client.setModelPrice(price("m", "1", "-1")),
      Code.InvalidArgument,
      "price.cached_input_usd_per_mtok",
    );
    await expectRpcError(
      h.client.setModelPrice(price("m", "1", "1", "0.0000001")),
      Code.InvalidArgument,
      "price.output_usd_per_mtok",
    );
  });

  it("lists by model across pages and deletes", async () => {
    for (const m of ["o3", "gpt-5", "gpt-4.1"]) await h.client.setModelPrice(price(m));
    const models: string[] = [];
    let token = "";
    do {
      const page = await h.client.listModelPrices({ pageSize: 2, pageToken: token });
      models.push(...page.prices.map((p) => p.model));
      token = page.nextPageToken;
    } while (token !== "");
    expect(models).toEqual(["gpt-4.1", "gpt-4o", "gpt-5", "o3"]);
    await h.client.deleteModelPrice({ model: "o3" });
    await expectRpcError(h.client.deleteModelPrice({ model: "o3" }), Code.NotFound);
    await expectRpcError(h.client.deleteModelPrice({ model: "" }), Code.InvalidArgument, "model");
    expect(h.changes).toContainEqual({ kind: "model_price", id: "o3" });
    expect(auditLines(h, "model_price.delete")).toHaveLength(1);
  });
});
