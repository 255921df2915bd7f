import type { CommandInput } from "./command-line.js";

/** The API's largest page. */
const MAX_PAGE_SIZE = 500;

/** One page as every paginated List RPC returns it. */
export interface Page<T> {
  items: T[];
  nextPageToken: string;
}

/**
 * Follows next_page_token until the last page, or until `limit` items (0: no limit). Pages are sized so the last
 * one ends exactly at the limit; the returned token then resumes after it (empty when nothing is left).
 */
export async function collectPages<T>(
  limit: number,
  fetchPage: (pageSize: number, pageToken: string) => Promise<Page<T>>,
): Promise<Page<T>> {
  const items: T[] = [];
  let pageToken = "";
  do {
    const pageSize = limit === 0 ? MAX_PAGE_SIZE : Math.min(MAX_PAGE_SIZE, limit - items.length);
    const page = await fetchPage(pageSize, pageToken);
    items.push(...page.items);
    // An empty page that still names a next one would loop forever.
    pageToken = page.items.length === 0 ? "" : page.nextPageToken;
  } while (pageToken !== "" && (limit === 0 || items.length < limit));
  return { items, nextPageToken: pageToken };
}

/** `--limit N` of a list command: at most N items; 0 or absent means all unless the command has its own default. */
export function limitFlag(input: CommandInput, fallback = 0): number {
  return input.int("limit", 0, 1_000_000) ?? fallback;
}

/** The --limit flag's synopsis and note, shared by list commands. */
export const LIMIT_NOTE = "--limit N stops after N items (default: all; the CLI follows next_page_token)";
