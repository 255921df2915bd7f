import type { Admin } from "../api.js";
import { useCreate } from "../components/form.js";
import { dateTime, usd } from "../components/format.js";
import { useLoad } from "../components/hooks.js";
import { ConfirmButton, Empty, ErrorLine, Field, Section, SubmitRow } from "../components/ui.js";
/** Model prices per 1M tokens: set, list, delete. */
export function Prices({ admin }: { admin: Admin }) {
  const list = useLoad(() => admin.listModelPrices({ pageSize: 500 }), "prices");
  const { submit, onSubmit } = useCreate(
    (v) =>
      admin.setModelPrice({
        price: {
          model: v.model ?? "",
          inputUsdPerMtok: v.input ?? "",
          cachedInputUsdPerMtok: v.cached ?? "",
          outputUsdPerMtok: v.output ?? "",
        },
      }),
    list.reload,
  );
  return (
    <>
      <Section title="Set a model price">
        <form className="form-grid" onSubmit={onSubmit}>
          <Field label="Model" error={submit.errorOf("price.model", "model")}>
            <input name="model" required />
          </Field>
          <Field label="Input, USD per 1M tokens" error={submit.errorOf("price.input_usd_per_mtok")}>
            <input name="input" inputMode="decimal" required />
          </Field>
          <Field label="Cached input, USD per 1M" error={submit.errorOf("price.cached_input_usd_per_mtok")}>
            <input name="cached" inputMode="decimal" required />
          </Field>
          <Field label="Output, USD per 1M" error={submit.errorOf("price.output_usd_per_mtok")}>
            <input name="output" inputMode="decimal" required />
          </Field>
          <SubmitRow label="Save price" form={submit} />
        </form>
      </Section>
      <Section title="Model prices">
        <ErrorLine error={list.error} />
        {list.data && list.data.prices.length === 0 ? (
          <Empty>No price set: requests cost 0 until their model has a price. Set one above.</Empty>
        ) : (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>Model</th>
                  <th>Input / 1M</th>
                  <th>Cached / 1M</th>
                  <th>Output / 1M</th>
                  <th>Changed</th>
                  <th>Actions</th>
                </tr>
              </thead>
              <tbody>
                {list.data?.prices.map((p) => (
                  <tr key={p.model}>
                    <td>{p.model}</td>
                    <td>{usd(p.inputUsdPerMtok)}</td>
                    <td>{usd(p.cachedInputUsdPerMtok)}</td>
                    <td>{usd(p.outputUsdPerMtok)}</td>
                    <td>{dateTime(p.updateTime)}</td>
                    <td className="actions">
                      <ConfirmButton
                        label="Delete"
                        title={`Delete the price of ${p.model}?`}
                        message="Its requests then cost 0 (and raise the unpriced-usage metric)."
                        onConfirm={async () => {
                          await admin.deleteModelPrice({ model: p.model });
                          list.reload();
                        }}
                      />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
    </>
  );
}
