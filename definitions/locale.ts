/**
 * Choosing a text by a customer's locale. A locale is a BCP 47 tag such as `fr-CA`; the chain for it
 * runs from the most specific tag to the language alone, then to the default, so `fr-CA` tries
 * `fr-CA`, then `fr`, then the default text. Tags are compared without regard to case or to `_`
 * against `-` (`fr_ca` is `fr-CA`), because customer records imported from other tools spell them
 * either way.
 */

/** The normal spelling of a tag: language lower case, region upper case, `-` between parts. */
export function normalLocale(tag: string): string {
  const parts = tag.trim().replace(/_/g, '-').split('-').filter(Boolean);
  return parts
    .map((p, i) => (i === 0 ? p.toLowerCase() : p.length === 2 ? p.toUpperCase() : p.toLowerCase()))
    .join('-');
}

/** The tags to try for `locale`, most specific first, without the default: `fr-CA` gives `fr-CA`, `fr`. */
export function localeChain(locale: string | undefined | null): string[] {
  if (!locale || !locale.trim()) return [];
  const parts = normalLocale(locale).split('-');
  const chain: string[] = [];
  for (let n = parts.length; n > 0; n--) chain.push(parts.slice(0, n).join('-'));
  return chain;
}

/**
 * The first of `available` (tags, in any spelling) that `locale`'s chain reaches, or undefined when
 * none does and the default applies.
 */
export function pickLocale(available: Iterable<string>, locale: string | undefined | null): string | undefined {
  const byNormal = new Map<string, string>();
  for (const tag of available) byNormal.set(normalLocale(tag), tag);
  for (const tag of localeChain(locale)) {
    const found = byNormal.get(tag);
    if (found !== undefined) return found;
  }
  return undefined;
}
