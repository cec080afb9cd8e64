import { XiaozhiError } from "./errors.js";

/** A test an option's value must pass, and what it expects in words, for the error. */
export type OptionRule = readonly [test: (value: unknown) => boolean, expected: string];

const finite = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);
// `Number(process.env.X)` of a missing variable is NaN, and every comparison with NaN is false:
// each test asks for what is valid, so NaN fails all of them.
/** A finite number of ms, 0 or more. */
export const msRule: OptionRule = [(v) => finite(v) && v >= 0, "a finite number of ms, 0 or more"];
/** A finite number of ms above 0. */
export const positiveMsRule: OptionRule = [(v) => finite(v) && v > 0, "a finite number of ms above 0"];

/** A value as an error shows it: options hold numbers, booleans and short words, never secrets. */
export function shownValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "object" && value !== null) return Array.isArray(value) ? "an array" : "an object";
  return String(value);
}

/** Throws `INVALID_CONFIG` (`<name> must be <expected>, got <value>`) when `value` fails `rule`. */
export function checkOption(name: string, rule: OptionRule, value: unknown): void {
  if (!rule[0](value)) {
    throw new XiaozhiError("INVALID_CONFIG", `${name} must be ${rule[1]}, got ${shownValue(value)}`);
  }
}
