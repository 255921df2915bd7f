import { useState } from "react";
import type { Admin } from "../api.js";
import { Groups } from "./catalog-groups.js";
import { Prices } from "./catalog-prices.js";
import { Rules } from "./catalog-rules.js";
import { Subscriptions } from "./catalog-subscriptions.js";

type Tab = "groups" | "prices" | "rules" | "subscriptions";
const TABS: { id: Tab; label: string }[] = [
  { id: "groups", label: "Groups" },
  { id: "prices", label: "Prices" },
  { id: "rules", label: "Passthrough rules" },
  { id: "subscriptions", label: "Subscriptions" },
];

/** Groups, model prices, error-passthrough rules and subscriptions. */
export function CatalogScreen({ admin }: { admin: Admin }) {
  const [tab, setTab] = useState<Tab>("groups");
  return (
    <>
      <div className="tabs" role="tablist">
        {TABS.map((t) => (
          <button
            key={t.id}
            type="button"
            role="tab"
            aria-selected={tab === t.id}
            onClick={() => setTab(t.id)}
          >
            {t.label}
          </button>
        ))}
      </div>
      {tab === "groups" ? <Groups admin={admin} /> : null}
      {tab === "prices" ? <Prices admin={admin} /> : null}
      {tab === "rules" ? <Rules admin={admin} /> : null}
      {tab === "subscriptions" ? <Subscriptions admin={admin} /> : null}
    </>
  );
}
