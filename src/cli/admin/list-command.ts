import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { type AdminClient, type AdminCommand, VALUE } from "./command.js";
import { type Column, emit, table } from "./output.js";
import { collectPages, LIMIT_NOTE, limitFlag, type Page } from "./pages.js";

/** What differs between the plain `<resource> list [--limit N]` commands. */
export interface ListCommandSpec<S extends DescMessage, T> {
  name: string;
  summary: string;
  /** The response message a --json listing prints (all pages merged into one). */
  schema: S;
  fetchPage: (client: AdminClient, pageSize: number, pageToken: string) => Promise<Page<T>>;
  /** Builds the merged response message from the collected items. */
  response: (page: Page<T>) => MessageShape<S>;
  columns: readonly Column<T>[];
  /** What the table says when there is nothing, e.g. "no users". */
  none: string;
}

/**
 * A `<resource> list [--limit N]` command: follows pages up to the limit, prints a table, or with --json one
 * response message holding every item collected.
 */
export function listCommand<S extends DescMessage, T>(spec: ListCommandSpec<S, T>): AdminCommand {
  return {
    name: spec.name,
    synopsis: "[--limit N]",
    summary: spec.summary,
    notes: [LIMIT_NOTE],
    flags: { limit: VALUE },
    prepare(input) {
      const limit = limitFlag(input);
      return async ({ client, out }) => {
        const page = await collectPages(limit, (pageSize, pageToken) =>
          spec.fetchPage(client, pageSize, pageToken),
        );
        emit(out, spec.schema, spec.response(page), () => table(page.items, spec.columns, spec.none));
      };
    },
  };
}
