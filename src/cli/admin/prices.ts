import { create } from "@bufbuild/protobuf";
import {
  ListModelPricesResponseSchema,
  type ModelPrice,
  SetModelPriceResponseSchema,
} from "../../gen/switchyard/v1/admin_pb.js";
import { type AdminCommand, present, VALUE } from "./command.js";
import { listCommand } from "./list-command.js";
import { type Column, details, emit, usd, when } from "./output.js";

const COLUMNS: readonly Column<ModelPrice>[] = [
  ["MODEL", (p) => p.model],
  ["INPUT/1M", (p) => usd(p.inputUsdPerMtok)],
  ["CACHED INPUT/1M", (p) => usd(p.cachedInputUsdPerMtok)],
  ["OUTPUT/1M", (p) => usd(p.outputUsdPerMtok)],
  ["UPDATED", (p) => when(p.updateTime)],
];

function priceDetails(price: ModelPrice | undefined): string {
  const p = present(price, "the price");
  return details([
    ["model", p.model],
    ["input per 1M tokens", usd(p.inputUsdPerMtok)],
    ["cached input per 1M tokens", usd(p.cachedInputUsdPerMtok)],
    ["output per 1M tokens", usd(p.outputUsdPerMtok)],
    ["updated", when(p.updateTime)],
  ]);
}

/** `admin prices …`: what models cost, in USD per 1M tokens. */
export const priceCommands: readonly AdminCommand[] = [
  {
    name: "prices set",
    synopsis: "--model M --input USD --cached-input USD --output USD",
    summary: "set (create or replace) a model's price, in USD per 1M tokens",
    notes: ["--model is the upstream (billing) model name; output includes reasoning tokens"],
    flags: { model: VALUE, input: VALUE, "cached-input": VALUE, output: VALUE },
    prepare(input) {
      const price = {
        model: input.required("model"),
        inputUsdPerMtok: input.requiredUsd("input"),
        cachedInputUsdPerMtok: input.requiredUsd("cached-input"),
        outputUsdPerMtok: input.requiredUsd("output"),
      };
      return async ({ client, out }) => {
        const res = await client.setModelPrice({ price });
        emit(out, SetModelPriceResponseSchema, res, () => priceDetails(res.price));
      };
    },
  },
  listCommand({
    name: "prices list",
    summary: "list model prices by model name",
    schema: ListModelPricesResponseSchema,
    fetchPage: async (client, pageSize, pageToken) => {
      const res = await client.listModelPrices({ pageSize, pageToken });
      return { items: res.prices, nextPageToken: res.nextPageToken };
    },
    response: (page) =>
      create(ListModelPricesResponseSchema, { prices: page.items, nextPageToken: page.nextPageToken }),
    columns: COLUMNS,
    none: "no prices",
  }),
];
