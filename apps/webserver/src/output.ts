import { createColors } from "picocolors";
import stringWidth from "string-width";

/** Colours for a terminal only, and never with NO_COLOR (https://no-color.org). */
export const colors = createColors(
  process.stdout.isTTY === true && !process.env.NO_COLOR && process.env.TERM !== "dumb",
);

/**
 * A plain text table: a header and rows, columns padded to their widest cell as a terminal shows
 * it (a Chinese character takes two columns, colour codes none).
 */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(stringWidth(h), ...rows.map((r) => stringWidth(r[i] ?? ""))));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) =>
        i === cells.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - stringWidth(cell)),
      )
      .join("  ")
      .trimEnd();
  return [colors.bold(line(header)), ...rows.map(line)].join("\n");
}

/** A state word coloured by how good it is, shown as `label` (the word in the user's language). */
export function state(word: string, label = word): string {
  if (word === "connected" || word === "up" || word === "running") return colors.green(label);
  if (word === "failed" || word === "down" || word === "stopped") return colors.red(label);
  return colors.yellow(label);
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
