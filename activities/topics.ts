/**
 * The subscription topics Rapport knows, and their names per locale: the texts set `topics`
 * (definitions/texts/topics.yaml, `<id>: <name>`, and its locale variants). The default file is the
 * list: validation refuses a topic not in it, and the preference page shows a box for each.
 */
import { builtinTextsDir } from '../paths';
import { loadTexts, type LocalisedTexts } from './texts';

/** The topics texts: the built-in ones, reworded or added to key by key by each folder of `dirs`. */
export function topicTexts(...dirs: (string | undefined)[]): LocalisedTexts {
  return loadTexts('topics', builtinTextsDir, ...dirs.filter((d): d is string => Boolean(d)));
}

/** The ids of the known topics, in the order of the default file. */
export function knownTopics(texts: LocalisedTexts): Set<string> {
  return new Set(Object.keys(texts.for(undefined)));
}
