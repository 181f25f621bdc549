// Bundles the chat page for embedding: node build.mjs OUT_DIR writes OUT_DIR/index.html and OUT_DIR/assets/, the
// script and style sheet named by their content's hash (so the server can let browsers keep them for good) with the
// bundled packages' licence comments at their end. Everything else in OUT_DIR is removed first.
import * as esbuild from "esbuild";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, "dist"));
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "assets"), { recursive: true });

const result = await esbuild.build({
  entryPoints: { app: join(here, "src/main.js") },
  outdir: join(out, "assets"),
  entryNames: "[name]-[hash]",
  bundle: true,
  format: "esm",
  target: ["es2022", "chrome110", "firefox115", "safari16"],
  minify: true,
  legalComments: "eof",
  metafile: true,
  logLevel: "warning",
});
const outputs = Object.keys(result.metafile.outputs).map((path) => basename(path));
const named = (extension) => {
  const found = outputs.find((name) => name.endsWith(extension));
  if (!found) throw new Error(`esbuild wrote no ${extension} file`);
  return `assets/${found}`;
};
const html = readFileSync(join(here, "src/index.html"), "utf8")
  .replace("%APP_JS%", named(".js")).replace("%APP_CSS%", named(".css"));
writeFileSync(join(out, "index.html"), html);
