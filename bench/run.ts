import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";

/**
 * Runs every `bench/*.bench.ts` (or those named on the command line) in its own process and writes their Markdown
 * sections to bench/BENCHMARKS.md with the command and machine that produced them (a run of a subset records only
 * that subset: run them all before committing results). Benchmarks report ratios against a
 * baseline measured in the same run, so numbers from a loaded or different machine still compare.
 */
const wanted = process.argv.slice(2);
const files = readdirSync("bench")
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort();
if (files.length === 0) {
  process.stderr.write(`bench: no benchmark matches ${wanted.join(" ")}\n`);
  process.exit(2);
}

const sections: string[] = [];
for (const file of files) {
  process.stderr.write(`bench: running ${file}\n`);
  const out = execFileSync(process.execPath, ["--import", "tsx", `bench/${file}`], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  process.stdout.write(out);
  sections.push(out.trim());
}

const header = [
  "# Benchmarks",
  "",
  `Last run: ${new Date().toISOString()} — \`npm run bench${wanted.length ? ` -- ${wanted.join(" ")}` : ""}\` — ` +
    `Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? "unknown cpu"}). Client, servers and load ` +
    "generator share the machine: compare ratios, not absolute numbers.",
  "",
];
// Hand-written analysis (what the numbers mean, what stands in the way) survives re-runs in bench/NOTES.md.
const notes = existsSync("bench/NOTES.md") ? ["", readFileSync("bench/NOTES.md", "utf8").trim()] : [];
writeFileSync("bench/BENCHMARKS.md", `${[...header, ...sections, ...notes].join("\n")}\n`);
process.stderr.write("bench: wrote bench/BENCHMARKS.md\n");
