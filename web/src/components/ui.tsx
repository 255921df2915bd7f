import { type ReactNode, useId, useRef, useState } from "react";
import { describeError } from "../api.js";

/** A failed call, worded as the CLI words it. */
export function ErrorLine({ error }: { error: unknown }) {
  if (error === null || error === undefined) return null;
  return (
    <p className="error" role="alert">
      {describeError(error)}
    </p>
  );
}

/** A form's submit button (disabled while its call runs) and the server's error, below the fields. */
export function SubmitRow({ label, form }: { label: string; form: { busy: boolean; error: unknown } }) {
  return (
    <>
      <div className="row wide">
        <button type="submit" className="primary" disabled={form.busy}>
          {label}
        </button>
      </div>
      <div className="wide">
        <ErrorLine error={form.error} />
      </div>
    </>
  );
}

/** What an empty list means and what to do next. */
export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

/** A titled block of a screen. */
export function Section({
  title,
  actions,
  children,
}: {
  title: string;
  actions?: ReactNode;
  children: ReactNode;
}) {
  return (
    <section className="card">
      <header className="card-head">
        <h2>{title}</h2>
        {actions ? <div className="actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}

/** A labelled form control; `error` is the server's message when it names this field. */
export function Field({
  label,
  error,
  children,
}: {
  label: string;
  error?: string | null;
  children: ReactNode;
}) {
  return (
    // biome-ignore lint/a11y/noLabelWithoutControl: the control is `children`, inside the label
    <label className={error ? "field invalid" : "field"}>
      <span>{label}</span>
      {children}
      {error ? <small className="field-error">{error}</small> : null}
    </label>
  );
}

/**
 * A destructive action behind a confirmation: the button opens a modal dialog (focus inside, Escape cancels) that
 * says what will happen; the action runs only on "confirm", and its error is shown in the dialog.
 */
export function ConfirmButton(props: {
  label: string;
  title: string;
  message: ReactNode;
  confirmLabel?: string;
  onConfirm: () => Promise<unknown>;
  danger?: boolean;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const titleId = useId();
  const confirm = async () => {
    setBusy(true);
    try {
      await props.onConfirm();
      dialog.current?.close();
      setError(null);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button
        type="button"
        className={props.danger === false ? "small" : "small danger"}
        onClick={() => {
          setError(null);
          dialog.current?.showModal();
        }}
      >
        {props.label}
      </button>
      <dialog ref={dialog} aria-labelledby={titleId}>
        <h3 id={titleId}>{props.title}</h3>
        <div>{props.message}</div>
        <ErrorLine error={error} />
        <div className="dialog-actions">
          <button type="button" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button type="button" className="danger" disabled={busy} onClick={confirm}>
            {props.confirmLabel ?? props.label}
          </button>
        </div>
      </dialog>
    </>
  );
}

/** A status word with its colour. */
export function Badge({ tone, children }: { tone: "ok" | "warn" | "bad" | "muted"; children: ReactNode }) {
  return <span className={`badge ${tone}`}>{children}</span>;
}

/** A list's paging: previous / next through page tokens. */
export function Pager(props: { page: number; hasNext: boolean; onPrev: () => void; onNext: () => void }) {
  return (
    <nav className="pager" aria-label="pages">
      <button type="button" className="small" disabled={props.page === 0} onClick={props.onPrev}>
        ← Previous
      </button>
      <span>page {props.page + 1}</span>
      <button type="button" className="small" disabled={!props.hasNext} onClick={props.onNext}>
        Next →
      </button>
    </nav>
  );
}
