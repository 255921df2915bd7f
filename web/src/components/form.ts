import { type FormEvent, useState } from "react";
import { fieldOf } from "../api.js";

/**
 * A form's submit state: runs the call, keeps the server's error, and tells which field its message names so the
 * form can mark it (validation is the server's: the UI shows its words).
 */
export function useSubmit() {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const run = async (call: () => Promise<unknown>): Promise<boolean> => {
    setBusy(true);
    try {
      await call();
      setError(null);
      return true;
    } catch (err) {
      setError(err);
      return false;
    } finally {
      setBusy(false);
    }
  };
  const field = fieldOf(error);
  /** The message for `name` when the server's error names it. */
  const errorOf = (...names: string[]): string | null =>
    field !== null && names.includes(field) && error instanceof Error
      ? ((error as { rawMessage?: string }).rawMessage ?? null)
      : null;
  return { error, busy, run, errorOf };
}

/** The values of a form's named controls. */
export function formValues(form: HTMLFormElement): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [name, value] of new FormData(form)) if (typeof value === "string") values[name] = value.trim();
  return values;
}

/** Every value of a multi-valued control (checkboxes sharing a name). */
export function formList(form: HTMLFormElement, name: string): string[] {
  return new FormData(form).getAll(name).filter((v): v is string => typeof v === "string");
}

/** Runs a create form: the call with the form's values; on success the form is cleared and the list reloaded. */
export function useCreate(call: (v: Record<string, string>) => Promise<unknown>, reload: () => void) {
  const submit = useSubmit();
  const onSubmit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = event.currentTarget;
    if (await submit.run(() => call(formValues(form)))) {
      form.reset();
      reload();
    }
  };
  return { submit, onSubmit };
}
