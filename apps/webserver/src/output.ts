import { createColors } from "picocolors";

/** Colours for a terminal only, and never with NO_COLOR (https://no-color.org). */
export const colors = createColors(
  process.stdout.isTTY === true && !process.env.NO_COLOR && process.env.TERM !== "dumb",
);

const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

/** A plain text table: a header and rows, columns padded to their widest cell. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  // Colour codes take no room on screen: measure without them.
  const visible = (text: string) => text.replace(ansi, "").length;
  const widths = header.map((h, i) => Math.max(visible(h), ...rows.map((r) => visible(r[i] ?? ""))));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - visible(cell))))
      .join("  ")
      .trimEnd();
  return [colors.bold(line(header)), ...rows.map(line)].join("\n");
}

/** A state word coloured by how good it is. */
export function state(word: string): string {
  if (word === "connected" || word === "up" || word === "running") return colors.green(word);
  if (word === "failed" || word === "down" || word === "stopped") return colors.red(word);
  return colors.yellow(word);
}

/** An error a command reports to the user; `code` is the exit code (1 error, 2 usage). */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message);
  }
}
