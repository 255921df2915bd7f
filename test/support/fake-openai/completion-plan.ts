import type { Behaviour } from "./types.js";

/** The default assistant text. */
export const DEFAULT_TEXT = "Hello from fake upstream.";

/** Usage in the OpenAI naming, before it is shaped for Responses or Chat Completions. */
export interface PlannedUsage {
  input: number;
  cached: number;
  output: number;
  reasoning: number;
  total: number;
}

/** What the assistant says and how it is reported, independent of the wire format. */
export interface CompletionPlan {
  text: string;
  deltas: string[];
  usage: PlannedUsage;
}

/** Splits text into `parts` pieces of near-equal length (never fewer than one, never empty unless text is). */
function splitEvenly(text: string, parts: number): string[] {
  const count = Math.max(1, Math.min(Math.floor(parts), text.length));
  const size = text.length / count;
  const pieces: string[] = [];
  for (let i = 0; i < count; i++) pieces.push(text.slice(Math.round(i * size), Math.round((i + 1) * size)));
  return pieces;
}

/** One piece per word, each with its trailing whitespace, as real upstreams roughly do. */
function splitByWords(text: string): string[] {
  const words = text.match(/\s*\S+\s*/g);
  return words === null ? [text] : words;
}

/** Resolves the text, its deltas and the usage numbers of a behaviour, applying the defaults. */
export function planCompletion(behaviour: Behaviour | undefined): CompletionPlan {
  const text = behaviour?.text ?? DEFAULT_TEXT;
  const deltas = behaviour?.events === undefined ? splitByWords(text) : splitEvenly(text, behaviour.events);
  const scripted = behaviour?.usage;
  const input = scripted?.input_tokens ?? 12;
  const output = scripted?.output_tokens ?? deltas.length;
  return {
    text,
    deltas,
    usage: {
      input,
      cached: scripted?.cached_tokens ?? 0,
      output,
      reasoning: scripted?.reasoning_tokens ?? 0,
      total: input + output,
    },
  };
}
