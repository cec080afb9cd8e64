import type { LiveMember, MemberInfo } from "./stores.js";

/*
 * Reading what Redis stores, written by this version or another: what a value lacks or cannot be
 * read as gets a safe default rather than an error.
 */

/** A member's announcement as stored; fields another version may lack get safe defaults. */
export function member(text: string, deadline: number): LiveMember {
  let info: Partial<MemberInfo> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null) info = parsed as Partial<MemberInfo>;
  } catch {
    // An unreadable announcement still counts as a live member.
  }
  return {
    incarnation: typeof info.incarnation === "string" ? info.incarnation : "",
    address: typeof info.address === "string" ? info.address : null,
    startedAt: Number(info.startedAt) || 0,
    ttl: Number(info.ttl) || 0,
    avoid: strings(info.avoid),
    avoidHosts: strings(info.avoidHosts),
    ...(typeof info.statusVersion === "number" ? { statusVersion: info.statusVersion } : {}),
    ...(info.joining === true ? { joining: true } : {}),
    ...(info.leaving === true ? { leaving: true } : {}),
    deadline,
  };
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** The endpoint list's entries as stored; an unreadable list reads as empty. */
export function parseEntries(text: string): unknown[] {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value : [];
  } catch {
    return [];
  }
}
