import type { Locale } from "./locale.js";

/**
 * Puts one of the server's texts (why a link dropped, a service is down, the config was refused)
 * in words of the command's language.
 */
export type Explain = ((text: string) => string) & {
  /**
   * An error's code in words, then its text explained, as the dashboard words it; the text alone
   * when it says all the code says. Absent where texts are shown as they are.
   */
  readonly labelled?: (code: string, text: string) => string;
  /** A tool's description in words of the language when the product wrote it (the demo tools'). */
  readonly description?: (text: string) => string;
};

/** English: the server's texts are English already. */
export const asIs: Explain = (text) => text;

/** What the command line uses of the dashboard's `i18n.js` and `reasons.js`. */
interface PageWords {
  setLanguage(tag: string): void;
  plain(segments: unknown): string;
  t(path: string): string;
  dictionaries: { en: { descriptions: Record<string, string> } };
}
interface PageReasons {
  explain(text: string): unknown;
  apiError(code: string, text: string): unknown;
}

let chinese: Promise<Explain> | undefined;

/**
 * How the command line explains the server's texts in `locale`: in 简体中文 by the dashboard's own
 * rules and dictionaries (`public/assets/reasons.js`), so the two never word a reason differently.
 * A text of no known form stays as the server wrote it, and so does every text when the page's
 * files are not at hand.
 */
export function explainerFor(locale: Locale): Promise<Explain> {
  if (locale === "en") return Promise.resolve(asIs);
  chinese ??= load("zh-CN");
  return chinese;
}

async function load(tag: string): Promise<Explain> {
  // Beside `dist/` and `src/` alike: the page's modules are plain ES modules with no DOM in them.
  const assets = new URL("../public/assets/", import.meta.url);
  try {
    const [words, reasons] = (await Promise.all([
      import(new URL("i18n.js", assets).href),
      import(new URL("reasons.js", assets).href),
    ])) as [PageWords, PageReasons];
    words.setLanguage(tag);
    // The product's own descriptions, found by their English text, as the dashboard finds them.
    const own = new Map(Object.entries(words.dictionaries.en.descriptions).map(([key, text]) => [text, key]));
    return Object.assign((text: string) => words.plain(reasons.explain(text)), {
      labelled: (code: string, text: string) => words.plain(reasons.apiError(code, text)),
      description: (text: string) => {
        const key = own.get(text);
        return key === undefined ? text : words.t(`descriptions.${key}`);
      },
    });
  } catch {
    return asIs;
  }
}
