/** The languages the command line speaks. */
export type Locale = "en" | "zh-CN";

/** The values `--lang` accepts, and the locale each one means. */
const spelled: Readonly<Record<string, Locale>> = {
  en: "en",
  "en-us": "en",
  english: "en",
  zh: "zh-CN",
  "zh-cn": "zh-CN",
  cn: "zh-CN",
  chinese: "zh-CN",
};

/** The locale a `--lang` value names, or undefined for one the command line does not speak. */
export function parseLocale(value: string): Locale | undefined {
  return spelled[value.trim().toLowerCase().replace("_", "-")];
}

/**
 * The locale of a command: `--lang` when given (and known), else the POSIX order of the
 * environment (`LC_ALL`, then `LC_MESSAGES`, then `LANG`): Chinese for any `zh…` value, English
 * otherwise. `C` and `POSIX` are English.
 */
export function localeOf(argv: readonly string[], env: NodeJS.ProcessEnv): Locale {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") break;
    const value = arg === "--lang" ? argv[i + 1] : arg.startsWith("--lang=") ? arg.slice(7) : undefined;
    const locale = value === undefined ? undefined : parseLocale(value);
    if (locale) return locale;
  }
  const setting = env.LC_ALL || env.LC_MESSAGES || env.LANG || "";
  return /^zh/i.test(setting) ? "zh-CN" : "en";
}
