import { randomUUID } from "node:crypto";

/** An OpenAI-looking id such as `resp_3f2a…`: the prefix plus 32 random hex digits. */
export function newId(prefix: string): string {
  return prefix + randomUUID().replaceAll("-", "");
}
