/**
 * Byte-faithful SSE framing for the taps that must drop or rewrite whole events: where a frame (the lines up to
 * and including a blank line) ends, and a frame with its data replaced. Field parsing stays with
 * eventsource-parser; this only finds boundaries, using the same line-ending rules (CRLF, LF, CR).
 */

/**
 * The index just past the blank line that ends the frame starting at `from`, or -1 when the frame is not complete
 * yet. A CR at the very end counts as incomplete (it may be the first half of a CRLF), as in eventsource-parser.
 * `hasCr` says whether `text` contains a CR at all; LF-only streams (OpenAI's) take a single `indexOf`.
 */
export function frameEnd(text: string, from: number, hasCr: boolean): number {
  if (!hasCr) {
    const at = text.indexOf("\n\n", from);
    return at < 0 ? -1 : at + 2;
  }
  let pos = from;
  while (pos < text.length) {
    const cr = text.indexOf("\r", pos);
    const lf = text.indexOf("\n", pos);
    const at = cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf);
    if (at < 0) return -1;
    let next = at + 1;
    if (at === cr) {
      if (next === text.length) return -1;
      if (text.charCodeAt(next) === 0x0a) next++;
    }
    if (at === pos) return next;
    pos = next;
  }
  return -1;
}

const LINE_BREAK = /\r\n|\r|\n/;

/**
 * The frame with all its `data` lines replaced by one `data: <data>` line where the first one was; its other
 * lines (`event`, `id`, `retry`, comments) stay as they were. `data` must hold no CR or LF (JSON.stringify
 * output never does). The result always ends with a blank line.
 */
export function replaceFrameData(frame: string, data: string): string {
  let out = "";
  let placed = false;
  for (const line of frame.split(LINE_BREAK)) {
    if (line === "") continue;
    if (line === "data" || line.startsWith("data:")) {
      if (placed) continue;
      placed = true;
      out += `data: ${data}\n`;
    } else {
      out += `${line}\n`;
    }
  }
  return `${out}\n`;
}
