/**
 * Texts Rapport itself shows or sends, per locale: the preference centre's page, the answer to an
 * SMS that says HELP. Each set is a folder of YAML files of plain `key: text` pairs: `<set>.yaml` in
 * the default language and `<set>.<locale>.yaml` beside it (`preferences.fr.yaml`,
 * `preferences.fr-CA.yaml`). A locale's text falls back key by key along its chain (`fr-CA`, `fr`,
 * the default), so a variant may give only the texts that differ.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { localeChain, normalLocale } from '../definitions/locale';

export type TextSet = Record<string, string>;

export interface LocalisedTexts {
  /** The texts for `locale`, each from the most specific variant that has it. */
  for(locale: string | undefined | null): TextSet;
  /** The locales that have a variant, in their normal spelling. */
  locales(): string[];
}

/** Why a texts file was refused, naming the file and the key. */
class TextsError extends Error {}

function readSet(file: string): TextSet {
  let data: unknown;
  try {
    data = parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new TextsError(`${file}: not valid YAML (${(e as Error).message.split('\n')[0]})`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) throw new TextsError(`${file}: expected a mapping of key: text`);
  const out: TextSet = {};
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    if (typeof value !== 'string') throw new TextsError(`${file}: "${key}" must be text`);
    out[key] = value;
  }
  return out;
}

/**
 * The set `name` from `dirs`, read once. A later folder's file replaces an earlier one's texts key by
 * key, so a deployment's own folder can reword the built-in texts without copying them all.
 */
export function loadTexts(name: string, ...dirs: string[]): LocalisedTexts {
  const byLocale = new Map<string, TextSet>();
  const pattern = new RegExp(
    `^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:\\.([A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*))?\\.ya?ml$`,
  );
  for (const dir of dirs) {
    let files: string[];
    try {
      files = fs.readdirSync(dir).sort();
    } catch {
      continue;
    }
    for (const file of files) {
      const m = pattern.exec(file);
      if (!m) continue;
      const locale = m[1] ? normalLocale(m[1]) : '';
      byLocale.set(locale, { ...byLocale.get(locale), ...readSet(path.join(dir, file)) });
    }
  }
  return {
    for(locale) {
      const merged: TextSet = { ...byLocale.get('') };
      for (const tag of localeChain(locale).reverse()) Object.assign(merged, byLocale.get(tag));
      return merged;
    },
    locales: () => [...byLocale.keys()].filter(Boolean).sort(),
  };
}
