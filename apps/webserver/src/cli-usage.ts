import { connectionStates } from "@xiaozhi-connect/core";
import { maxPageSize } from "@xiaozhi-connect/webserver-adapter";
import { InvalidArgumentError } from "commander";
import type { Locale } from "./locale.js";

/** Every state an endpoint can be in: what `status --state` accepts (the API refuses the rest). */
export const endpointStates = connectionStates;

/** What `status`'s options and pages say, in English; {@link usageMessages} has 简体中文 too. */
const en = {
  badPage: (value: string) => `page must be a whole number from 1, got "${value}"`,
  badPerPage: (value: string, max: number) =>
    `per page must be a whole number from 1 to ${max}, got "${value}"`,
  badState: (value: string, states: string) =>
    `state must be one of ${states} (or several, comma-separated), got "${value}"`,
  pastEnd: (page: number, total: number, pages: number, filtered: boolean) =>
    `page ${page} is past the end: ${total} ${filtered ? "matching " : ""}endpoint${total === 1 ? "" : "s"}, ${pages} page${pages === 1 ? "" : "s"}`,
};

const zhCN: typeof en = {
  badPage: (value: string) => `页码必须是从 1 起的整数，收到的是 "${value}"`,
  badPerPage: (value: string, max: number) => `每页条数必须是 1 到 ${max} 之间的整数，收到的是 "${value}"`,
  badState: (value: string, states: string) =>
    `状态必须是 ${states} 之一（多个用逗号分隔），收到的是 "${value}"`,
  pastEnd: (page: number, total: number, pages: number, filtered: boolean) =>
    `第 ${page} 页超出了末页：共 ${total} 个${filtered ? "符合条件的" : ""}接入点，${pages} 页`,
};

/** The usage messages of `status`, in the command line's language. */
export type UsageMessages = typeof en;

/** The usage messages of `locale`. */
export function usageMessages(locale: Locale): UsageMessages {
  return locale === "zh-CN" ? zhCN : en;
}

/** A whole number, spelled as digits only: `1e3`, `0x10` and `2.0` are not what a user means. */
function wholeNumber(value: string): number | undefined {
  const parsed = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  return Number.isSafeInteger(parsed) ? parsed : undefined;
}

/** `--page`: a whole number from 1. */
export function pageNumber(u: UsageMessages) {
  return (value: string): number => {
    const parsed = wholeNumber(value);
    if (parsed === undefined || parsed < 1) throw new InvalidArgumentError(u.badPage(value));
    return parsed;
  };
}

/** `--per-page`: 1 to the largest page the API sends, not silently cut to it. */
export function pageSize(u: UsageMessages) {
  return (value: string): number => {
    const parsed = wholeNumber(value);
    if (parsed === undefined || parsed < 1 || parsed > maxPageSize) {
      throw new InvalidArgumentError(u.badPerPage(value, maxPageSize));
    }
    return parsed;
  };
}

/** `--state`: one state or several, comma-separated, each a state an endpoint can be in. */
export function stateList(u: UsageMessages) {
  return (value: string): string => {
    const states = value
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    const unknown = states.find((s) => !(endpointStates as readonly string[]).includes(s));
    if (unknown !== undefined || states.length === 0) {
      throw new InvalidArgumentError(u.badState(unknown ?? value, endpointStates.join(", ")));
    }
    return states.join(",");
  };
}

/** How many pages `total` endpoints fill at `perPage` a page (one, even when there are none). */
export function pageCount(total: number, perPage: number): number {
  return Math.max(1, Math.ceil(total / perPage));
}
