import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");

/** One section of a README: its heading's level and what it is made of, counted. */
interface Section {
  readonly level: number;
  readonly tables: { rows: number; columns: number }[];
  readonly codeBlocks: string[];
  images: number;
  bullets: number;
  /** Where its links lead within the repository (the language switch aside; a picture in either language). */
  readonly links: string[];
}

/** The structure of a README, section by section, language aside. */
function structure(file: string): Section[] {
  const sections: Section[] = [];
  let current: Section | undefined;
  let fence: string[] | undefined;
  let table: { rows: number; columns: number } | undefined;
  for (const line of readFileSync(join(root, file), "utf8").split("\n")) {
    if (line.startsWith("```")) {
      if (fence) {
        // Commands and configs are the same in every language; comments and placeholders are not.
        current?.codeBlocks.push(
          fence.map((l) => l.replace(/\s+#.*$/, "").replace(/<[^>]*>/g, "<…>")).join("\n"),
        );
        fence = undefined;
      } else fence = [];
      continue;
    }
    if (fence) {
      fence.push(line);
      continue;
    }
    const heading = /^(#+) /.exec(line);
    if (heading) {
      current = {
        level: heading[1]?.length ?? 0,
        tables: [],
        codeBlocks: [],
        images: 0,
        bullets: 0,
        links: [],
      };
      sections.push(current);
      table = undefined;
      continue;
    }
    if (!current) continue;
    if (line.startsWith("|")) {
      if (!table) {
        table = { rows: 0, columns: line.replace(/\\\|/g, "").split("|").length - 2 };
        current.tables.push(table);
      }
      table.rows++;
    } else table = undefined;
    if (line.startsWith("![")) current.images++;
    if (line.startsWith("- ")) current.bullets++;
    for (const [, target] of line.matchAll(/\]\(([^)#]+)(?:#[^)]*)?\)/g)) {
      if (target && !/^README(\.zh-CN)?\.md$/.test(target) && !/^https?:/.test(target))
        current.links.push(target.replace(".zh-CN.png", ".png"));
    }
  }
  return sections;
}

describe("the README in English and in Chinese", () => {
  it("match section for section and row for row", () => {
    const english = structure("README.md");
    const chinese = structure("README.zh-CN.md");
    expect(english.length).toBeGreaterThan(5);
    expect(chinese.map((s) => s.level)).toEqual(english.map((s) => s.level));
    english.forEach((section, i) => {
      const other = chinese[i] as Section;
      expect({ section: i, ...other }).toEqual({ section: i, ...section });
    });
  });

  it("keep the first two commands and say how to install without a clone", () => {
    for (const file of ["README.md", "README.zh-CN.md"]) {
      const text = readFileSync(join(root, file), "utf8");
      expect(text, file).toMatch(
        /```sh\nnpx --yes pnpm@12\.21\.0 install && npx --yes pnpm@12\.21\.0 start .*\nnpx --yes pnpm@12\.21\.0 install && npx --yes pnpm@12\.21\.0 test .*\n```/,
      );
      expect(text, file).toContain(
        "npx --yes pnpm@12.21.0 install && npx --yes pnpm@12.21.0 run install-global",
      );
      // Where an agent's endpoint URL comes from.
      expect(text, file).toMatch(/xiaozhi\.me.*\n?.*MCP 接入点/);
    }
  });
});
