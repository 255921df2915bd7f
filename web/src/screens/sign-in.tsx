import { type FormEvent, type ReactNode, useState } from "react";
import { type Admin, tokenStore } from "../api.js";
import { ErrorLine, Field } from "../components/ui.js";

/** Asks for the admin token and keeps it for this tab once the control plane accepts it. */
export function SignIn(props: { admin: Admin; onSignedIn: () => void; themeToggle: ReactNode }) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const token = String(new FormData(event.currentTarget).get("token") ?? "").trim();
    if (token === "") {
      setError(new Error("the admin token is required"));
      return;
    }
    setBusy(true);
    tokenStore.set(token);
    try {
      await props.admin.getOverview({});
      props.onSignedIn();
    } catch (err) {
      tokenStore.clear();
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="sign-in">
      <form className="card" onSubmit={submit}>
        <h1>Switchyard admin</h1>
        <p className="muted">
          Sign in with the admin token (<code>SWITCHYARD_ADMIN_TOKEN</code>; <code>npm start</code> prints it
          and keeps it in the data directory's <code>secrets.json</code>). It stays in this tab only.
        </p>
        {/* For password managers: the token is the password of the "admin" user. */}
        <input type="text" name="username" autoComplete="username" value="admin" readOnly hidden />
        <Field label="Admin token">
          {/* biome-ignore lint/a11y/noAutofocus: the only control of the page */}
          <input name="token" type="password" autoComplete="current-password" autoFocus required />
        </Field>
        <ErrorLine error={error} />
        <div className="row">
          <button type="submit" className="primary" disabled={busy}>
            Sign in
          </button>
          {props.themeToggle}
        </div>
      </form>
    </main>
  );
}
