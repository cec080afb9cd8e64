// Checks each published package's public API against its report (`api/<name>.api.md`), so an
// export cannot change without the change being seen in review. `--update` rewrites the reports.
// Run after `pnpm build`: the reports are made from the packages' `.d.ts` output.
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Extractor, ExtractorConfig } from "@microsoft/api-extractor";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const update = process.argv.includes("--update");
const verbose = process.argv.includes("--verbose");
const folders = [
  ...readdirSync(join(root, "packages")).map((name) => join(root, "packages", name)),
  join(root, "apps", "webserver"),
].filter((folder) => existsSync(join(folder, "package.json")));

let failed = 0;
for (const folder of folders) {
  const pkg = JSON.parse(readFileSync(join(folder, "package.json"), "utf8"));
  if (pkg.private) continue;
  const entry = join(folder, "dist", "index.d.ts");
  if (!existsSync(entry)) {
    console.error(`${pkg.name}: ${entry} is missing; build first (pnpm build)`);
    failed++;
    continue;
  }
  const unscoped = pkg.name.replace(/^@[^/]+\//, "");
  if (update) mkdirSync(join(folder, "api"), { recursive: true });
  const config = ExtractorConfig.prepare({
    configObject: {
      projectFolder: folder,
      mainEntryPointFilePath: entry,
      // Sibling packages resolve to their built `.d.ts`, as for a user (no source condition).
      compiler: {
        overrideTsconfig: {
          compilerOptions: {
            module: "nodenext",
            moduleResolution: "nodenext",
            target: "es2022",
            strict: true,
          },
        },
      },
      apiReport: {
        enabled: true,
        reportFileName: `${unscoped}.api.md`,
        reportFolder: join(folder, "api"),
        reportTempFolder: join(root, "node_modules", ".cache", "api-report", unscoped),
      },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      messages: {
        extractorMessageReporting: {
          // A production run fails on any warning: keep only what the report must answer for.
          default: { logLevel: "none" },
          "ae-forgotten-export": { logLevel: "warning", addToApiReportFile: true },
          "ae-wrong-input-file-type": { logLevel: "warning" },
        },
        tsdocMessageReporting: { default: { logLevel: "none" } },
      },
    },
    configObjectFullPath: join(folder, "api-extractor.json"),
    packageJsonFullPath: join(folder, "package.json"),
  });
  const result = Extractor.invoke(config, {
    localBuild: update,
    showVerboseMessages: false,
    messageCallback: quiet,
  });
  if (!result.succeeded || (!update && result.apiReportChanged)) {
    console.error(
      `${pkg.name}: its public API differs from api/${unscoped}.api.md. If the change is meant, run \`pnpm api:update\` and commit the report.`,
    );
    failed++;
  } else {
    console.log(
      `${pkg.name}: API ${update && result.apiReportChanged ? "report updated" : "matches its report"}`,
    );
  }
}
process.exit(failed ? 1 : 0);

/** Keeps the output to what matters: the report's verdict and real errors. */
function quiet(message) {
  if (message.logLevel === "error" || verbose) return;
  message.handled = true;
}
